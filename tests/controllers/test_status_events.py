"""The event a done RESTART is recorded as (controllers/status): Killing for a liveness restart,
Started for a crashed container, whatever the container is called; the Warning events of pods
that wait for an object nothing declares."""

from __future__ import annotations

from pathlib import Path

from reconciler.controllers import lifecycle, status, sync
from reconciler.executor import fake
from reconciler.manifests import loader
from reconciler.model import hoststate
from reconciler.state import conditions as cond


def _restart(container: str, cause: str) -> hoststate.Action:
    reason = f"container {container} {cause}: restart 1 (back-off 0s)"
    return hoststate.Action(hoststate.ActionKind.RESTART, "h1", "shop", "web-0",
                            reason=reason, container=container)  # fmt: skip


def test_a_liveness_restart_is_killing() -> None:
    action = _restart("httpd", f"{lifecycle.LIVENESS_CAUSE} (HTTP 404)")
    kind, obj, reason, message = status.event(action, drift=False)
    assert (kind, obj, reason) == (cond.EventKind.NORMAL, "Pod/shop/web-0", "Killing")
    assert "failed its liveness probe (HTTP 404)" in message


def test_a_crash_restart_is_started_even_for_a_container_named_liveness() -> None:
    action = _restart("liveness", "exited with code 1")
    assert status.event(action, drift=False)[2] == "Started"


def test_pods_waiting_for_a_missing_object_are_warning_events(tmp_path: Path) -> None:
    (tmp_path / "hosts.yaml").write_text(HOST)
    (tmp_path / "app.yaml").write_text(WAITING)
    loaded = loader.load_repository(tmp_path)
    assert loaded.ok, loaded.diagnostics
    prepared = sync.prepare_loaded(loaded, fake.FakeExecutor(["h1"]), "rev")
    events = sorted(status.wait_events(prepared))
    assert [(e[0], e[1], e[2]) for e in events] == [
        (cond.EventKind.WARNING, "Deployment/default/web", "CreateContainerConfigError"),
        (cond.EventKind.WARNING, "Pod/default/db", "FailedScheduling"),
    ]
    assert events[0][3] == ("spec.template.spec.containers[0].envFrom[0].configMapRef: "
                            "ConfigMap 'settings' not found in namespace 'default'")  # fmt: skip


HOST = """\
apiVersion: reconciler.dev/v1alpha1
kind: Host
metadata: {name: h1}
spec:
  address: 198.18.0.11
  ssh: {user: rc-h1}
  capacity: {cpu: "2", memory: 2Gi}
"""
WAITING = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: app, image: nginx, envFrom: [{configMapRef: {name: settings}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db}
spec:
  containers: [{name: app, image: nginx, volumeMounts: [{name: d, mountPath: /d}]}]
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
"""
