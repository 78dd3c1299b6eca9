"""What opening a host's connection asks of the host (`sshconn.HostConnection._prepare`, with a
fake asyncssh connection): the probe, then the forward; an SFTP session only when the probe
cannot tell where Podman's socket is (another socket path), or on the first file operation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from reconciler.executor import errors, sshconn
from reconciler.model import hoststate

TARGET = hoststate.HostTarget("h1", "198.18.0.11", user="u")


class FakeSFTP:
    def __init__(self, present: set[str]) -> None:
        self.present = present

    async def exists(self, path: str) -> bool:
        return path in self.present


class FakeConn:
    def __init__(self, probe: str, present: set[str] | None = None) -> None:
        self.probe = probe
        self.present = present or set()
        self.calls: list[str] = []

    async def run(self, command: str, **_: Any) -> Any:
        self.calls.append("run")
        return type("Done", (), {"stdout": self.probe})()

    async def start_sftp_client(self) -> FakeSFTP:
        self.calls.append("sftp")
        return FakeSFTP(self.present)

    async def forward_local_path(self, local: str, remote: str) -> None:
        self.calls.append(f"forward {remote}")


def _open(conn: FakeConn, socket: str = sshconn.DEFAULT_PODMAN_SOCKET) -> sshconn.HostConnection:
    settings = sshconn.SSHSettings(Path("/k"), Path("/id"), podman_socket=socket)
    fake: Any = conn  # stands in for asyncssh.SSHClientConnection
    return asyncio.run(sshconn.HostConnection._prepare(TARGET, settings, fake, "/tmp/l.sock"))


def _probe(*, socket: bool) -> str:
    marker = f"{sshconn.SOCKET_MARKER}\n" if socket else ""
    return f"{sshconn.PROBE_MARKER}\n/run/user/7\n/home/u\n/usr/bin/podman\n{marker}"


def test_the_default_socket_found_by_the_probe_needs_no_sftp() -> None:
    conn = FakeConn(_probe(socket=True))
    opened = _open(conn)
    assert conn.calls == ["run", "forward /run/user/7/podman/podman.sock"]
    assert opened.remote_socket == "/run/user/7/podman/podman.sock"


def test_no_default_socket_is_a_clear_error() -> None:
    conn = FakeConn(_probe(socket=False))
    with pytest.raises(errors.PodmanUnavailable, match="no such socket"):
        _open(conn)
    assert conn.calls == ["run", "sftp"]


def test_another_socket_path_is_looked_for_over_sftp() -> None:
    conn = FakeConn(_probe(socket=True), present={"/home/u/p.sock"})
    opened = _open(conn, "{home}/p.sock")
    assert conn.calls == ["run", "sftp", "forward /home/u/p.sock"]
    assert opened.remote_socket == "/home/u/p.sock"


def test_sftp_starts_on_the_first_file_operation_only_once() -> None:
    conn = FakeConn(_probe(socket=True))
    opened = _open(conn)

    async def twice() -> None:
        await opened._sftp_client()
        await opened._sftp_client()

    asyncio.run(twice())
    assert conn.calls.count("sftp") == 1
