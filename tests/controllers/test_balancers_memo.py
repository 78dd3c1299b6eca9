"""The endpoints controller asks `headless.configs` again only when the state, the observations
or the pods draining differ from the last call's (a no-op resync reuses every host's config),
and the servers in rotation are read once per set of applied configs."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from reconciler.controllers import balancers
from reconciler.model import hoststate, loadbalancer, objects
from reconciler.plan import headless
from tests.plan import builders as b


def test_configs_are_computed_again_only_when_an_input_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    real = headless.configs

    def counted(*args: Any, **kw: Any) -> dict[str, loadbalancer.Config]:
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(headless, "configs", counted)
    state = objects.DesiredState.of([b.host("h1"), b.host("h2")])
    pod = hoststate.ObservedPod("default", "web-1", "h1", "id1", "hash")
    seen = b.observations("h1", "h2", pods=(pod,))
    ctl = balancers.Balancers()
    first = ctl._configs(state, seen, frozenset())
    assert ctl._configs(state, dict(seen), frozenset()) is first  # equal: not asked again
    assert len(calls) == 1
    moved = {**seen, "h1": dataclasses.replace(seen["h1"], pods=())}
    ctl._configs(state, moved, frozenset())
    ctl._configs(state, moved, frozenset({("default", "web-1")}))
    ctl._configs(objects.DesiredState.of([b.host("h1")]), moved, frozenset({("default", "web-1")}))
    assert len(calls) == 4


def test_servers_in_rotation_follow_the_applied_configs() -> None:
    def config(*servers: tuple[str, loadbalancer.ServerState]) -> loadbalancer.Config:
        listener = loadbalancer.Listener(
            name="shop.web.http", namespace="shop", service="web", port_name="http",
            ports=(8000,), servers=tuple(loadbalancer.Server(pod, "10.0.0.1", 30000 + i, state)
                                         for i, (pod, state) in enumerate(servers)),
        )  # fmt: skip
        return loadbalancer.Config(listeners=(listener,))

    ready, draining = loadbalancer.ServerState.READY, loadbalancer.ServerState.DRAIN
    ctl = balancers.Balancers()
    ctl.configs["h1"] = config(("web-1", ready), ("web-2", draining))
    assert ctl.endpoints("shop", "web") == ["10.0.0.1:30000"]
    ctl.configs["h1"] = config(("web-1", ready), ("web-2", ready))
    assert ctl.endpoints("shop", "web") == ["10.0.0.1:30000", "10.0.0.1:30001"]
    assert ctl.endpoints("shop", "other") == []
