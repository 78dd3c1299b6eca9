"""Peers benchmark: the reconciler against Ansible, pyinfra and a plain-podman floor (issue 6)."""
