"""topologySpreadConstraints and pod (anti-)affinity in manifests: accepted and built into the
model and the scheduler's rules; bad input refused by `validate` with file:line (a topologyKey
no Host carries, maxSkew < 1, a selector that cannot parse, weight outside 1..100, fields not
built such as matchLabelKeys)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifests import loader
from reconciler.model import podaffinity, workloads
from reconciler.plan import podrules
from reconciler.scheduler import topology

HOST = """\
apiVersion: reconciler.dev/v1alpha1
kind: Host
metadata:
  name: h1
  labels: {zone: a}
spec:
  address: 198.18.0.11
  ssh: {user: rc-h1}
  capacity: {cpu: "2", memory: 2Gi}
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: busybox
PLACEMENT"""

GOOD = """\
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: zone
        whenUnsatisfiable: DoNotSchedule
        labelSelector: {matchLabels: {app: web}}
        minDomains: 2
      - maxSkew: 2
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: ScheduleAnyway
        labelSelector:
          matchExpressions:
          - {key: app, operator: In, values: [web]}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: kubernetes.io/hostname
            labelSelector: {matchLabels: {app: web}}
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 50
            podAffinityTerm:
              topologyKey: zone
              namespaces: [default, other]
              labelSelector:
                matchExpressions: [{key: tier, operator: Exists}]
        podAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: zone
            labelSelector: {matchLabels: {app: db}}
"""


def _load(tmp_path: Path, placement: str, host: str = HOST) -> loader.LoadResult:
    if host:
        (tmp_path / "host.yaml").write_text(host)
    (tmp_path / "web.yaml").write_text(DEPLOYMENT.replace("PLACEMENT", placement))
    return loader.load_repository(tmp_path)


def test_accepted_and_built(tmp_path: Path) -> None:
    result = _load(tmp_path, GOOD)
    assert result.ok, [d.message for d in result.errors]
    (deployment,) = result.state.deployments
    placement = deployment.template.spec.placement
    assert [c.topology_key for c in placement.spread] == ["zone", "kubernetes.io/hostname"]
    assert placement.spread[0].min_domains == 2
    assert placement.spread[1].when_unsatisfiable is podaffinity.WhenUnsatisfiable.SCHEDULE_ANYWAY
    assert placement.anti_affinity.preferred[0].weight == 50
    assert placement.anti_affinity.preferred[0].term.namespaces == ("default", "other")
    rules = podrules.rules(placement)
    assert rules is not None
    assert rules.anti_affinity == (
        topology.Term(topology.HOSTNAME, topology.LabelSelector.of({"app": "web"})),
    )
    assert rules.affinity[0].selector == topology.LabelSelector.of({"app": "db"})
    assert rules.spread[1].selector == topology.LabelSelector(
        match_expressions=(topology.Requirement("app", topology.Operator.IN, ("web",)),)
    )


def test_no_placement_keeps_the_spec_and_its_hash_unchanged(tmp_path: Path) -> None:
    result = _load(tmp_path, "")
    (deployment,) = result.state.deployments
    assert deployment.template.spec.placement.empty
    assert podrules.rules(deployment.template.spec.placement) is None
    assert workloads.PodSpec(containers=()).placement == podaffinity.Placement()


def _errors(result: loader.LoadResult) -> list[tuple[str, int, str]]:
    return [(d.file, d.line, d.message) for d in result.errors]


SPREAD = """\
      topologySpreadConstraints:
      - maxSkew: {skew}
        topologyKey: {key}
        whenUnsatisfiable: DoNotSchedule
        labelSelector: {{matchLabels: {{app: web}}}}
"""


def test_topology_key_no_host_carries(tmp_path: Path) -> None:
    result = _load(tmp_path, SPREAD.format(skew=1, key="rack"))
    assert _errors(result) == [
        ("web.yaml", 16, "topologyKey 'rack' is a label no Host carries"),
    ]
    assert "kubernetes.io/hostname, kubernetes.io/os, zone" in result.errors[0].hint


def test_topology_key_not_checked_without_hosts(tmp_path: Path) -> None:
    assert _load(tmp_path, SPREAD.format(skew=1, key="rack"), host="").ok


def test_max_skew_below_one(tmp_path: Path) -> None:
    result = _load(tmp_path, SPREAD.format(skew=0, key="zone"))
    assert [(f, line) for f, line, _ in _errors(result)] == [("web.yaml", 15)]


SELECTOR = """\
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: zone
            labelSelector:
              matchExpressions:
              - {expression}
"""


@pytest.mark.parametrize(
    ("expression", "line", "message"),
    [
        ("{key: app, operator: In}", 20, "operator In needs at least one value"),
        ("{key: app, operator: Exists, values: [x]}", 20, "operator Exists takes no values"),
        ("{key: app, operator: Like, values: [x]}", 20, ""),
    ],
)
def test_selector_that_cannot_parse(
    tmp_path: Path, expression: str, line: int, message: str
) -> None:
    result = _load(tmp_path, SELECTOR.format(expression=expression))
    errors = _errors(result)
    assert len(errors) == 1
    assert errors[0][:2] == ("web.yaml", line)
    assert message in errors[0][2]


WEIGHT = """\
      affinity:
        podAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: {weight}
            podAffinityTerm: {{topologyKey: zone, labelSelector: {{matchLabels: {{app: db}}}}}}
"""


@pytest.mark.parametrize("weight", [0, 101])
def test_weight_outside_1_to_100(tmp_path: Path, weight: int) -> None:
    result = _load(tmp_path, WEIGHT.format(weight=weight))
    assert [(f, line) for f, line, _ in _errors(result)] == [("web.yaml", 17)]


@pytest.mark.parametrize(
    "placement",
    [
        "      topologySpreadConstraints:\n      - {maxSkew: 1, topologyKey: zone, "
        "whenUnsatisfiable: DoNotSchedule, matchLabelKeys: [app]}\n",
        "      topologySpreadConstraints:\n      - {maxSkew: 1, topologyKey: zone, "
        "whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor}\n",
        "      affinity:\n        podAffinity:\n          "
        "requiredDuringSchedulingIgnoredDuringExecution:\n          - {topologyKey: zone, "
        "namespaceSelector: {}}\n",
    ],
)
def test_fields_not_built_are_refused(tmp_path: Path, placement: str) -> None:
    result = _load(tmp_path, placement)
    assert len(result.errors) == 1
    assert "not supported by reconciler" in result.errors[0].message


def test_duplicate_constraint(tmp_path: Path) -> None:
    twice = SPREAD.format(skew=1, key="zone") + SPREAD.format(skew=2, key="zone").split("\n", 1)[1]
    result = _load(tmp_path, twice)
    assert len(result.errors) == 1
    assert "a second constraint with topologyKey 'zone'" in result.errors[0].message
