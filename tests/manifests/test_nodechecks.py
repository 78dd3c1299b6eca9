"""`affinity.nodeAffinity` in manifests: accepted, built into the model and mapped onto the
scheduler's values; refused by `validate` with file:line and the field path as Kubernetes
refuses it (operator values, label keys, matchFields, weight, an empty nodeSelectorTerms); a
key no Host carries is a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifests import loader
from reconciler.model import diagnostics as dg
from reconciler.model import nodeaffinity
from reconciler.plan import podrules
from reconciler.scheduler import nodeterms
from tests.manifests.test_placementchecks import DEPLOYMENT, HOST

GOOD = """\
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - {key: zone, operator: In, values: [a, b]}
              - {key: kubernetes.io/hostname, operator: NotIn, values: [h9]}
            - matchFields:
              - {key: metadata.name, operator: In, values: [h1]}
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 40
            preference:
              matchExpressions:
              - {key: zone, operator: Exists}
              - {key: zone, operator: Gt, values: ["3"]}
"""


def _load(tmp_path: Path, placement: str, host: str = HOST) -> loader.LoadResult:
    if host:
        (tmp_path / "host.yaml").write_text(host)
    (tmp_path / "web.yaml").write_text(DEPLOYMENT.replace("PLACEMENT", placement))
    return loader.load_repository(tmp_path)


def _warnings(result: loader.LoadResult) -> tuple[dg.Diagnostic, ...]:
    return tuple(d for d in result.diagnostics if d.severity is dg.Severity.WARNING)


def _found(diagnostics: tuple[dg.Diagnostic, ...]) -> list[tuple[int, str, str]]:
    return [(d.line, d.path, d.message) for d in diagnostics if d.file == "web.yaml"]


def test_accepted_built_and_mapped(tmp_path: Path) -> None:
    result = _load(tmp_path, GOOD)
    assert result.ok, [d.format() for d in result.errors]
    assert not _warnings(result)
    (deployment,) = result.state.deployments
    placement = deployment.template.spec.placement
    node = placement.node
    assert node.required is not None and len(node.required) == 2
    assert node.required[0].match_expressions[0] == nodeaffinity.NodeRequirement(
        "zone", nodeaffinity.NodeOperator.IN, ("a", "b")
    )
    assert node.required[1].match_fields[0].key == nodeaffinity.NAME_FIELD
    assert node.preferred[0].weight == 40
    assert podrules.rules(placement) is None  # nothing about other pods: the fast path
    mapped = podrules.node_affinity(placement)
    assert mapped is not None and mapped.required is not None
    assert mapped.required[1].requirements == (
        nodeterms.Requirement("metadata.name", nodeterms.NodeOperator.IN, ("h1",), field=True),
    )
    assert mapped.allows("h1", {"zone": "c"})  # by name, through the second term
    assert mapped.allows("h2", {"zone": "b"}) and not mapped.allows("h2", {"zone": "c"})
    assert mapped.score("h1", {"zone": "7"}) == 40
    assert mapped.score("h1", {"zone": "a"}) == 0  # Gt on a value that is no integer


def test_no_node_affinity_maps_to_none(tmp_path: Path) -> None:
    (deployment,) = _load(tmp_path, "").state.deployments
    assert deployment.template.spec.placement.node.empty
    assert podrules.node_affinity(deployment.template.spec.placement) is None


TERM = """\
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - {part}:
              - {expression}
