"""haproxy_supervisor against a simulated host (`SimHost`: the files, the fixed commands and an
HAProxy that answers the runtime API): start when dead, runtime commands for server changes,
reload on listener changes, stop, refused reloads and refused deletes, the argv it runs."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from reconciler.executor import (
    errors,
    haproxy_config,
    haproxy_runtime,
    haproxy_supervisor,
    lbports,
    protocol,
    sshconn,
)
from reconciler.model import hoststate
from reconciler.model import loadbalancer as lb

STATE_DIR = "/home/rc-h1/.local/share/reconciler"
SERVER_LINE = re.compile(r"    server (\S+) (\S+):(\d+) check inter 1s fall 2 rise 1( disabled)?")
Servers = dict[str, dict[str, list[Any]]]  # listener -> server -> [address, port, admin state]


class SimHost:
    """A host whose HAProxy runs in memory: `haproxy -D` loads the written config file."""

    def __init__(self) -> None:
        self.target = hoststate.HostTarget("h1", "198.18.0.11", 22, "rc-h1")
        self.settings = sshconn.SSHSettings(Path("/k"), Path("/i"), command_timeout=5)
        self.state_dir = STATE_DIR
        self.files: dict[str, bytes] = {}
        self.pid: int | None = None
        self.next_pid = 100
        self.servers: Servers = {}
        self.argvs: list[list[str]] = []
        self.commands: list[str] = []
        self.refuse_start = ""
        self.refuse: dict[str, str] = {}  # command prefix -> HAProxy's reply
        self.port_start = "1024"  # /proc/sys/net/ipv4/ip_unprivileged_port_start
        self.local_routes = "local 127.0.0.0/8 dev lo\nlocal 198.19.128.0/17 dev lo scope host\n"
        self.soft_stop = False  # after the stop signal, one more socket open still answers
        self.opens_left: int | None = None

    # ----- HostLink ----------------------------------------------------------------------------

    async def open_unix(self, path: str) -> haproxy_runtime.Streams:
        assert path == f"{STATE_DIR}/lb/admin.sock"
        if self.opens_left is not None:
            if self.opens_left == 0:
                self.pid, self.opens_left = None, None
            else:
                self.opens_left -= 1
        if self.pid is None:
            raise errors.OperationFailed(f"connect to {path}", "Connection refused")
        stream = SimStream(self)
        return cast(Any, stream), cast(Any, stream)

    async def run_argv(self, argv: Sequence[str], timeout: float) -> tuple[int, str]:
        self.argvs.append(list(argv))
        if tuple(argv) == lbports.READ:
            return (0, self.port_start + "\n") if self.port_start else (1, "cat: no such file")
        if tuple(argv) == lbports.ROUTES:
            return 0, self.local_routes
        if argv[0] == "kill":
            assert argv[1:] == ["-USR1", str(self.pid)]
            if self.soft_stop:
                self.opens_left = 1
            else:
                self.pid = None
            return 0, ""
        assert argv[:6] == ["/usr/sbin/haproxy", "-D", "-f", f"{STATE_DIR}/lb/haproxy.cfg",
                            "-p", f"{STATE_DIR}/lb/haproxy.pid"]  # fmt: skip
        if len(argv) > 6:
            assert argv[6:] == ["-x", f"{STATE_DIR}/lb/admin.sock", "-sf", str(self.pid)]
        if self.refuse_start:
            return 1, f"[NOTICE] x\n[ALERT]    (1) : {self.refuse_start}\n"
        self.servers = load(self.files["lb/haproxy.cfg"].decode())
        self.pid, self.next_pid = self.next_pid, self.next_pid + 1
        return 0, ""

    async def read_file(self, relative: str) -> bytes | None:
        return self.files.get(relative)

    async def write_files(self, files: Sequence[hoststate.HostFile]) -> int:
        for file in files:
            assert file.mode == 0o600
            self.files[file.path] = file.content
        return len(files)

    # ----- the simulated runtime API -----------------------------------------------------------

    def answer(self, line: str) -> str:
        self.commands.append(line)
        for prefix, reply in self.refuse.items():
            if line.startswith(prefix):
                return reply
        words = line.split()
        if line == "show info":
            return f"Name: HAProxy\nPid: {self.pid}\n"
        if line == "show stat":
            rows = ["# pxname,svname,scur,status,addr"]
            rows += [f"{lst},{name},0,UP,{s[0]}:{s[1]}" for lst, srv in self.servers.items()
                     for name, s in srv.items()]  # fmt: skip
            return "\n".join(rows) + "\n\n"
        if line == "show servers state":
            bits = {"ready": 0, "drain": 8, "maint": 1}
            rows = [f"1 {lst} 1 {name} {s[0]} 2 {bits[s[2]]} 1 1" for lst, srv in
                    self.servers.items() for name, s in srv.items()]  # fmt: skip
            return "1\n# be_id be_name ...\n" + "\n".join(rows) + "\n\n"
        listener, _, server = words[2].partition("/")
        if words[:2] == ["add", "server"]:
            address, _, port = words[3].rpartition(":")
            self.servers[listener][server] = [address, int(port), "maint"]
            return "New server registered.\n"
        if words[:2] == ["set", "server"] and words[3] == "state":
            self.servers[listener][server][2] = words[4]
        elif words[:2] == ["set", "server"] and words[3] == "addr":
            self.servers[listener][server][:2] = [words[4], int(words[6])]
        elif words[:2] == ["del", "server"]:
            del self.servers[listener][server]
            return "Server deleted.\n"
        return "\n"


class SimStream:
    def __init__(self, host: SimHost) -> None:
        self.host = host
        self.reply = b""

    def write(self, data: bytes) -> None:
        self.reply = self.host.answer(data.decode().strip()).encode()

    def write_eof(self) -> None:
        pass

    async def read(self, n: int) -> bytes:
        out, self.reply = self.reply[:n], self.reply[n:]
        return out

    def close(self) -> None:
        pass


def load(text: str) -> Servers:
    """The servers a config file declares, as HAProxy loads them (`disabled`: maintenance)."""
    out: Servers = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("listen "):
            current = line.split()[1]
            out[current] = {}
        found = SERVER_LINE.fullmatch(line)
        if found:
            name, address, port, disabled = found.groups()
            out[current][name] = [address, int(port), "maint" if disabled else "ready"]
    return out


A = lb.Server("web-1", "198.18.0.12", 20001)
B = lb.Server("web-2", "198.18.0.13", 20002)
L = lb.Listener("shop.web.http", "shop", "web", "http", (8000,), lb.Mode.HTTP, (A,))


def config(*servers: lb.Server, ports: tuple[int, ...] = (8000,)) -> lb.Config:
    return lb.Config((dataclasses.replace(L, servers=servers, ports=ports),))


def apply(host: SimHost, cfg: lb.Config) -> lb.Status:
    ctx = haproxy_supervisor.Context(host, protocol.ExecutorStats())
    return asyncio.run(haproxy_supervisor.apply(ctx, cfg))


def states(status: lb.Status) -> dict[str, str]:
    return {s.server: s.admin_state for s in status.servers}


def test_start_then_noop_then_runtime_changes() -> None:
    host = SimHost()
    first = apply(host, config(A))
    assert first.started and first.running and first.pid == 100 and states(first) == {
        "web-1": "ready"
    }
    assert host.files["lb/haproxy.cfg"].startswith(haproxy_config.HEADER.encode())
    host.commands.clear()
    again = apply(host, config(A))
    assert not again.started and not again.reloaded and again.pid == 100
    assert [c for c in host.commands if not c.startswith("show")] == []
    added = apply(host, config(A, dataclasses.replace(B, state=lb.ServerState.DRAIN)))
    assert not added.reloaded and states(added) == {"web-1": "ready", "web-2": "drain"}
    assert [c for c in host.commands if not c.startswith("show")] == [
        "add server shop.web.http/web-2 198.18.0.13:20002 check inter 1s fall 2 rise 1",
        "enable health shop.web.http/web-2",
        "set server shop.web.http/web-2 state drain",
    ]
    assert b"server web-2 198.18.0.13:20002" in host.files["lb/haproxy.cfg"]  # kept for restarts
    removed = apply(host, config(B))
    assert states(removed) == {"web-2": "ready"} and removed.pid == 100
    assert len(host.argvs) == 1  # one start, nothing else run


def test_listener_change_is_a_reload_and_drained_servers_come_back_drained() -> None:
    host = SimHost()
    apply(host, config(A, B))
    drained = dataclasses.replace(B, state=lb.ServerState.DRAIN)
    moved = apply(host, config(A, drained, ports=(8000, 30080)))
    assert moved.reloaded and moved.pid == 101
    assert states(moved) == {"web-1": "ready", "web-2": "drain"}  # `disabled`, then drained
    assert host.argvs[-1][-4:] == ["-x", f"{STATE_DIR}/lb/admin.sock", "-sf", "100"]


def test_dead_haproxy_is_started_again() -> None:
    host = SimHost()
    apply(host, config(A))
    host.pid = None
    status = apply(host, config(A))
    assert status.started and status.pid == 101


def test_no_listener_stops_it() -> None:
    host = SimHost()
    apply(host, config(A))
    host.commands.clear()
    stopped = apply(host, lb.Config())
    assert not stopped.running and not stopped.error and host.argvs[-1] == ["kill", "-USR1", "100"]
    assert not apply(host, lb.Config()).running and len(host.argvs) == 2


def test_a_soft_stopping_haproxy_is_stopped() -> None:
    """After the stop signal HAProxy may answer `show info` and then close its socket before
    `show stat`: that is a stopped HAProxy, not an error (it was, in CI)."""
    host = SimHost()
    apply(host, config(A))
    host.soft_stop = True
    stopped = apply(host, lb.Config())
    assert not stopped.running and not stopped.error
    host.pid, host.opens_left = 100, 1
    ctx = haproxy_supervisor.Context(host, protocol.ExecutorStats())
    status = asyncio.run(haproxy_supervisor.status(ctx))
    assert not status.running and host.pid is None
    assert not apply(host, lb.Config()).running and len(host.argvs) == 2


def test_refused_start_is_an_error_status() -> None:
    host = SimHost()
    host.refuse_start = "cannot bind socket (Address already in use) for [0.0.0.0:8081]"
    status = apply(host, config(A, ports=(8081,)))
    assert not status.running and "start failed" in status.error
    assert "[0.0.0.0:8081]" in status.error


def test_refused_reload_keeps_the_old_process_and_its_file() -> None:
    host = SimHost()
    apply(host, config(A))
    before = host.files["lb/haproxy.cfg"]
    host.refuse_start = "cannot bind socket"
    failed = apply(host, config(A, ports=(8081,)))
    assert failed.running and failed.pid == 100 and "reload failed" in failed.error
    assert host.files["lb/haproxy.cfg"] == before
    host.refuse_start = ""
    assert not apply(host, config(A)).reloaded


def test_refused_delete_falls_back_to_a_reload() -> None:
    host = SimHost()
    apply(host, config(A, B))
    host.refuse["del server"] = "Server still has connections attached to it, cannot remove it.\n"
    status = apply(host, config(A))
    assert status.reloaded and states(status) == {"web-1": "ready"} and status.pid == 101


def test_hostile_value_changes_nothing() -> None:
    host = SimHost()
    apply(host, config(A))
    before = dict(host.files)
    host.commands.clear()
    status = apply(host, config(dataclasses.replace(A, name="x;del server a/b")))
    assert status.running and "not a safe" in status.error
    assert host.files == before and len(host.argvs) == 1
    assert all(c.startswith("show") for c in host.commands)


@pytest.mark.parametrize("home", ["/home/a b", "/home/x;rm -rf ~"])
def test_unsafe_state_dir_is_an_error_before_any_command(home: str) -> None:
    host = SimHost()
    host.state_dir = home
    status = apply(host, config(A))
    assert not status.running and "not a safe" in status.error and host.argvs == []


WEB80 = dataclasses.replace(L, ports=(80, 30080))
API = lb.Listener("shop.api.http", "shop", "api", "http", (8001,), lb.Mode.HTTP, (B,))


def test_a_port_below_the_hosts_unprivileged_start_is_left_out_and_reported() -> None:
    host = SimHost()
    status = apply(host, lb.Config((API, WEB80)))
    assert status.running and status.started
    text = host.files["lb/haproxy.cfg"].decode()
    assert "bind :8001" in text and "bind :30080" in text and "bind :80\n" not in text
    assert "Service shop/web port 80 is not served on this host" in status.error
    assert "ip_unprivileged_port_start is 1024" in status.error
    assert "bootstrap-host.sh --unprivileged-port-start 80" in status.error
    assert [a for a in host.argvs if tuple(a) == lbports.READ]  # read only because of port 80


def test_a_host_that_allows_the_port_binds_it() -> None:
    host = SimHost()
    host.port_start = "80"
    status = apply(host, lb.Config((API, WEB80)))
    assert status.running and status.error == ""
    assert "bind :80\n" in host.files["lb/haproxy.cfg"].decode()


def test_the_setting_is_not_read_without_a_low_port() -> None:
    host = SimHost()
    apply(host, lb.Config((API,)))
    assert not [a for a in host.argvs if tuple(a) == lbports.READ]


def test_an_unreadable_setting_means_1024() -> None:
    host = SimHost()
    host.port_start = ""
    status = apply(host, lb.Config((API, dataclasses.replace(L, ports=(443,)))))
    assert "bind :443" not in host.files["lb/haproxy.cfg"].decode()
    assert "port 443 is not served" in status.error
    assert lbports.parse(0, " 80\n") == 80 and lbports.parse(0, "x") == 1024


def test_a_listener_left_with_no_port_is_left_out_whole() -> None:
    kept, refused = lbports.split(lb.Config((API, dataclasses.replace(L, ports=(80,)))), 1024)
    assert [item.name for item in kept.listeners] == ["shop.api.http"]
    assert len(refused) == 1


def test_the_setting_is_read_once_per_connection_within_reread() -> None:
    """The daemon applies every pass: one read per REREAD seconds on a connection, a new
    connection (a reconnect) reads at once."""
    host = SimHost()
    host.port_start = "80"
    clock = [100.0]

    def reads(link: SimHost) -> int:
        return sum(tuple(a) == lbports.READ for a in link.argvs)

    async def floor(link: SimHost) -> int:
        return await lbports.first_unprivileged(link, 5, lambda: clock[0])

    assert asyncio.run(floor(host)) == 80
    host.port_start = "1024"
    clock[0] += lbports.REREAD - 1
    assert asyncio.run(floor(host)) == 80 and reads(host) == 1
    clock[0] += 1
    assert asyncio.run(floor(host)) == 1024 and reads(host) == 2
    other = SimHost()
    assert asyncio.run(floor(other)) == 1024 and reads(other) == 1


SHARED_A = lb.Listener("shop.a.http", "shop", "a", "http", (8080,), lb.Mode.HTTP, (B,),
                       address="198.19.200.1", address_ports=(8080,))  # fmt: skip
SHARED_B = dataclasses.replace(SHARED_A, name="shop.b.http", service="b", address="198.19.200.2")


def test_ports_shared_on_cluster_ips_bind_where_the_cidr_is_local() -> None:
    host = SimHost()
    status = apply(host, lb.Config((API, SHARED_A, SHARED_B)))
    assert status.running and status.error == ""
    text = host.files["lb/haproxy.cfg"].decode()
    assert "bind 198.19.200.1:8080\n" in text and "bind 198.19.200.2:8080\n" in text
    assert [a for a in host.argvs if tuple(a) == lbports.ROUTES]


def test_a_cluster_ip_the_host_does_not_route_is_left_out_and_reported() -> None:
    host = SimHost()
    host.local_routes = "local 127.0.0.0/8 dev lo\n"
    status = apply(host, lb.Config((API, SHARED_A, SHARED_B)))
    assert status.running and status.started
    text = host.files["lb/haproxy.cfg"].decode()
    assert "bind :8001" in text and "198.19.200" not in text
    assert "Service shop/a port 8080 is not served on this host" in status.error
    assert "cluster IP 198.19.200.1 only" in status.error
    assert "bootstrap-host.sh --service-cidr" in status.error


def test_the_routes_are_not_read_without_a_cluster_ip_bind() -> None:
    host = SimHost()
    apply(host, lb.Config((API,)))
    assert not [a for a in host.argvs if tuple(a) == lbports.ROUTES]
    assert lbports.local_networks(1, "local 10.0.0.0/8 dev lo") == ()
    assert lbports.local_networks(0, "broadcast 10.255.255.255 dev lo\nlocal x dev lo\n") == ()
