"""The host-health ping of `PodmanSSHExecutor` and its session, without test hosts: a fake
Podman client behind a real `HostSession`. A ping is one `/_ping` (none when the connection
just answered); a ping that times out while other calls on the connection are answered leaves
the session (and the calls in flight on it) alone; one that times out on a silent connection
breaks it, as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.executor import errors, hostsession, loop, podman_ssh, protocol, sshconn
from reconciler.model import hoststate

TARGET = hoststate.HostTarget("h1", "198.18.0.11", 22, "rc-h1")


class _Connection:
    closed = False
    local_socket = "/nonexistent/podman.sock"
    remote_socket = "/run/user/1000/podman/podman.sock"

    async def close(self, *, graceful: bool = True) -> None:
        self.closed = True


class _Response:
    status_code = 200
    text = "OK"

    def json(self) -> list[Any]:
        return []


class _Podman:
    """Podman's API as the session's client sees it. `busy`: while a ping waits, another call
    on the connection (a pod listing of the reconcile, a create) is answered; `silent`: the
    ping gets no answer in time."""

    def __init__(self, session: hostsession.HostSession) -> None:
        self.session = session
        self.busy = False
        self.silent = False
        self.paths: list[str] = []

    def get(self, path: str, **kwargs: Any) -> _Response:
        self.paths.append(path)
        if path == "/_ping" and self.silent:
            if self.busy:
                self.session.api.list_pods({})  # answered while the ping waits
            raise requests.ReadTimeout("read timed out")
        return _Response()


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[tuple[podman_ssh.PodmanSSHExecutor, _Podman]]:
    known_hosts, key_file = tmp_path / "known_hosts", tmp_path / "id_ed25519"
    known_hosts.write_text("")
    key_file.write_text("")
    ex = podman_ssh.PodmanSSHExecutor(known_hosts, key_file, connect_timeout=2)
    runner = loop.LoopThread("test-ping")
    options = hostsession.Options(ssh=sshconn.SSHSettings(known_hosts, key_file))
    session = hostsession.HostSession(
        TARGET, options, runner, _Connection(), protocol.ExecutorStats()  # type: ignore[arg-type]
    )
    podman = _Podman(session)
    session.api._api = podman  # type: ignore[assignment]
    ex._hosts.sessions["h1"] = session
    try:
        yield ex, podman
    finally:
        ex.close()
        runner.stop()


def test_a_ping_is_one_round_trip_and_none_when_the_connection_just_answered(
    executor: tuple[podman_ssh.PodmanSSHExecutor, _Podman],
) -> None:
    ex, podman = executor
    assert ex.answer_age("h1") is None  # nothing answered yet
    assert ex.ping(TARGET) is None
    assert podman.paths == ["/_ping"]
    age = ex.answer_age("h1")
    assert age is not None and age < podman_ssh.FRESH_ANSWER
    assert ex.ping(TARGET) is None  # it answered a moment ago: no second round trip
    assert podman.paths == ["/_ping"]
    assert ex.answer_age("h9") is None  # no connection at all


def test_a_ping_timing_out_while_other_calls_answer_keeps_the_session(
    executor: tuple[podman_ssh.PodmanSSHExecutor, _Podman],
) -> None:
    """50 busy hosts: a ping past connect_timeout dropped the host's session, aborting every
    create in flight on it ("SSH connection lost during create container", 608 times)."""
    ex, podman = executor
    podman.silent = podman.busy = True
    session = ex._hosts.sessions["h1"]
    assert ex.ping(TARGET) is None  # the host answers other calls: alive, busy
    assert not session.broken and ex._hosts.sessions["h1"] is session
    assert ex._live_session(TARGET) is session  # the reconcile's calls go on on it
    with pytest.raises(errors.HostUnreachable) as raised:
        session.ping()
    assert raised.value.timed_out and "a busy host" in str(raised.value)
    assert not session.broken


def test_a_ping_timing_out_on_a_silent_connection_breaks_the_session(
    executor: tuple[podman_ssh.PodmanSSHExecutor, _Podman],
) -> None:
    ex, podman = executor
    podman.silent = True
    session = ex._hosts.sessions["h1"]
    error = ex.ping(TARGET)
    assert error is not None and "no answer in time" in error and "busy" not in error
    assert session.broken  # replaced by the next call
    assert ex.answer_age("h1") is None