"""
_EXPR = "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
_AT = f"{_EXPR}.nodeSelectorTerms[0].matchExpressions[0]"
_FIELD_AT = f"{_EXPR}.nodeSelectorTerms[0].matchFields[0]"


@pytest.mark.parametrize(
    ("part", "expression", "path", "message"),
    [
        (
            "matchExpressions",
            "{key: zone, operator: In}",
            f"{_AT}.operator",
            "operator In needs at least one value",
        ),
        (
            "matchExpressions",
            "{key: zone, operator: NotIn, values: []}",
            f"{_AT}.operator",
            "operator NotIn needs at least one value",
        ),
        (
            "matchExpressions",
            "{key: zone, operator: Exists, values: [a]}",
            f"{_AT}.values",
            "operator Exists takes no values",
        ),
        (
            "matchExpressions",
            "{key: zone, operator: DoesNotExist, values: [a]}",
            f"{_AT}.values",
            "operator DoesNotExist takes no values",
        ),
        (
            "matchExpressions",
            "{key: zone, operator: Gt}",
            f"{_AT}.values",
            "operator Gt needs exactly one value, an integer",
        ),
        (
            "matchExpressions",
            "{key: zone, operator: Lt, values: ['1', '2']}",
            f"{_AT}.values",
            "operator Lt needs exactly one value, an integer",
        ),
        (
            "matchExpressions",
            "{key: zone, operator: Gt, values: [four]}",
            f"{_AT}.values",
            "operator Gt needs exactly one value, an integer",
        ),
        (
            "matchExpressions",
            "{key: -zone-, operator: Exists}",
            f"{_AT}.key",
            "invalid label key '-zone-'",
        ),
        ("matchExpressions", "{key: zone, operator: Like, values: [a]}", f"{_AT}.operator", ""),
        (
            "matchFields",
            "{key: metadata.labels, operator: In, values: [h1]}",
            f"{_FIELD_AT}.key",
            "'metadata.labels' is not a valid field selector key",
        ),
        (
            "matchFields",
            "{key: metadata.name, operator: In, values: [h1, h2]}",
            f"{_FIELD_AT}.values",
            "must be only one value",
        ),
        ("matchFields", "{key: metadata.name, operator: Exists}", f"{_FIELD_AT}.operator", ""),
    ],
)
def test_refused_at_file_line_and_path(
    tmp_path: Path, part: str, expression: str, path: str, message: str
) -> None:
    result = _load(tmp_path, TERM.format(part=part, expression=expression))
    errors = _found(result.errors)
    assert len(errors) == 1, errors
    line, found_path, found_message = errors[0]
    assert line == 19
    assert found_path == path
    assert message in found_message


def test_empty_node_selector_terms(tmp_path: Path) -> None:
    placement = (
        "      affinity:\n        nodeAffinity:\n          "
        "requiredDuringSchedulingIgnoredDuringExecution:\n            nodeSelectorTerms: []\n"
    )
    errors = _found(_load(tmp_path, placement).errors)
    assert errors == [
        (17, f"{_EXPR}.nodeSelectorTerms", "must have at least one node selector term")
    ]


def test_required_without_terms_is_refused_by_the_schema(tmp_path: Path) -> None:
    placement = (
        "      affinity:\n        nodeAffinity:\n          "
        "requiredDuringSchedulingIgnoredDuringExecution: {}\n"
    )
    assert len(_found(_load(tmp_path, placement).errors)) == 1


def test_an_empty_term_is_a_warning(tmp_path: Path) -> None:
    placement = TERM.format(part="matchExpressions", expression="{key: zone, operator: Exists}")
    placement += "            - {}\n"
    result = _load(tmp_path, placement)
    assert result.ok
    assert _found(_warnings(result)) == [
        (20, f"{_EXPR}.nodeSelectorTerms[1]", "an empty node selector term matches no host")
    ]


PREFERRED = """\
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: {weight}
            preference:
              matchExpressions: [{{key: zone, operator: In, values: [a]}}]
"""


@pytest.mark.parametrize("weight", [0, 101])
def test_weight_outside_1_to_100(tmp_path: Path, weight: int) -> None:
    errors = _found(_load(tmp_path, PREFERRED.format(weight=weight)).errors)
    assert [line for line, _, _ in errors] == [17]


def test_key_no_host_carries_is_a_warning(tmp_path: Path) -> None:
    placement = (
        TERM.format(part="matchExpressions", expression="{key: rack, operator: In, values: [r1]}")
        + "              - {key: gpu, operator: DoesNotExist}\n"
    )
    result = _load(tmp_path, placement)
    assert result.ok
    warnings = _found(_warnings(result))
    assert [(line, path) for line, path, _ in warnings] == [
        (19, f"{_AT}.key"),
        (20, f"{_EXPR}.nodeSelectorTerms[0].matchExpressions[1].key"),
    ]
    assert (
        "'rack' is a label no Host carries: operator In on it matches no host" in (warnings[0][2])
    )
    assert "operator DoesNotExist on it matches every host" in warnings[1][2]
    assert "kubernetes.io/hostname, kubernetes.io/os, zone" in _warnings(result)[0].hint


def test_keys_not_checked_without_hosts(tmp_path: Path) -> None:
    placement = TERM.format(part="matchExpressions", expression="{key: rack, operator: Exists}")
    result = _load(tmp_path, placement, host="")
    assert result.ok and not _found(_warnings(result))
