"""Data cases: every folder in tests/cases/scheduler/ is scheduled by both implementations,
with its input lists in the given order and shuffled, and must give expected.json exactly."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from reconciler.scheduler import placement, reference
from reconciler.scheduler.inputs import HostInfo, PodRequest
from reconciler.scheduler.result import Placement

from . import casefiles

Scheduler = Callable[[Iterable[HostInfo], Iterable[PodRequest]], Placement]
IMPLEMENTATIONS: dict[str, Scheduler] = {
    "placement": placement.schedule,
    "reference": reference.schedule,
}
CASES = casefiles.case_dirs()


def test_every_scenario_is_present() -> None:
    names = {case.name for case in CASES}
    assert len(names) >= 14
    for case in CASES:
        assert (case / "expected.json").exists(), f"{case.name} has no expected.json"


@pytest.mark.parametrize("implementation", sorted(IMPLEMENTATIONS))
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case(case: Path, implementation: str) -> None:
    schedule = IMPLEMENTATIONS[implementation]
    hosts, pods = casefiles.load_input(case)
    expected = casefiles.load_expected(case)

    result = schedule(hosts, pods)

    assert casefiles.render(result) == expected
    placed_or_not = set(result.bindings) | {entry.pod for entry in result.unschedulable}
    assert placed_or_not == {pod.key for pod in pods}
    assert len(result.bindings) + len(result.unschedulable) == len(pods)


@pytest.mark.parametrize("implementation", sorted(IMPLEMENTATIONS))
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_ignores_input_order(case: Path, implementation: str) -> None:
    schedule = IMPLEMENTATIONS[implementation]
    hosts, pods = casefiles.load_input(case)
    expected = casefiles.load_expected(case)
    rng = random.Random(case.name)
    for _ in range(5):
        rng.shuffle(hosts)
        rng.shuffle(pods)
        assert casefiles.render(schedule(hosts, pods)) == expected
