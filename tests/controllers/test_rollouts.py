"""Rollout progress across reconciles: the progress deadline, rollback to the last template that
was fully available (and its end when git changes the template), history and conditions; both
with the in-memory history and the state database's."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from reconciler.controllers import deployment as ctl
from reconciler.controllers import rollouts
from reconciler.model import base, workloads
from reconciler.state import conditions as cond
from reconciler.state import rolloutstore
from reconciler.state import store as storemod
from tests.controllers import test_deployment as td

GOOD = "web:1"
BAD = "web:2"


def _d(image: str, rollback: bool = True) -> workloads.Deployment:
    d = dataclasses.replace(td._deployment(image=image), progress_deadline_seconds=30)
    if rollback:
        meta = dataclasses.replace(
            d.meta, annotations=base.FrozenMap({workloads.ROLLBACK_ON_FAILURE: "true"})
        )
        d = dataclasses.replace(d, meta=meta)
    return d


@pytest.fixture(params=["memory", "sqlite"])
def history(request: pytest.FixtureRequest, tmp_path: Path) -> rollouts.History:
    if request.param == "memory":
        return rollouts.MemoryHistory()
    store = storemod.Store(storemod.path_in(tmp_path))
    request.addfinalizer(store.close)
    return rolloutstore.RolloutStore(store)


def _progressing(status: rollouts.Status) -> cond.Condition:
    (found,) = [c for c in status.conditions if c.type == cond.ConditionType.PROGRESSING]
    return found


def test_deadline_stalls_then_rolls_back_to_the_last_available_template(
    history: rollouts.History,
) -> None:
    good, bad = _d(GOOD), _d(BAD)
    templates = {"c1": good.template, "c2": bad.template}
    tracker = rollouts.Tracker(history, lambda rev, ns, name: templates.get(rev))
    now = td.NOW
    # c1 rolls out completely
    target = tracker.target(good, now)
    step = ctl.step(good, target.template, td._new(good, 4), now)
    status = tracker.record(good, target, step, "c1", now)
    assert status.complete and _progressing(status).reason == cond.Reason.NEW_REPLICA_SET_AVAILABLE
    # c2's new pod never becomes ready
    running = td._new(good, 4)
    target = tracker.target(bad, now + 1)
    assert target.template == bad.template and not target.stalled
    stuck = running + td._new(bad, 1, ready=False)
    status = tracker.record(bad, target, ctl.step(bad, target.template, stuck, now + 1), "c2",
                            now + 1)  # fmt: skip
    assert not status.failed
    later = now + 40
    status = tracker.record(bad, target, ctl.step(bad, target.template, stuck, later), "c2",
                            later)  # fmt: skip
    assert status.failed
    assert _progressing(status).reason == cond.Reason.PROGRESS_DEADLINE_EXCEEDED
    assert "c2" in _progressing(status).message
    # the next reconcile rolls back to c1's template, and says which commit to revert
    target = tracker.target(bad, later + 1)
    assert target.template == good.template and target.rollback is not None
    step = ctl.step(bad, target.template, stuck, later + 1)
    assert [p.name for p in step.remove] == [stuck[-1].name]  # the failing new pod goes
    status = tracker.record(bad, target, step, "c2", later + 1)
    assert _progressing(status).reason == cond.Reason.ROLLED_BACK
    assert "git revert c2" in _progressing(status).message
    # it stays rolled back until git changes the template again
    assert tracker.target(bad, later + 100).template == good.template
    fixed = _d("web:3")
    assert tracker.target(fixed, later + 101).template == fixed.template
    assert history.rollback(fixed.meta.namespace, fixed.meta.name) is None
    hashes = [r.template_hash for r in history.history(good.meta.namespace, good.meta.name)]
    assert hashes[:2] == [td.expand.template_hash(good.template),
                          td.expand.template_hash(bad.template)]  # fmt: skip


def test_without_the_annotation_a_stuck_rollout_stays_stuck(history: rollouts.History) -> None:
    good, bad = _d(GOOD, rollback=False), _d(BAD, rollback=False)
    tracker = rollouts.Tracker(history, lambda rev, ns, name: good.template)
    tracker.record(good, tracker.target(good, 0), ctl.step(good, good.template,
                   td._new(good, 4), 0), "c1", 0)  # fmt: skip
    stuck = td._new(good, 4) + td._new(bad, 1, ready=False)
    target = tracker.target(bad, 1)
    tracker.record(bad, target, ctl.step(bad, bad.template, stuck, 1), "c2", 1)
    tracker.record(bad, target, ctl.step(bad, bad.template, stuck, 100), "c2", 100)
    target = tracker.target(bad, 101)
    assert target.stalled and target.rollback is None and target.template == bad.template
    step = ctl.step(bad, target.template, stuck, 101, stalled=True)
    assert not step.remove  # the old pods keep serving


def test_progress_resets_the_deadline(history: rollouts.History) -> None:
    d = _d(BAD, rollback=False)
    tracker = rollouts.Tracker(history)
    pods = td._old(d, 4, since=-100.0)
    for second in range(0, 200, 20):  # a new pod becomes available every 20 s
        target = tracker.target(d, second)
        step = ctl.step(d, target.template, pods, second)
        status = tracker.record(d, target, step, "c", second)
        assert not status.failed
        if step.complete:
            break
        new = [td._pod(d, p.name, step.template_hash, since=second) for p in step.pods]
        pods = [*step.keep, *new]
    assert status.complete
