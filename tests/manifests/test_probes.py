"""Probes and rollout fields from YAML to the model: a manifest with all three probes loads and
passes upstream strict, build() fills Kubernetes' defaults and resolves port names, the
Deployment gets its progress deadline and rollback annotation."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifests import loader, yamldocs
from reconciler.model import base, workloads
from tests.manifests.conftest import UpstreamCheck

GOOD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    reconciler.dev/rollback-on-failure: "true"
spec:
  replicas: 4
  minReadySeconds: 5
  progressDeadlineSeconds: 120
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example:5000/web:1.0
        ports:
        - {containerPort: 8080, name: http}
        - {containerPort: 9090, name: admin, hostPort: 19090}
        startupProbe:
          exec:
            command: [cat, /tmp/started]
          failureThreshold: 30
          periodSeconds: 1
        readinessProbe:
          httpGet:
            path: /ready
            port: http
            scheme: HTTP
            httpHeaders:
            - {name: X-Probe, value: reconciler}
          successThreshold: 2
          timeoutSeconds: 2
        livenessProbe:
          tcpSocket:
            port: 9090
          initialDelaySeconds: 3
---
apiVersion: v1
kind: Pod
metadata:
  name: once
spec:
  restartPolicy: OnFailure
  containers:
  - name: once
    image: registry.example:5000/web:1.0
    ports:
    - {containerPort: 53, protocol: UDP, name: dns}
    - {containerPort: 53, name: dns-tcp}
    readinessProbe:
      tcpSocket:
        port: dns-tcp
    livenessProbe:
      httpGet:
        port: 53
      periodSeconds: null
"""


@pytest.fixture
def loaded(tmp_path: Path) -> loader.LoadResult:
    (tmp_path / "app.yaml").write_text(GOOD)
    return loader.load_repository(tmp_path)


def _container(result: loader.LoadResult, kind: base.Kind, name: str) -> workloads.Container:
    obj = result.state.get(base.ObjectKey(kind, "default", name))
    if isinstance(obj, workloads.Deployment):
        return obj.template.spec.containers[0]
    assert isinstance(obj, workloads.Pod)
    return obj.spec.containers[0]


def test_manifest_with_all_three_probes_is_valid(loaded: loader.LoadResult) -> None:
    assert loaded.diagnostics == ()


def test_manifest_passes_upstream_strict(tmp_path: Path, upstream_errors: UpstreamCheck) -> None:
    (tmp_path / "app.yaml").write_text(GOOD)
    documents = yamldocs.read_file(tmp_path / "app.yaml", "app.yaml").documents
    assert len(documents) == 2
    for document in documents:
        assert isinstance(document.value, dict)
        assert upstream_errors(document.value) == []


def test_probes_are_built_with_names_resolved(loaded: loader.LoadResult) -> None:
    web = _container(loaded, base.Kind.DEPLOYMENT, "web")
    assert web.startup_probe == workloads.Probe(
        handler=workloads.ProbeHandler.EXEC,
        command=("cat", "/tmp/started"),
        failure_threshold=30,
        period_seconds=1,
    )
    assert web.readiness_probe == workloads.Probe(
        handler=workloads.ProbeHandler.HTTP_GET,
        port=8080,
        path="/ready",
        http_headers=(("X-Probe", "reconciler"),),
        success_threshold=2,
        timeout_seconds=2,
    )
    assert web.liveness_probe == workloads.Probe(
        handler=workloads.ProbeHandler.TCP_SOCKET, port=9090, initial_delay_seconds=3
    )


def test_defaults_are_kubernetes_defaults(loaded: loader.LoadResult) -> None:
    once = _container(loaded, base.Kind.POD, "once")
    liveness = once.liveness_probe
    assert liveness is not None
    assert (liveness.handler, liveness.port, liveness.path) == (
        workloads.ProbeHandler.HTTP_GET,
        53,
        "/",
    )
    assert (
        liveness.initial_delay_seconds,
        liveness.period_seconds,
        liveness.timeout_seconds,
        liveness.success_threshold,
        liveness.failure_threshold,
    ) == (0, 10, 1, 1, 3)
    assert liveness.command == () and liveness.http_headers == ()


def test_port_name_resolves_to_the_tcp_port(loaded: loader.LoadResult) -> None:
    once = _container(loaded, base.Kind.POD, "once")
    assert once.readiness_probe is not None
    assert once.readiness_probe.port == 53
    assert once.startup_probe is None


