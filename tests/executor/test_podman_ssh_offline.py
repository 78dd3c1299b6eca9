"""PodmanSSHExecutor without test hosts: refused connections, host-key and login failures against
a throwaway local asyncssh server, unknown hosts, and the executor's life cycle."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from reconciler.executor import errors, loop, podman_ssh
from reconciler.model import hoststate
from tests.executor.test_podmanspec import make_run

Outcome = hoststate.Outcome


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    client = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    client.write_private_key(str(key_file))
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    return known_hosts, key_file


@pytest.fixture
def server() -> Iterator[tuple[int, asyncssh.SSHKey]]:
    """A local SSH server that accepts no one (host key known to the test)."""
    runner = loop.LoopThread("test-sshd")
    host_key = asyncssh.generate_private_key("ssh-ed25519")

    async def start() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen("127.0.0.1", 0, server_host_keys=[host_key])

    acceptor = runner.run(start())
    try:
        yield acceptor.get_port(), host_key
    finally:
        acceptor.close()
        runner.stop()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def executor(known_hosts: Path, key_file: Path) -> podman_ssh.PodmanSSHExecutor:
    return podman_ssh.PodmanSSHExecutor(known_hosts, key_file, connect_timeout=2)


def test_refused_connection_is_unreachable_and_its_actions_skipped(keys: tuple[Path, Path]) -> None:
    target = hoststate.HostTarget("h1", "127.0.0.1", closed_port(), "deploy")
    with executor(*keys) as ex:
        started = time.monotonic()
        observation = ex.observe([target])["h1"]
        assert time.monotonic() - started < 2
        assert not observation.reachable
        assert "host h1: unreachable at deploy@127.0.0.1" in observation.error
        assert "left as they are" in observation.error
        run = make_run()
        create = hoststate.Action(
            hoststate.ActionKind.CREATE, "h1", run.namespace, run.name, run=run
        )
        elsewhere = make_run(host="h9")
        unknown = hoststate.Action(
            hoststate.ActionKind.CREATE, "h9", "shop", "web-1", run=elsewhere
        )
        seen: list[hoststate.ActionResult] = []
        skipped, failed = ex.apply(hoststate.Plan((create, unknown)), [target], seen.append)
        assert skipped.outcome is Outcome.SKIPPED and "unreachable" in skipped.message
        assert failed.outcome is Outcome.FAILED and "no Host named 'h9'" in failed.message
        assert sorted(r.outcome for r in seen) == sorted([Outcome.SKIPPED, Outcome.FAILED])
        assert ex.stats.mutations == 0


def test_unknown_host_key_is_refused_naming_the_file(
    keys: tuple[Path, Path], server: tuple[int, asyncssh.SSHKey]
) -> None:
    known_hosts, key_file = keys
    port, _host_key = server
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    known_hosts.write_text(f"[127.0.0.1]:{port} {impostor}")
    with executor(known_hosts, key_file) as ex:
        observation = ex.observe([hoststate.HostTarget("h1", "127.0.0.1", port, "deploy")])["h1"]
    assert not observation.reachable
    assert f"host key verification failed for deploy@127.0.0.1:{port}" in observation.error
    offered = f"ssh-ed25519 {_host_key.get_fingerprint('sha256')}"
    expected = asyncssh.import_public_key(impostor).get_fingerprint("sha256")
    assert f"it offered {offered}; the known_hosts file {known_hosts} expects ssh-ed25519 " \
        f"{expected}" in observation.error, observation.error


def test_known_host_refusing_our_key_is_an_auth_error(
    keys: tuple[Path, Path], server: tuple[int, asyncssh.SSHKey]
) -> None:
    known_hosts, key_file = keys
    port, host_key = server
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key.export_public_key().decode()}")
    with executor(known_hosts, key_file) as ex:
        observation = ex.observe([hoststate.HostTarget("h1", "127.0.0.1", port, "deploy")])["h1"]
    assert not observation.reachable
    assert "SSH login as 'deploy' refused" in observation.error
    assert f"{key_file}.pub" in observation.error


def test_closed_executor_refuses_work_and_closes_twice(keys: tuple[Path, Path]) -> None:
    ex = executor(*keys)
    ex.close()
    ex.close()
    with pytest.raises(errors.ExecutorError, match="closed"):
        ex.observe([hoststate.HostTarget("h1", "127.0.0.1", closed_port())])
