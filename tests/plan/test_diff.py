"""diff.compute: create, replace, delete, unchanged; moves; unreachable hosts; held pods; order."""

from __future__ import annotations

import dataclasses

from reconciler.model import base, hoststate
from reconciler.plan import diff

K = hoststate.ActionKind


def _run(name: str, host: str, spec_hash: str = "aaa") -> hoststate.PodRun:
    return hoststate.PodRun(
        namespace="default",
        name=name,
        host=host,
        spec_hash=spec_hash,
        labels=base.FrozenMap(),
        containers=(hoststate.ContainerRun("app", "nginx"),),
    )


def _seen(name: str, host: str, spec_hash: str = "aaa") -> hoststate.ObservedPod:
    return hoststate.ObservedPod("default", name, host, f"id-{name}", spec_hash)


def _hosts(
    *pods: hoststate.ObservedPod, up: tuple[str, ...] = ("h1", "h2"), down: tuple[str, ...] = ()
) -> dict[str, hoststate.HostObservation]:
    out = {h: hoststate.HostObservation(h, True, tuple(p for p in pods if p.host == h)) for h in up}
    for h in down:
        out[h] = hoststate.HostObservation(h, False, tuple(p for p in pods if p.host == h), "down")
    return out


def _brief(plan: hoststate.Plan) -> list[tuple[str, str, str, str]]:
    return [(a.kind.value, a.host, a.name, a.reason) for a in plan.actions]


def test_create_replace_unchanged_and_prune() -> None:
    plan = diff.compute(
        [_run("new", "h1"), _run("same", "h1"), _run("changed", "h2", "bbb")],
        _hosts(_seen("same", "h1"), _seen("changed", "h2"), _seen("gone", "h2")),
    )
    assert _brief(plan) == [
        ("create", "h1", "new", "not running"),
        ("delete", "h2", "gone", "not desired"),
        ("replace", "h2", "changed", "spec changed"),
    ]
    assert plan.unchanged == (("h1", "default", "same"),)
    replace = plan.actions[2]
    assert replace.run is not None and replace.observed is not None


def test_nothing_to_do_is_an_empty_plan() -> None:
    plan = diff.compute([_run("a", "h1")], _hosts(_seen("a", "h1")))
    assert plan.empty and plan.unchanged == (("h1", "default", "a"),)


def test_move_is_delete_on_old_host_and_create_on_new() -> None:
    plan = diff.compute([_run("a", "h2")], _hosts(_seen("a", "h1")))
    assert _brief(plan) == [
        ("delete", "h1", "a", "moved to h2 (desired on h2)"),
        ("create", "h2", "a", "moved from h1"),
    ]


def test_extra_copies_are_deleted() -> None:
    plan = diff.compute([_run("a", "h1")], _hosts(_seen("a", "h1"), _seen("a", "h2")))
    assert _brief(plan) == [("delete", "h2", "a", "extra copy (desired on h1)")]


def test_unreachable_host_pods_are_never_deleted() -> None:
    observed = _hosts(_seen("orphan", "h3"), _seen("a", "h3"), down=("h3",))
    plan = diff.compute([_run("a", "h1")], observed)
    assert _brief(plan) == [("create", "h1", "a", "not running")]
    assert all(action.host != "h3" for action in plan.actions)


def test_run_bound_to_unreachable_host_plans_nothing_and_deletes_no_copy() -> None:
    plan = diff.compute([_run("a", "h3")], _hosts(_seen("a", "h1"), down=("h3",)))
    assert plan.empty


def test_held_pods_are_not_pruned() -> None:
    plan = diff.compute(
        [], _hosts(_seen("keep", "h1"), _seen("drop", "h1")), held=frozenset({("default", "keep")})
    )
    assert _brief(plan) == [("delete", "h1", "drop", "not desired")]


def test_actions_sorted_by_host_then_delete_replace_create() -> None:
    plan = diff.compute(
        [_run("c", "h2"), _run("b", "h1", "new"), _run("a", "h1")],
        _hosts(_seen("b", "h1"), _seen("z", "h1"), _seen("y", "h2")),
    )
    assert [(a.host, a.kind.value, a.name) for a in plan.actions] == [
        ("h1", "delete", "z"),
        ("h1", "replace", "b"),
        ("h1", "create", "a"),
        ("h2", "delete", "y"),
        ("h2", "create", "c"),
    ]


def test_replace_reason_names_changed_parts() -> None:
    run = hoststate.PodRun(
        namespace="default",
        name="a",
        host="h1",
        spec_hash="new",
        labels=base.FrozenMap({"reconciler.dev/spec-parts": "container/app=2222,pod=1111"}),
        containers=(),
    )
    seen = hoststate.ObservedPod(
        "default",
        "a",
        "h1",
        "id",
        "old",
        labels=base.FrozenMap({"reconciler.dev/spec-parts": "container/app=3333,pod=1111"}),
    )
    plan = diff.compute([run], _hosts(seen))
    assert _brief(plan) == [("replace", "h1", "a", "spec changed: container/app")]


def _with_container(
    pod: hoststate.ObservedPod, state: str, exit_code: int = 0
) -> hoststate.ObservedPod:
    container = hoststate.ObservedContainer("app", "cid", "nginx", state, exit_code)
    return dataclasses.replace(pod, containers=(container,))


def test_a_down_container_is_not_a_reason_to_replace_its_pod() -> None:
    """Restarting it (with back-off) is the pod lifecycle controller's job: its RESTART actions
    come in as `extra`; diff never replaces an up-to-date pod for a container that is down."""
    stopped = _with_container(_seen("a", "h1"), "exited", 137)
    assert diff.compute([_run("a", "h1")], _hosts(stopped)).empty
    restart = hoststate.Action(K.RESTART, "h1", "shop", "a", observed=stopped, container="app")
    plan = diff.compute([_run("a", "h1")], _hosts(stopped), extra=[restart])
    assert [(a.kind, a.wave) for a in plan.actions] == [(K.RESTART, diff.WAVE_START)]
