"""Failed image pulls as Kubernetes shows them: ErrImagePull, then ImagePullBackOff with a
doubling retry delay, Warning events, `get pods` rows for pods on no host; and the daemon doing
it all against fakes (a registry refusing the pull until it is fixed)."""

from __future__ import annotations

from pathlib import Path

from reconciler.controllers import pullfailures, sync
from reconciler.executor import fake as fake_executor
from reconciler.manifests import loader
from reconciler.model import hoststate
from reconciler.runtime import reconcile
from reconciler.source import fake as fake_source
from reconciler.state import conditions as cond
from reconciler.state import store as storemod
from reconciler.web import metrics

HOSTS = Path(__file__).resolve().parents[2] / "examples" / "repo" / "hosts"
IMAGE = "198.18.0.1:5001/private/busybox:v1"
MESSAGE = (
    "pod pull_app on host h2: ErrImagePull: image '198.18.0.1:5001/private/busybox:v1' could "
    "not be pulled: registry 198.18.0.1:5001 refused the login(s) of the pod's imagePullSecrets"
)
POD = f"""\
apiVersion: v1
kind: Namespace
metadata: {{name: pull}}
---
apiVersion: v1
kind: Pod
metadata: {{name: app, namespace: pull}}
spec:
  containers:
    - {{name: app, image: "{IMAGE}", command: [sleep, "3600"]}}
"""


def _result(outcome: hoststate.Outcome, message: str = "") -> hoststate.ActionResult:
    action = hoststate.Action(hoststate.ActionKind.CREATE, "h2", "pull", "app")
    return hoststate.ActionResult(action, outcome, message)


def test_delays_double_from_ten_seconds_to_five_minutes() -> None:
    assert [pullfailures.delay(n) for n in (1, 2, 3, 6, 7, 20)] == [10, 20, 40, 300, 300, 300]


def test_reason_is_err_image_pull_then_back_off_and_clears_on_success() -> None:
    pulls = pullfailures.PullBackOff()
    key = ("pull", "app")
    pulls.update([_result(hoststate.Outcome.FAILED, MESSAGE)], now=100.0)
    assert pulls.reason(key) == "ErrImagePull" and pulls.requeue_after(100.0) == 10
    pulls.update([_result(hoststate.Outcome.FAILED, MESSAGE)], now=110.0)
    assert pulls.reason(key) == "ImagePullBackOff" and pulls.requeue_after(110.0) == 20
    (event,) = pulls.events([_result(hoststate.Outcome.FAILED, MESSAGE)])
    assert event == (cond.EventKind.WARNING, "Pod/pull/app", "ImagePullBackOff", MESSAGE)
    pulls.update([_result(hoststate.Outcome.FAILED, "pod x: create pod failed: boom")], 120.0)
    assert pulls.reason(key) == "ImagePullBackOff"  # another failure counts no pull
    pulls.update([_result(hoststate.Outcome.DONE)], now=130.0)
    assert pulls.reason(key) == "" and pulls.requeue_after(130.0) is None


def test_only_failed_pulls_are_relabelled() -> None:
    pulls = pullfailures.PullBackOff()
    pulls.update([_result(hoststate.Outcome.FAILED, MESSAGE)], now=0.0)
    ready, false = cond.ConditionType.READY, cond.ConditionStatus.FALSE
    conditions = [
        cond.Condition("Pod", "pull", "app", ready, false, cond.Reason.APPLY_FAILED, MESSAGE),
        cond.Condition("Pod", "pull", "other", ready, false, cond.Reason.APPLY_FAILED, "boom"),
    ]
    assert [c.reason for c in pulls.relabel(conditions)] == ["ErrImagePull", "ApplyFailed"]


def _setup(tmp_path: Path) -> tuple[reconcile.Reconciler, fake_source.FakeSource,
                                    fake_executor.FakeExecutor, storemod.Store]:  # fmt: skip
    source = fake_source.FakeSource(tmp_path / "src")
    executor = fake_executor.FakeExecutor(["h1", "h2", "h3"])
    store = storemod.Store(storemod.path_in(tmp_path / "state"))
    rec = reconcile.Reconciler(
        source, executor, store, metrics.ReconcilerMetrics(metrics.Registry())
    )
    return rec, source, executor, store


def _pod_condition(store: storemod.Store) -> cond.Condition:
    (found,) = [c for c in store.conditions() if c.kind == "Pod" and c.name == "app"]
    return found


def test_the_daemon_backs_off_a_failing_pull_and_recovers(tmp_path: Path) -> None:
    rec, source, executor, store = _setup(tmp_path)
    executor.bad_images[IMAGE] = "unauthorized: authentication required"
    files = {f"hosts/{p.name}": p.read_text() for p in HOSTS.glob("*.yaml")}
    files["pull.yaml"] = POD
    source.push(files, "deploy")
    assert rec.run(["push"]) is cond.SyncResult.PARTIAL
    first = _pod_condition(store)
    assert first.reason == "ErrImagePull" and "unauthorized" in first.message
    assert rec.requeue_after == 10
    assert rec.run(["requeue"]) is cond.SyncResult.PARTIAL
    assert _pod_condition(store).reason == "ImagePullBackOff" and rec.requeue_after == 20
    reasons = [e.reason for e in store.events(10) if e.object == "Pod/pull/app"]
    assert reasons[:2] == ["ImagePullBackOff", "ErrImagePull"]  # newest first

    repo = source.checkout(source.resolve())
    state = loader.load_repository(repo).state
    observations = executor.observe(sync.targets_of(state))
    (row,) = pullfailures.rows(state, observations, store.conditions(), "pull")
    assert (row["name"], row["status"], row["ready"]) == ("app", "ImagePullBackOff", "0/1")
    assert row["host"] in ("h1", "h2", "h3") and row["images"] == [IMAGE]
    text = pullfailures.describe_text(row)
    assert "Status:       ImagePullBackOff" in text and "unauthorized" in text

    del executor.bad_images[IMAGE]  # the registry lets the pull through now
    assert rec.run(["requeue"]) is cond.SyncResult.SUCCEEDED
    assert _pod_condition(store).reason == cond.Reason.SYNCED
    assert rec.requeue_after is None or rec.requeue_after > 20
    after = executor.observe(sync.targets_of(state))
    assert pullfailures.rows(state, after, store.conditions(), "pull") == []
