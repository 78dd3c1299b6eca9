"""A no-op pass asks a verified HAProxy nothing, or only its pid (`haproxy_supervisor.PID_EVERY`,
`VERIFY_EVERY`): the round trips it skips, and the drift still repaired (killed, restarted by
hand, a server or the config file changed by hand), against test_haproxy_supervisor's SimHost."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, cast

import pytest

from reconciler.executor import haproxy_config, haproxy_runtime, haproxy_supervisor, protocol
from reconciler.model import loadbalancer as lb
from tests.executor import test_haproxy_supervisor as sim


class CountingHost(sim.SimHost):
    """SimHost that counts the config file reads and the admin socket opens."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.opens = 0

    async def read_file(self, relative: str) -> bytes | None:
        self.reads += 1
        return await super().read_file(relative)

    async def open_unix(self, path: str) -> haproxy_runtime.Streams:
        self.opens += 1
        return await super().open_unix(path)

    def trips(self) -> int:
        return self.reads + self.opens


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def apply(host: CountingHost, clock: Clock, cfg: lb.Config) -> lb.Status:
    ctx = haproxy_supervisor.Context(cast(Any, host), protocol.ExecutorStats(), clock=clock)
    return asyncio.run(haproxy_supervisor.apply(ctx, cfg))


def verified() -> tuple[CountingHost, Clock]:
    """A host whose HAProxy was started, then fully checked once (nothing to change)."""
    host, clock = CountingHost(), Clock()
    apply(host, clock, sim.config(sim.A, sim.B))
    apply(host, clock, sim.config(sim.A, sim.B))  # the full check that finds nothing to do
    host.reads = host.opens = 0
    host.commands.clear()
    return host, clock


def test_a_noop_asks_nothing_then_only_the_pid() -> None:
    host, clock = verified()
    for _ in range(3):
        clock.now += 4.0  # within PID_EVERY of the full check: no call at all
        status = apply(host, clock, sim.config(sim.A, sim.B))
        assert status.running and status.pid == 100 and not status.error
        assert sim.states(status) == {"web-1": "ready", "web-2": "ready"}
    assert host.trips() == 0
    clock.now += haproxy_supervisor.PID_EVERY  # then the pid alone
    assert apply(host, clock, sim.config(sim.A, sim.B)).pid == 100
    clock.now += 1.0
    apply(host, clock, sim.config(sim.A, sim.B))
    assert host.commands == ["show info"] and host.reads == 0 and host.trips() == 1
    clock.now += haproxy_supervisor.VERIFY_EVERY  # then a full check again: pid, file, servers
    apply(host, clock, sim.config(sim.A, sim.B))
    assert host.commands[1:] == ["show info", "show stat", "show servers state"]
    assert host.reads == 1 and host.trips() == 5


def test_a_noop_does_not_render_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    host, clock = verified()
    rendered: list[lb.Config] = []
    render = haproxy_config.render

    def counting(cfg: lb.Config, paths: haproxy_config.Paths) -> str:
        rendered.append(cfg)
        return render(cfg, paths)

    monkeypatch.setattr(haproxy_config, "render", counting)
    apply(host, clock, sim.config(sim.A, sim.B))  # an equal config, not the same object
    assert rendered == []
    apply(host, clock, sim.config(sim.A))
    assert len(rendered) == 1


def test_before_the_fix_every_noop_read_everything() -> None:
    """What the skip saves: a connection never verified (or after VERIFY_EVERY) reads the
    pid, the config file and both server listings: 4 round trips, not 1."""
    host, clock = verified()
    clock.now += haproxy_supervisor.VERIFY_EVERY
    apply(host, clock, sim.config(sim.A, sim.B))
    assert host.trips() == 4


def test_a_changed_config_is_a_full_pass() -> None:
    host, clock = verified()
    status = apply(host, clock, sim.config(sim.A))
    assert sim.states(status) == {"web-1": "ready"}
    assert "del server shop.web.http/web-2" in host.commands and host.reads == 1


def test_a_killed_haproxy_is_started_by_the_first_pass_after_pid_every() -> None:
    host, clock = verified()
    host.pid = None
    clock.now += 1.0
    assert apply(host, clock, sim.config(sim.A, sim.B)).pid == 100  # not asked yet
    clock.now += haproxy_supervisor.PID_EVERY
    status = apply(host, clock, sim.config(sim.A, sim.B))
    assert status.started and status.pid == 101
    assert sim.states(status) == {"web-1": "ready", "web-2": "ready"}


