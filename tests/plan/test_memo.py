"""The plan memo (`plan.memo`): the last plan is reused only when every input equals the last
call's; any change (a host's pods, the revision, the objects) plans again, and what it gives is
what `pipeline.build_plan` gives."""

from __future__ import annotations

import dataclasses

from reconciler.model import hoststate, objects
from reconciler.plan import memo, pipeline

from . import builders as b

HOSTS = (b.host("h1"), b.host("h2"))


def _desired(replicas: int = 3) -> objects.DesiredState:
    return b.state(*HOSTS, b.deployment("web", replicas=replicas))


def _converged() -> tuple[objects.DesiredState, dict[str, hoststate.HostObservation]]:
    desired = _desired()
    first = pipeline.build_plan(desired, b.observations("h1", "h2"), "rev1")
    return desired, b.apply(first, b.observations("h1", "h2"))


def test_equal_inputs_reuse_the_last_plan() -> None:
    desired, seen = _converged()
    plans = memo.Memo()
    first = plans.build_plan(desired, seen, "rev1")
    assert first.plan.empty and len(first.runs) == 3
    again = plans.build_plan(desired, dict(seen), "rev1")  # an equal copy, not the same dict
    assert again is first
    assert (plans.hits, plans.misses) == (1, 1)


def test_a_changed_input_plans_again_as_build_plan_does() -> None:
    desired, seen = _converged()
    plans = memo.Memo()
    plans.build_plan(desired, seen, "rev1")
    pod = seen["h1"].pods[0]
    gone = {**seen, "h1": dataclasses.replace(seen["h1"], pods=seen["h1"].pods[1:])}
    changed = plans.build_plan(desired, gone, "rev1")
    assert changed == pipeline.build_plan(desired, gone, "rev1")
    assert [a.kind for a in changed.plan.actions] == [hoststate.ActionKind.CREATE]
    assert changed.plan.actions[0].name == pod.name
    scaled = plans.build_plan(_desired(4), seen, "rev1")
    assert len(scaled.plan.actions) == 1 and len(scaled.runs) == 4
    other = plans.build_plan(_desired(4), seen, "rev2")
    assert other is not scaled and other.revision == "rev2"
    assert (plans.hits, plans.misses) == (0, 4)


def test_desired_state_kind_lists_are_computed_once_and_not_shared() -> None:
    desired = _desired()
    assert desired.hosts is desired.hosts  # cached
    assert [h.meta.name for h in desired.hosts] == ["h1", "h2"]
    fewer = objects.DesiredState.of([HOSTS[0]])
    assert [h.meta.name for h in fewer.hosts] == ["h1"]
    assert desired == b.state(*HOSTS, b.deployment("web", replicas=3))  # the cache is not compared
