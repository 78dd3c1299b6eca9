"""Drift repair says what happened: a pod whose containers were removed by hand is replaced
because "container app missing" (not "spec changed"), and a pod removed by hand comes back as
a `DriftRestored` event saying "pod missing"."""

from __future__ import annotations

import dataclasses

from reconciler.controllers import status
from reconciler.model import base, hoststate
from reconciler.plan import diff
from reconciler.state import conditions as cond


def _run(*containers: str) -> hoststate.PodRun:
    return hoststate.PodRun(
        namespace="shop", name="web-0", host="h1", spec_hash="aaa", labels=base.FrozenMap(),
        containers=tuple(hoststate.ContainerRun(c, "busybox") for c in containers),
    )  # fmt: skip


def _seen(*containers: str, spec_hash: str = "") -> hoststate.ObservedPod:
    return hoststate.ObservedPod(
        "shop", "web-0", "h1", "id", spec_hash,
        containers=tuple(hoststate.ObservedContainer(c, f"cid-{c}", "busybox", "running")
                         for c in containers),
    )  # fmt: skip


def _plan(run: hoststate.PodRun, *seen: hoststate.ObservedPod) -> hoststate.Plan:
    return diff.compute([run], {"h1": hoststate.HostObservation("h1", True, seen)})


def test_a_container_removed_by_hand_is_named() -> None:
    (action,) = _plan(_run("app"), _seen()).actions
    assert (action.kind, action.reason) == (hoststate.ActionKind.REPLACE, "container app missing")
    (action,) = _plan(_run("app", "log", "proxy"), _seen("app")).actions
    assert action.reason == "containers log, proxy missing"
    event = status.event(action, drift=True)
    assert event[2] == cond.Reason.DRIFT_RESTORED
    assert event[3] == "replace on h1: containers log, proxy missing"


def test_a_changed_spec_is_still_a_spec_change() -> None:
    (action,) = _plan(_run("app"), _seen("app", spec_hash="old")).actions
    assert action.reason == "spec changed"


def test_a_pod_removed_by_hand_is_a_missing_pod_in_the_event() -> None:
    (action,) = _plan(_run("app")).actions
    assert (action.kind, action.reason) == (hoststate.ActionKind.CREATE, "not running")
    assert status.event(action, drift=True)[3] == "create on h1: pod missing"
    assert status.event(action, drift=False)[3] == "create on h1: not running"  # first deploy
    moved = dataclasses.replace(action, reason="moved from h2")
    assert status.event(moved, drift=True)[3] == "create on h1: moved from h2"