def test_a_status_read_that_finds_it_killed_makes_the_next_pass_start_it() -> None:
    """`status` (get hosts, the dashboard, lb_status) that sees no HAProxy, or another pid,
    drops the verification: the next pass starts or checks it at once, not after PID_EVERY."""
    host, clock = verified()
    host.pid = None
    clock.now += 1.0
    ctx = haproxy_supervisor.Context(cast(Any, host), protocol.ExecutorStats(), clock=clock)
    assert not asyncio.run(haproxy_supervisor.status(ctx)).running
    status = apply(host, clock, sim.config(sim.A, sim.B))
    assert status.started and status.pid == 101


def test_a_status_read_of_the_same_pid_keeps_the_verification() -> None:
    host, clock = verified()
    ctx = haproxy_supervisor.Context(cast(Any, host), protocol.ExecutorStats(), clock=clock)
    assert asyncio.run(haproxy_supervisor.status(ctx)).pid == 100
    host.reads = host.opens = 0
    clock.now += 1.0
    apply(host, clock, sim.config(sim.A, sim.B))
    assert host.trips() == 0


def test_a_haproxy_restarted_by_hand_is_checked_fully_at_once() -> None:
    """Someone restarted it with their own file: a new pid, so the file and the servers are
    read at once and put right."""
    host, clock = verified()
    host.files["lb/haproxy.cfg"] = host.files["lb/haproxy.cfg"].replace(b"web-2", b"evil-2")
    host.servers = sim.load(host.files["lb/haproxy.cfg"].decode())
    host.pid = 555
    clock.now += haproxy_supervisor.PID_EVERY
    status = apply(host, clock, sim.config(sim.A, sim.B))
    assert status.pid == 555 and sim.states(status) == {"web-1": "ready", "web-2": "ready"}
    assert b"evil-2" not in host.files["lb/haproxy.cfg"] and host.reads == 1


def test_a_server_or_file_changed_by_hand_is_repaired_within_verify_every() -> None:
    host, clock = verified()
    host.servers["shop.web.http"]["web-2"][2] = "maint"  # `set server ... state maint` by hand
    host.files["lb/haproxy.cfg"] = b"# edited by hand\n"
    clock.now += 1.0
    apply(host, clock, sim.config(sim.A, sim.B))  # within VERIFY_EVERY: only the pid
    assert host.servers["shop.web.http"]["web-2"][2] == "maint"
    clock.now += haproxy_supervisor.VERIFY_EVERY
    status = apply(host, clock, sim.config(sim.A, sim.B))
    assert sim.states(status) == {"web-1": "ready", "web-2": "ready"}
    assert host.servers["shop.web.http"]["web-2"][2] == "ready"
    assert host.files["lb/haproxy.cfg"].startswith(haproxy_config.HEADER.encode())


def test_an_error_drops_the_verification() -> None:
    host, clock = verified()
    host.refuse["set server"] = "No such server."
    status = apply(host, clock, sim.config(sim.A, dataclasses.replace(sim.B, port=20009)))
    assert status.running
    host.refuse.clear()
    host.commands.clear()
    host.reads = 0
    apply(host, clock, sim.config(sim.A, dataclasses.replace(sim.B, port=20009)))
    assert host.reads == 1  # checked fully again, not taken as verified


def test_many_server_changes_are_one_reload_not_a_command_each() -> None:
    """40 pods joining at once: one seamless reload (no `add server` round trips), every
    server in rotation; a few changes still go through the runtime API."""
    host, clock = verified()
    many = [lb.Server(f"many-{i}", "198.18.0.14", 21000 + i) for i in range(40)]
    status = apply(host, clock, sim.config(sim.A, sim.B, *many))
    assert status.reloaded and status.pid == 101
    assert not any(c.startswith("add server") for c in host.commands)
    assert len(host.argvs) == 2 and host.argvs[-1][-2:] == ["-sf", "100"]
    assert set(sim.states(status).values()) == {"ready"} and len(status.servers) == 42
    few = apply(host, clock, sim.config(sim.A, sim.B, *many[:-1]))
    assert not few.reloaded and len(host.argvs) == 2
    assert [c for c in host.commands if c.startswith("del server")] == [
        "del server shop.web.http/many-39"
    ]