def test_deployment_rollout_fields(loaded: loader.LoadResult) -> None:
    web = loaded.state.get(base.ObjectKey(base.Kind.DEPLOYMENT, "default", "web"))
    assert isinstance(web, workloads.Deployment)
    assert web.progress_deadline_seconds == 120
    assert web.min_ready_seconds == 5
    assert web.rollback_on_failure
    assert web.rolling_update == workloads.RollingUpdate(max_surge=1, max_unavailable=0)


def test_progress_deadline_defaults_to_600(tmp_path: Path) -> None:
    text = GOOD.split("---", maxsplit=1)[0]
    text = text.replace("  progressDeadlineSeconds: 120\n", "").replace('"true"', '"false"')
    (tmp_path / "app.yaml").write_text(text)
    result = loader.load_repository(tmp_path)
    assert result.diagnostics == ()
    web = result.state.get(base.ObjectKey(base.Kind.DEPLOYMENT, "default", "web"))
    assert isinstance(web, workloads.Deployment)
    assert web.progress_deadline_seconds == 600
    assert not web.rollback_on_failure


@pytest.mark.parametrize(
    ("surge", "unavailable", "ok"),
    [
        ('"0%"', "1", True),
        ('"100%"', '"100%"', True),
        ("0", '"0%"', False),
        ('"0%"', '"000%"', False),
        ('"101%"', "1", False),
        ('"25"', "1", False),
        ('"abc%"', "1", False),
        ('"-1%"', "1", False),
        ('"25%\\n"', "1", False),
    ],
)
def test_rolling_update_bounds(tmp_path: Path, surge: str, unavailable: str, ok: bool) -> None:
    text = GOOD.split("---", maxsplit=1)[0].replace(
        "{maxSurge: 1, maxUnavailable: 0}", f"{{maxSurge: {surge}, maxUnavailable: {unavailable}}}"
    )
    (tmp_path / "app.yaml").write_text(text)
    result = loader.load_repository(tmp_path)
    assert result.ok is ok, [d.format() for d in result.diagnostics]
    assert all(d.path.startswith("spec.strategy.rollingUpdate") for d in result.diagnostics)


def test_whole_floats_are_read_as_ints(tmp_path: Path) -> None:
    """The schema lets 1.0 through as an integer; the checks must not crash on it and the model
    holds ints."""
    text = (
        GOOD.split("---", maxsplit=1)[0]
        .replace("{maxSurge: 1, maxUnavailable: 0}", "{maxSurge: 1.0, maxUnavailable: 0}")
        .replace("progressDeadlineSeconds: 120", "progressDeadlineSeconds: 120.0")
        .replace("{containerPort: 8080, name: http}", "{containerPort: 8080.0, name: http}")
        .replace("port: 9090", "port: 9090.0")
    )
    (tmp_path / "app.yaml").write_text(text)
    result = loader.load_repository(tmp_path)
    assert result.diagnostics == ()
    web = result.state.get(base.ObjectKey(base.Kind.DEPLOYMENT, "default", "web"))
    assert isinstance(web, workloads.Deployment)
    container = web.template.spec.containers[0]
    assert container.readiness_probe is not None and container.liveness_probe is not None
    values = (
        web.rolling_update.max_surge,
        web.progress_deadline_seconds,
        container.readiness_probe.port,
        container.liveness_probe.port,
    )
    assert values == (1, 120, 8080, 9090)
    assert all(type(v) is int for v in values)


def test_whole_float_deadline_not_above_min_ready_is_an_error(tmp_path: Path) -> None:
    text = GOOD.split("---", maxsplit=1)[0].replace(
        "progressDeadlineSeconds: 120", "progressDeadlineSeconds: 5.0"
    )
    (tmp_path / "app.yaml").write_text(text)
    result = loader.load_repository(tmp_path)
    assert [d.path for d in result.diagnostics] == ["spec.progressDeadlineSeconds"]


def test_a_probe_port_number_need_not_be_declared(tmp_path: Path) -> None:
    """As in Kubernetes, where `ports` is informational: the probe reaches the number itself
    (plan.probeports publishes it on the host's 127.0.0.1); a name must still be declared."""
    text = GOOD.replace("        - {containerPort: 9090, name: admin, hostPort: 19090}\n", "")
    (tmp_path / "app.yaml").write_text(text)
    result = loader.load_repository(tmp_path)
    assert result.ok, [d.message for d in result.diagnostics]
    web = _container(result, base.Kind.DEPLOYMENT, "web")
    assert web.liveness_probe is not None and web.liveness_probe.port == 9090
    (tmp_path / "app.yaml").write_text(text.replace("port: 9090", "port: admin"))
    refused = loader.load_repository(tmp_path)
    assert [d.path for d in refused.errors] == [
        "spec.template.spec.containers[0].livenessProbe.tcpSocket.port"
    ]
