"""The rollout tracker hashes a pod template object once (a revision loaded once hands the same
templates to every resync); another template object, even an equal one, is hashed itself, and
the step of a Deployment given the hash plans as without it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from reconciler.controllers import deployment as deploymentctl
from reconciler.controllers import rollouts
from reconciler.model import base
from reconciler.plan import expand
from tests.plan import builders as b


def test_a_template_is_hashed_once_per_object(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = expand.template_hash

    def counted(*args: Any) -> str:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(expand, "template_hash", counted)
    web = b.deployment("web", replicas=2)
    tracker = rollouts.Tracker()
    first = tracker.target(web, 1000.0)
    assert tracker.target(web, 1001.0).template_hash == first.template_hash == real(web.template)
    assert len(calls) == 1
    other = dataclasses.replace(web.template)  # equal, another object
    assert tracker.template_hash(other) == first.template_hash and len(calls) == 2
    labels = base.FrozenMap({**web.template.labels, "tier": "web"})
    changed = dataclasses.replace(web, template=dataclasses.replace(web.template, labels=labels))
    assert tracker.target(changed, 1002.0).template_hash != first.template_hash


def test_a_step_given_the_hash_is_the_step_without_it() -> None:
    web = b.deployment("web", replicas=2)
    digest = expand.template_hash(web.template)
    given = deploymentctl.step(web, web.template, (), 1000.0, digest=digest)
    assert given == deploymentctl.step(web, web.template, (), 1000.0)
    assert given.template_hash == digest and len(given.pods) == 2
