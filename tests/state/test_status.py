"""The status document built from the store: the overall Ready condition and its reason, the
running revision, last sync and its errors, unhealthy objects and hosts."""

from __future__ import annotations

import json

from reconciler.state import conditions as cond
from reconciler.state import status
from reconciler.state import store as storemod

TRUE, FALSE = cond.ConditionStatus.TRUE, cond.ConditionStatus.FALSE


def _host(name: str, ok: bool, message: str = "") -> cond.Condition:
    reason = cond.Reason.HOST_READY if ok else cond.Reason.HOST_UNREACHABLE
    return cond.Condition("Host", "", name, "Ready", TRUE if ok else FALSE, reason, message)


def _pod(name: str, ok: bool, reason: str = "Synced", message: str = "") -> cond.Condition:
    return cond.Condition("Pod", "default", name, "Ready", TRUE if ok else FALSE, reason, message)


def _sync(store: storemod.Store, revision: str, result: cond.SyncResult, *errors: str) -> None:
    sync_id = store.begin_sync(revision, cond.Trigger.PUSH)
    store.finish_sync(sync_id, result, {"created": 1}, errors, 0.5)


def test_before_any_sync(store: storemod.Store) -> None:
    doc = status.document(store)
    assert doc["ready"] is False
    assert doc["condition"]["status"] == "Unknown"
    assert doc["condition"]["reason"] == "Progressing"
    assert doc["revision"] == {"applied": None, "appliedAt": None}
    assert doc["lastSync"] is None and doc["errors"] == [] and doc["unhealthy"] == []
    assert doc["hosts"] == {"ready": 0, "total": 0, "items": []}
    json.dumps(doc)  # JSON-ready


def test_all_synced(store: storemod.Store) -> None:
    _sync(store, "abc", cond.SyncResult.SUCCEEDED)
    store.set_applied_revision("abc")
    store.set_conditions([_host("h1", True), _pod("web-1", True), _pod("web-2", True)])
    store.record_event(cond.EventKind.NORMAL, "Pod/default/web-1", "DriftRestored", "restarted")
    doc = status.document(store)
    assert doc["ready"] is True
    assert doc["condition"]["reason"] == "Synced"
    assert doc["revision"]["applied"] == "abc" and doc["revision"]["appliedAt"].endswith("Z")
    assert doc["lastSync"]["result"] == "Succeeded"
    assert doc["lastSync"]["counts"] == {"created": 1}
    assert doc["objects"] == {"Ready": 2}
    assert doc["hosts"]["ready"] == 1 and doc["hosts"]["total"] == 1
    assert doc["hosts"]["items"][0]["name"] == "h1"
    assert doc["events"][0]["reason"] == "DriftRestored"


def test_an_invalid_revision_keeps_the_last_good_one(store: storemod.Store) -> None:
    _sync(store, "good", cond.SyncResult.SUCCEEDED)
    store.set_applied_revision("good")
    _sync(store, "bad", cond.SyncResult.INVALID, "apps/web.yaml:7:5: spec.replicas: not an int")
    doc = status.document(store)
    assert doc["ready"] is False
    assert doc["condition"]["reason"] == "ManifestInvalid"
    assert (
        "bad" in doc["condition"]["message"] and "last good revision" in doc["condition"]["message"]
    )
    assert doc["revision"]["applied"] == "good"
    assert doc["errors"] == ["apps/web.yaml:7:5: spec.replicas: not an int"]


def test_unhealthy_objects_and_hosts(store: storemod.Store) -> None:
    _sync(store, "abc", cond.SyncResult.PARTIAL, "h2: connection refused")
    store.set_conditions(
        [
            _host("h1", True),
            _host("h2", False, "connection refused"),
            _pod("db-0", False, cond.Reason.UNSCHEDULABLE, "0/2 hosts: 2 insufficient memory"),
            _pod("web-1", True),
        ]
    )
    doc = status.document(store)
    assert doc["ready"] is False
    # an unreachable host explains more than its pods: it comes first
    assert doc["condition"]["reason"] == "HostUnreachable"
    assert doc["condition"]["message"] == "2 object(s) not ready; Host/h2: connection refused"
    assert [u["name"] for u in doc["unhealthy"]] == ["db-0"]  # hosts are listed apart
    assert doc["unhealthy"][0]["reason"] == "Unschedulable"
    assert doc["objects"] == {"Ready": 1, "Unschedulable": 1}
    assert doc["hosts"]["ready"] == 1 and doc["hosts"]["total"] == 2


def test_a_running_sync_shows_with_the_last_finished_one(store: storemod.Store) -> None:
    _sync(store, "abc", cond.SyncResult.FAILED, "git fetch: connection timed out")
    store.begin_sync("def", cond.Trigger.WEBHOOK)
    doc = status.document(store)
    assert doc["lastSync"]["result"] == "Running" and doc["lastSync"]["revision"] == "def"
    assert doc["lastFinishedSync"]["revision"] == "abc"
    assert doc["condition"]["reason"] == "ReconciliationFailed"
    assert doc["errors"] == ["git fetch: connection timed out"]


def test_iso_times() -> None:
    assert status.iso(0) == "1970-01-01T00:00:00.000Z"
    assert status.iso(1.5) == "1970-01-01T00:00:01.500Z"


def test_deployments_show_their_rollout(store: storemod.Store) -> None:
    _sync(store, "abc", cond.SyncResult.SUCCEEDED)
    false, true = cond.ConditionStatus.FALSE, cond.ConditionStatus.TRUE
    store.set_conditions([
        cond.Condition("Deployment", "shop", "web", cond.ConditionType.PROGRESSING, false,
                       cond.Reason.PROGRESS_DEADLINE_EXCEEDED, "made no progress for 600s"),
        cond.Condition("Deployment", "shop", "web", cond.ConditionType.AVAILABLE, true,
                       cond.Reason.MINIMUM_REPLICAS_AVAILABLE, "4 of 4 available"),
    ])  # fmt: skip
    document = status.document(store)
    (web,) = document["deployments"]
    assert (web["namespace"], web["name"]) == ("shop", "web")
    assert web["progressing"]["reason"] == "ProgressDeadlineExceeded"
    assert web["available"]["message"] == "4 of 4 available"
    assert document["ready"] is False  # a stuck rollout is unhealthy
    assert document["unhealthy"][0]["reason"] == "ProgressDeadlineExceeded"


def test_load_balancers_and_services_are_shown_apart_from_host_readiness(
    store: storemod.Store,
) -> None:
    _sync(store, "abc", cond.SyncResult.SUCCEEDED)
    lb = cond.ConditionType.LOAD_BALANCER
    store.set_conditions([
        _host("h1", True), _host("h2", True),
        cond.Condition("Host", "", "h1", lb, TRUE, cond.Reason.LB_RUNNING, "pid 7"),
        cond.Condition("Host", "", "h2", lb, FALSE, cond.Reason.LB_DOWN, "not running"),
        cond.Condition("Service", "shop", "web", "Ready", TRUE, cond.Reason.ENDPOINTS_READY,
                       "2 endpoint(s): 10.0.0.1:8080, 10.0.0.2:8080"),
    ])  # fmt: skip
    doc = status.document(store)
    assert doc["hosts"]["ready"] == 2 and doc["hosts"]["total"] == 2  # not 4: one per host
    assert doc["loadBalancers"]["running"] == 1 and doc["loadBalancers"]["total"] == 2
    assert [s["name"] for s in doc["services"]] == ["web"]
    assert doc["ready"] is False  # a host's load balancer is down
    assert any(u["reason"] == "LoadBalancerDown" for u in doc["unhealthy"])
