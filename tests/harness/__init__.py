"""Test hosts on this machine: network namespaces with sshd and rootless Podman (see lab.py)."""
