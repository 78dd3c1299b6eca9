"""Executor: the only layer that touches hosts. `protocol.HostExecutor` is the contract;
`podman_ssh.PodmanSSHExecutor` drives rootless Podman over SSH; `fake.FakeExecutor` is the
in-memory twin for controller and CLI tests. Callers see `hoststate` values and `errors`.
"""

from reconciler.executor import charsetdefer

charsetdefer.install()  # before any executor module imports requests
