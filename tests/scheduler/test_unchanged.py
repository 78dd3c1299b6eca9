"""The shortcut for a reconcile with nothing to place: it answers exactly what the numpy
scheduler answers whenever it answers at all, and importing the planner does not import numpy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings

from reconciler.scheduler import placement, unchanged
from reconciler.scheduler.inputs import HostInfo, PodRequest
from tests.scheduler import test_equivalence as eq

GI = 1 << 30


@settings(max_examples=300, deadline=None)
@given(hosts=eq.hosts_strategy(), pods=eq.pods_strategy())
def test_when_it_answers_it_answers_like_the_scheduler(
    hosts: list[HostInfo], pods: list[PodRequest]
) -> None:
    shortcut = unchanged.all_kept(hosts, pods)
    if shortcut is not None:
        assert shortcut == placement.schedule(hosts, pods)


def _host(name: str, ready: bool = True) -> HostInfo:
    return HostInfo(name, ready=ready, cpu_millis=1000, memory_bytes=GI)


def test_every_pod_on_its_ready_host_is_kept_even_overcommitted() -> None:
    hosts = [_host("a"), _host("b")]
    pods = [
        PodRequest("ns/p2", bound_host="b", cpu_millis=5000),
        PodRequest("ns/p1", bound_host="a"),
    ]
    kept = unchanged.all_kept(hosts, pods)
    assert kept is not None
    assert dict(kept.bindings) == {"ns/p1": "a", "ns/p2": "b"}
    assert kept == placement.schedule(hosts, pods)


@pytest.mark.parametrize("bound", [None, "gone", "down"])
def test_a_pod_to_place_leaves_it_to_the_scheduler(bound: str | None) -> None:
    hosts = [_host("a"), _host("down", ready=False)]
    pods = [PodRequest("ns/p1", bound_host="a"), PodRequest("ns/p2", bound_host=bound)]
    assert unchanged.all_kept(hosts, pods) is None


def test_duplicates_are_refused_as_the_scheduler_refuses_them() -> None:
    with pytest.raises(ValueError, match="duplicate host"):
        unchanged.all_kept([_host("a"), _host("a")], [])
    with pytest.raises(ValueError, match="duplicate pod key"):
        unchanged.all_kept([_host("a")], [PodRequest("ns/p", bound_host="a")] * 2)


def test_the_planner_imports_numpy_only_to_place_pods() -> None:
    probe = (
        "import json, sys; import reconciler.plan.binding; print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "numpy" not in json.loads(done.stdout)
