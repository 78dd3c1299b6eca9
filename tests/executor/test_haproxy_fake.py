"""FakeExecutor's load balancers (`haproxy_fake`): the decisions of the real supervisor (start,
reload on a listener change, runtime commands for a server change, stop with no listener),
statuses with sessions, an unreachable host, a killed HAProxy."""

from __future__ import annotations

import dataclasses

from reconciler.executor import fake, protocol
from reconciler.model import hoststate
from reconciler.model import loadbalancer as lb

H1 = hoststate.HostTarget("h1", "198.18.0.11")
H2 = hoststate.HostTarget("h2", "198.18.0.12")
A = lb.Server("web-1", "198.18.0.12", 20001)
B = lb.Server("web-2", "198.18.0.13", 20002)
L = lb.Listener("shop.web.http", "shop", "web", "http", (8000,), lb.Mode.HTTP, (A,))


def config(*servers: lb.Server, ports: tuple[int, ...] = (8000,)) -> lb.Config:
    return lb.Config((dataclasses.replace(L, servers=servers, ports=ports),))


def test_start_noop_update_reload_stop() -> None:
    ex = fake.FakeExecutor(["h1"])
    first = ex.lb_apply([H1], {"h1": config(A)})["h1"]
    assert first.running and first.started and not first.reloaded and first.pid
    assert [s.server for s in first.servers] == ["web-1"]
    before = ex.stats.mutations
    again = ex.lb_apply([H1], {"h1": config(A)})["h1"]
    assert not again.started and not again.reloaded and ex.stats.mutations == before
    added = ex.lb_apply([H1], {"h1": config(A, B)})["h1"]
    assert not added.reloaded and [s.server for s in added.servers] == ["web-1", "web-2"]
    assert ex.stats.snapshot()["lb_server_change"] == 3  # add, enable health, set state
    moved = ex.lb_apply([H1], {"h1": config(A, B, ports=(8001,))})["h1"]
    assert moved.reloaded and moved.pid != first.pid
    stopped = ex.lb_apply([H1], {})["h1"]
    assert not stopped.running and ex.lb.calls[-1] == "stop h1"
    assert ex.lb_status([H1])["h1"].running is False


def test_drain_state_and_sessions_are_reported() -> None:
    ex = fake.FakeExecutor(["h1"])
    ex.lb_apply([H1], {"h1": config(A, B)})
    ex.lb.set_sessions("h1", L.name, "web-2", 4)
    drained = dataclasses.replace(B, state=lb.ServerState.DRAIN)
    status = ex.lb_apply([H1], {"h1": config(A, drained)})["h1"]
    assert ex.lb.calls[-1] == "runtime h1 set server shop.web.http/web-2 state drain"
    assert status.sessions(L.name, "web-2") == 4
    assert [s.admin_state for s in status.servers] == ["ready", "drain"]
    ex.lb.set_sessions("h1", L.name, "web-2", 0)
    assert ex.lb_status([H1])["h1"].sessions(L.name, "web-2") == 0


def test_killed_balancer_is_started_again() -> None:
    ex = fake.FakeExecutor(["h1"])
    ex.lb_apply([H1], {"h1": config(A)})
    ex.lb.kill("h1")
    assert not ex.lb_status([H1])["h1"].running
    assert ex.lb_apply([H1], {"h1": config(A)})["h1"].started
    assert ex.stats.snapshot()[str(protocol.Mutation.LB_START)] == 2


def test_unreachable_host_is_a_status_not_an_exception() -> None:
    ex = fake.FakeExecutor(["h1", "h2"])
    ex.kill("h2")
    found = ex.lb_apply([H1, H2], {"h1": config(A), "h2": config(A)})
    assert found["h1"].running and not found["h2"].running
    assert "unreachable" in found["h2"].error
    assert "unreachable" in ex.lb_status([H2])["h2"].error


def test_hostile_value_is_an_error_and_changes_nothing() -> None:
    ex = fake.FakeExecutor(["h1"])
    ex.lb_apply([H1], {"h1": config(A)})
    bad = config(dataclasses.replace(A, name="x\nglobal"))
    status = ex.lb_apply([H1], {"h1": bad})["h1"]
    assert status.running and "not a safe" in status.error
    assert ex.lb.configs["h1"] == config(A)
