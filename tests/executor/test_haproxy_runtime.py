"""haproxy_runtime: parsing HAProxy's answers (`show stat`, `show servers state`, `show info`),
the commands that converge a listener's servers, the client over a stream, and that no value
can add a second command (newline or `;`)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any, cast

import pytest

from reconciler.executor import errors, haproxy_runtime
from reconciler.model import loadbalancer as lb

# Captured from HAProxy 2.6.12 on a test host (show stat's columns after `addr` trimmed).
CASES = Path(__file__).parent.parent / "cases" / "haproxy"
STAT = (CASES / "show_stat.csv").read_text()
STATE = (CASES / "show_servers_state.txt").read_text()
INFO = "Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nPid: 8975\nUptime_sec: 4\n\n"


def test_servers_joins_stat_and_admin_state() -> None:
    found = haproxy_runtime.servers(STAT, STATE)
    assert found == (
        lb.ServerStatus("t1", "a", "198.18.0.12", 18998, "drain", "DOWN", 3),
        lb.ServerStatus("t1", "b", "198.18.0.13", 18998, "maint", "MAINT", 0),
        lb.ServerStatus("t1", "c", "198.18.0.12", 2, "ready", "UP 1/2", 0),
    )


def test_admin_state_bits() -> None:
    line = "2 t1 1 a 1.2.3.4 0 {} 1 1 4 8 2 0 6 0 0 0 - 1 - 0 0 - - 0"
    cases = {0: "ready", 1: "maint", 2: "maint", 4: "ready", 8: "drain", 16: "drain",
             0x20: "maint", 0x0C: "drain", 0x09: "maint"}  # fmt: skip
    for bits, state in cases.items():
        assert haproxy_runtime.parse_admin_states(line.format(bits)) == {("t1", "a"): state}


def test_garbage_parses_to_nothing() -> None:
    assert haproxy_runtime.servers("", "") == ()
    assert haproxy_runtime.servers("Unknown command\n", "x y z\n") == ()
    assert haproxy_runtime.parse_info("") == {}


def test_parse_info() -> None:
    info = haproxy_runtime.parse_info(INFO)
    assert info["Pid"] == "8975" and info["Version"] == "2.6.12-1+deb12u4"


# ----- commands --------------------------------------------------------------------------------

A = lb.Server("web-1", "198.18.0.12", 20001)
B = lb.Server("web-2", "198.18.0.13", 20002)
L = lb.Listener("shop.web.http", "shop", "web", "http", (8000,), lb.Mode.HTTP, (A, B))


def running(*servers: lb.Server, listener: str = L.name) -> list[lb.ServerStatus]:
    return [
        lb.ServerStatus(listener, s.name, s.address, s.port, str(s.state), "UP", 0)
        for s in servers
    ]


def test_no_commands_when_in_step() -> None:
    assert haproxy_runtime.commands_for(L, running(A, B)) == []


def test_new_server_is_added_checked_and_enabled() -> None:
    assert haproxy_runtime.commands_for(L, running(A)) == [
        "add server shop.web.http/web-2 198.18.0.13:20002 check inter 1s fall 2 rise 1",
        "enable health shop.web.http/web-2",
        "set server shop.web.http/web-2 state ready",
    ]


def test_new_draining_server_is_added_drained() -> None:
    drained = dataclasses.replace(B, state=lb.ServerState.DRAIN)
    out = haproxy_runtime.commands_for(dataclasses.replace(L, servers=(A, drained)), running(A))
    assert out[-1] == "set server shop.web.http/web-2 state drain"


def test_state_and_address_changes() -> None:
    drained = dataclasses.replace(B, state=lb.ServerState.DRAIN)
    moved = dataclasses.replace(A, address="198.18.0.11", port=20009)
    listener = dataclasses.replace(L, servers=(moved, drained))
    assert haproxy_runtime.commands_for(listener, running(A, B)) == [
        "set server shop.web.http/web-1 addr 198.18.0.11 port 20009",
        "set server shop.web.http/web-2 state drain",
    ]


def test_maint_server_goes_back_to_ready() -> None:
    stat = [dataclasses.replace(s, admin_state="maint") for s in running(A, B)]
    assert haproxy_runtime.commands_for(L, stat) == [
        "set server shop.web.http/web-1 state ready",
        "set server shop.web.http/web-2 state ready",
    ]


def test_gone_server_is_taken_out_then_deleted() -> None:
    listener = dataclasses.replace(L, servers=(A,))
    assert haproxy_runtime.commands_for(listener, running(A, B)) == [
        "set server shop.web.http/web-2 state maint",
        "shutdown sessions server shop.web.http/web-2",
        "del server shop.web.http/web-2",
    ]


def test_other_listeners_are_ignored() -> None:
    assert haproxy_runtime.commands_for(L, [*running(A, B), *running(A, listener="x")]) == []


@pytest.mark.parametrize("bad", ["a;b", "a\nshow info", "a b", "a#b", "", "a/b", "a'b"])
def test_hostile_names_never_become_commands(bad: str) -> None:
    for server in (dataclasses.replace(A, name=bad), dataclasses.replace(A, address=bad)):
        with pytest.raises(lb.UnsafeTokenError):
            haproxy_runtime.commands_for(dataclasses.replace(L, servers=(server,)), [])
    with pytest.raises(lb.UnsafeTokenError):
        haproxy_runtime.commands_for(dataclasses.replace(L, name=bad), [])
    with pytest.raises(lb.UnsafeTokenError):
        haproxy_runtime.remove_server(L.name, bad)


@pytest.mark.parametrize("line", ["show info; del server a/b", "show info\ndel server a/b",
                                  "show\rinfo", "show\0info", "show\tinfo"])  # fmt: skip
def test_one_command_per_line(line: str) -> None:
    with pytest.raises(lb.UnsafeTokenError):
        haproxy_runtime.check_command(line)


def test_set_state_refuses_unknown_states() -> None:
    with pytest.raises(lb.UnsafeTokenError):
        haproxy_runtime.set_state(L.name, "web-1", "ready; del server x/y")


# ----- the client over a stream ----------------------------------------------------------------


class FakeSocket:
    """An admin socket: records what was written, answers `replies[command]`."""

    def __init__(self, replies: dict[str, str], refuse: bool = False) -> None:
        self.replies = replies
        self.refuse = refuse
        self.sent: list[bytes] = []
        self._pending = b""

    async def open(self) -> haproxy_runtime.Streams:
        if self.refuse:
            raise errors.OperationFailed("connect to /x/admin.sock", "Connection refused")
        return cast(Any, self), cast(Any, self)

    def write(self, data: bytes) -> None:
        self.sent.append(data)
        self._pending = self.replies.get(data.decode().strip(), "Unknown command.\n").encode()

    def write_eof(self) -> None:
        pass

    async def read(self, n: int) -> bytes:
        out, self._pending = self._pending[:n], self._pending[n:]
        return out

    def close(self) -> None:
        pass


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_client_reads_pid_and_servers() -> None:
    sock = FakeSocket({"show info": INFO, "show stat": STAT, "show servers state": STATE})
    api = haproxy_runtime.RuntimeAPI(sock.open)
    assert run(api.pid()) == 8975
    assert len(run(api.servers())) == 3
    assert sock.sent == [b"show info\n", b"show stat\n", b"show servers state\n"]


def test_refused_socket_means_not_running() -> None:
    api = haproxy_runtime.RuntimeAPI(FakeSocket({}, refuse=True).open)
    assert run(api.pid()) is None
    with pytest.raises(haproxy_runtime.NotRunning):
        run(api.command("show stat"))


def test_refusals_raise_with_haproxy_words() -> None:
    sock = FakeSocket({"del server t1/a": "Only servers in maintenance mode can be deleted.\n",
                       "add server t1/a 1.2.3.4:5": "New server registered.\n",
                       "set server t1/a state ready": "\n"})  # fmt: skip
    api = haproxy_runtime.RuntimeAPI(sock.open)
    run(api.run("add server t1/a 1.2.3.4:5"))
    run(api.run("set server t1/a state ready"))
    with pytest.raises(haproxy_runtime.RuntimeCommandError, match="maintenance mode"):
        run(api.run("del server t1/a"))


def test_client_refuses_two_commands_before_sending() -> None:
    sock = FakeSocket({})
    with pytest.raises(lb.UnsafeTokenError):
        run(haproxy_runtime.RuntimeAPI(sock.open).command("show info;show stat"))
    assert sock.sent == []
