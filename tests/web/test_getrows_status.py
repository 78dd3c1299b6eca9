"""`get pods` STATUS as kubectl shows it: Running, Pending, and for a pod whose containers all
ended their terminated reason (Completed, Error), not the phase's Succeeded or Failed."""

from __future__ import annotations

import pytest

from reconciler.model import hoststate
from reconciler.web import getrows

P = hoststate.PodPhase


def _pod(phase: hoststate.PodPhase, *exits: int) -> hoststate.ObservedPod:
    containers = tuple(
        hoststate.ObservedContainer(f"c{i}", f"id{i}", "busybox", "exited", code)
        for i, code in enumerate(exits)
    )
    return hoststate.ObservedPod("shop", "job-x", "h1", "pid", "hash", phase=phase,
                                 containers=containers)  # fmt: skip


@pytest.mark.parametrize(
    ("phase", "exits", "status"),
    [(P.SUCCEEDED, (0,), "Completed"), (P.FAILED, (0, 137), "Error"),
     (P.RUNNING, (), "Running"), (P.PENDING, (), "Pending")],
)  # fmt: skip
def test_status_column(phase: hoststate.PodPhase, exits: tuple[int, ...], status: str) -> None:
    assert getrows.pod_row(_pod(phase, *exits), "10.0.0.1")["status"] == status
