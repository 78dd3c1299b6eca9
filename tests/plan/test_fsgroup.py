"""A pod's fsGroup and supplementalGroups in the plan: every container gets the groups, the run
carries fsGroup for its volumes, and both are in the spec hash (a change recreates the pod)."""

from __future__ import annotations

import dataclasses

from reconciler.model import hoststate, objects, security
from reconciler.plan import pipeline
from tests.plan import builders as b


def _state(context: security.SecurityContext | None) -> objects.DesiredState:
    pod = b.pod("solo", b.spec(b.container("app"), b.container("side"),
                               security_context=context), namespace="shop")  # fmt: skip
    return b.state(b.namespace("shop"), pod, dataclasses.replace(b.host("h1")))


def _run(context: security.SecurityContext | None) -> hoststate.PodRun:
    (run,) = pipeline.build_plan(_state(context), b.observations("h1"), "rev1").runs
    return run


def test_every_container_gets_fs_group_then_supplemental_groups() -> None:
    run = _run(security.SecurityContext(run_as_user=1000, fs_group=2000,
                                        supplemental_groups=(3000, 2000)))  # fmt: skip
    assert run.fs_group == 2000
    assert [c.security.groups for c in run.containers] == [(2000, 3000), (2000, 3000)]
    assert run.containers[0].security.user == "1000"


def test_fs_group_and_supplemental_groups_change_the_spec_hash() -> None:
    plain = _run(None)
    user_only = _run(security.SecurityContext(run_as_user=1000))
    assert plain.fs_group is None and plain.containers[0].security.groups == ()
    with_group = _run(security.SecurityContext(run_as_user=1000, fs_group=2000))
    other_group = _run(security.SecurityContext(run_as_user=1000, fs_group=2001))
    supplemental = _run(security.SecurityContext(run_as_user=1000, supplemental_groups=(5,)))
    hashes = {r.spec_hash for r in (plain, user_only, with_group, other_group, supplemental)}
    assert len(hashes) == 5


def test_groups_alone_are_not_volume_owners() -> None:
    run = _run(security.SecurityContext(supplemental_groups=(5,)))
    assert run.fs_group is None and run.containers[0].security.groups == (5,)
