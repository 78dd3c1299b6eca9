"""Pod features of real manifests (issue 17) in the plan: hostAliases reach the PodRun ahead of
the Service names, and are part of the spec hash (a changed alias recreates the pod)."""

from __future__ import annotations

import dataclasses

from reconciler.model import base, objects
from reconciler.plan import pipeline
from tests.plan import builders as b

ALIASES = (("db.internal", "198.18.0.20"),)


def _state(aliases: tuple[tuple[str, str], ...], *extra: objects.Object) -> objects.DesiredState:
    pod = b.pod("solo", b.spec(host_aliases=aliases), namespace="shop")
    h1 = dataclasses.replace(b.host("h1"), address="198.18.0.11")
    return b.state(b.namespace("shop"), pod, h1, *extra)


def _run(state: objects.DesiredState) -> tuple[tuple[tuple[str, str], ...], str]:
    (run,) = pipeline.build_plan(state, b.observations("h1"), "rev1").runs
    return run.host_aliases, run.spec_hash


def test_host_aliases_come_first_then_service_names() -> None:
    meta = base.ObjectMeta(name="web", namespace="shop")
    svc = objects.Service(meta, base.FrozenMap({"app": "web"}), (objects.ServicePort(8000, 80),))
    aliases, _ = _run(_state(ALIASES, svc))
    assert aliases[0] == ("db.internal", "198.18.0.20")
    assert ("web", "198.18.0.11") in aliases


def test_host_aliases_are_hashed_and_absent_ones_change_no_hash() -> None:
    plain, plain_hash = _run(_state(()))
    assert plain == ()
    _, with_alias = _run(_state(ALIASES))
    _, other_alias = _run(_state((("db.internal", "198.18.0.21"),)))
    assert len({plain_hash, with_alias, other_alias}) == 3
