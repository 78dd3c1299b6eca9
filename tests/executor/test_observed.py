"""Podman's JSON ▶ ObservedPod: identity from labels alone, phase from container states."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.executor import observed, podmanspec
from reconciler.model import base, hoststate
from tests.executor.test_podmanspec import make_run

PodPhase = hoststate.PodPhase


def _container(name: str, state: str, code: int = 0) -> hoststate.ObservedContainer:
    return hoststate.ObservedContainer(name, f"id-{name}", "img", state, code)


@pytest.mark.parametrize(
    ("states", "phase"),
    [
        ([], PodPhase.PENDING),
        ([("running", 0), ("exited", 1)], PodPhase.RUNNING),
        ([("created", 0), ("exited", 0)], PodPhase.PENDING),
        ([("exited", 0), ("stopped", 0)], PodPhase.SUCCEEDED),
        ([("exited", 0), ("exited", 137)], PodPhase.FAILED),
        ([("exited", 0), ("removing", 0)], PodPhase.UNKNOWN),
    ],
)
def test_phase(states: list[tuple[str, int]], phase: PodPhase) -> None:
    containers = [_container(f"c{i}", s, c) for i, (s, c) in enumerate(states)]
    assert observed.phase(containers) is phase


def test_managed_filter() -> None:
    assert observed.managed_filter() == {"label": ["reconciler.dev/managed-by=reconciler"]}
    extra = observed.managed_filter({hoststate.LABEL_NAME: "web"})
    assert extra["label"][1] == "reconciler.dev/name=web"


def _pod_entry(run: hoststate.PodRun, pod_id: str = "p1") -> dict[str, Any]:
    return {"Id": pod_id, "Name": run.podman_name, "Labels": podmanspec.pod_labels(run),
            "Created": "2026-01-01T00:00:00Z"}  # fmt: skip


def _ctr_entry(run: hoststate.PodRun, name: str, pod_id: str = "p1", **more: Any) -> dict[str, Any]:
    labels = podmanspec.pod_labels(run) | {hoststate.LABEL_CONTAINER: name}
    entry = {
        "Id": f"c-{name}",
        "Names": [f"{run.podman_name}_{name}"],
        "Image": "img",
        "State": "running",
        "ExitCode": 0,
        "Pod": pod_id,
        "IsInfra": False,
        "Labels": labels,
    }
    entry.update(more)
    return entry


def test_pods_from_labels_alone() -> None:
    run = make_run()
    infra = _ctr_entry(run, "infra", IsInfra=True)
    stranger = {"Id": "x", "Pod": "p1", "Labels": {"app": "web"}, "State": "running"}
    containers = [_ctr_entry(run, "side"), _ctr_entry(run, "web"), infra, stranger]
    state = {"Status": "running", "ExitCode": 0, "StartedAt": "2026-01-01T00:00:01Z"}
    inspects = {"c-web": {"State": state, "RestartCount": 3}}
    (pod,) = observed.pods("h1", [_pod_entry(run)], containers, inspects)
    assert pod.key == ("shop", "web-1")
    assert pod.host == "h1"
    assert pod.podman_id == "p1"
    assert pod.spec_hash == "h123"
    assert pod.owner == "Deployment/web"
    assert pod.revision == "abc"
    assert pod.labels["app"] == "web"
    assert pod.phase is PodPhase.RUNNING
    assert [c.name for c in pod.containers] == ["web", "side"]  # the pod's declared order
    assert pod.containers[0].restart_count == 3
    assert pod.containers[0].started_at == "2026-01-01T00:00:01Z"
    assert pod.created_at == "2026-01-01T00:00:00Z"


def test_list_entries_alone_give_state_and_start_but_no_restart_count() -> None:
    run = make_run()
    never = -62135596800  # podman's zero time, for a container that never started
    containers = [
        _ctr_entry(run, "web", StartedAt=1795452185),
        _ctr_entry(run, "side", State="exited", ExitCode=2, StartedAt=never),
    ]
    (pod,) = observed.pods("h1", [_pod_entry(run)], containers, {})
    web, side = pod.containers
    assert web.restart_count is None  # podman 4 lists carry none: unknown, not 0
    assert web.started_at == "2026-11-23T16:43:05+00:00"
    assert (side.state, side.exit_code, side.started_at) == ("exited", 2, "")
    assert pod.phase is PodPhase.RUNNING
    newer = _ctr_entry(run, "web", Restarts=4)
    (pod,) = observed.pods("h1", [_pod_entry(run)], [newer, containers[1]], {})
    assert pod.containers[0].restart_count == 4


def test_half_created_pod_has_no_spec_hash() -> None:
    run = make_run()
    (pod,) = observed.pods("h1", [_pod_entry(run)], [_ctr_entry(run, "web")], {})
    assert pod.spec_hash == ""


def test_pod_without_identity_labels_is_ignored() -> None:
    entry = {"Id": "p9", "Labels": {hoststate.MANAGED_BY: hoststate.MANAGER}}
    assert observed.pods("h1", [entry], [], {}) == ()
    foreign = {"Id": "p8", "Labels": {hoststate.LABEL_NAME: "x", hoststate.LABEL_NAMESPACE: "y"}}
    assert observed.pods("h1", [foreign], [], {}) == ()


def test_pods_are_sorted_and_exit_codes_read() -> None:
    a = make_run(name="a", labels=base.FrozenMap())
    b = make_run(name="b", labels=base.FrozenMap())
    containers = [
        _ctr_entry(b, "web", "pb", State="exited", ExitCode=2),
        _ctr_entry(b, "side", "pb", State="exited", ExitCode=0),
        _ctr_entry(a, "web", "pa"),
        _ctr_entry(a, "side", "pa"),
    ]
    pods = observed.pods("h1", [_pod_entry(b, "pb"), _pod_entry(a, "pa")], containers, {})
    assert [p.name for p in pods] == ["a", "b"]
    assert pods[1].phase is PodPhase.FAILED
    assert pods[1].containers[0].exit_code == 2
