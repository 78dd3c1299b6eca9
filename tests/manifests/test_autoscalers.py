"""HorizontalPodAutoscaler manifests: what loads (with Kubernetes' defaults) and the bad input
`validate` refuses with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifests import loader
from reconciler.model import autoscaling as a

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: busybox
        resources: {requests: {cpu: 100m}}
      - name: side
        image: busybox
        resources: {requests: {cpu: 50m}}
"""

HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
"""


def load(tmp_path: Path, *docs: str) -> loader.LoadResult:
    (tmp_path / "all.yaml").write_text("---\n".join(docs))
    return loader.load_repository(tmp_path)


def errors(result: loader.LoadResult) -> list[str]:
    return [f"{d.location()} {d.message}" for d in result.errors]


def test_defaults_as_kubernetes(tmp_path: Path) -> None:
    result = load(tmp_path, DEPLOYMENT, HPA)
    assert result.ok, errors(result)
    (hpa,) = result.state.autoscalers
    assert (hpa.min_replicas, hpa.max_replicas, hpa.reference) == (1, 5, "Deployment/web")
    assert hpa.metrics == (a.ResourceMetric(a.ResourceName.CPU, a.TargetType.UTILIZATION, 80),)
    assert hpa.behavior == a.Behavior(a.SCALE_UP_DEFAULT, a.SCALE_DOWN_DEFAULT)
    assert hpa.key.namespace == "default"


def test_metrics_and_behavior(tmp_path: Path) -> None:
    spec = HPA + """\
  minReplicas: 2
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 64Mi}}
  - type: Resource
    resource: {name: cpu, target: {type: AverageValue, averageValue: 200m}}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 10
      selectPolicy: Min
      policies: [{type: Pods, value: 1, periodSeconds: 30}]
"""
    result = load(tmp_path, DEPLOYMENT, spec)
    assert result.ok, errors(result)
    (hpa,) = result.state.autoscalers
    memory, cpu = hpa.metrics
    assert (memory.average_value, cpu.average_value) == (64 << 20, 200)
    assert hpa.behavior.scale_up == a.SCALE_UP_DEFAULT
    assert hpa.behavior.scale_down == a.ScalingRules(
        10, a.SelectPolicy.MIN, (a.ScalingPolicy(a.PolicyType.PODS, 1, 30),)
    )


@pytest.mark.parametrize(
    ("docs", "expected"),
    [
        ((DEPLOYMENT, HPA.replace("kind: Deployment, name", "kind: StatefulSet, name")),
         "reconciler scales only Deployments"),
        ((DEPLOYMENT, HPA + "  minReplicas: 7\n"), "minReplicas (7) is more than maxReplicas (5)"),
        ((DEPLOYMENT.replace("        resources: {requests: {cpu: 50m}}\n", ""),
          HPA + "  metrics: [{type: Resource, resource: {name: cpu, target: "
          "{type: Utilization, averageUtilization: 50}}}]\n"),
         "a cpu Utilization target needs cpu requests, and container(s) side"),
        ((DEPLOYMENT.replace("        resources: {requests: {cpu: 50m}}\n", ""), HPA),
         "container(s) side"),  # the default metric is cpu Utilization too
        ((DEPLOYMENT, HPA, HPA.replace("name: web}\nspec", "name: other}\nspec")),
         "already scaled by HorizontalPodAutoscaler web"),
        ((DEPLOYMENT, HPA + "  metrics: [{type: Resource, resource: {name: cpu, target: "
          "{type: Utilization}}}]\n"), "needs averageUtilization"),
        ((DEPLOYMENT, HPA + "  metrics: [{type: Pods, resource: {name: cpu, target: "
          "{type: Utilization, averageUtilization: 5}}}]\n"), "must be one of \"Resource\""),
        ((DEPLOYMENT, HPA + "  behavior: {scaleUp: {policies: []}}\n"), "policies is empty"),
    ],
)  # fmt: skip
def test_bad_input(tmp_path: Path, docs: tuple[str, ...], expected: str) -> None:
    result = load(tmp_path, *docs)
    found = errors(result)
    assert not result.ok
    assert any(expected in line for line in found), found
    assert all(line.startswith("all.yaml:") for line in found), found


def test_a_target_no_file_declares_is_a_warning(tmp_path: Path) -> None:
    """As the Kubernetes API server accepts it (the HPA reports FailedGetScale)."""
    result = load(tmp_path, HPA)
    [warning] = result.diagnostics
    assert result.ok and warning.location().startswith("all.yaml:5:")
    assert "Deployment default/web does not exist: the autoscaler does nothing" in warning.message
