"""File modes of configMap and secret volumes (issue 17): `defaultMode: 0644` and
`items[].mode: 0400` are read as octal, as Kubernetes (YAML 1.1) reads them, with no error; the
same spelling anywhere else is still an ambiguous value; a mode outside 0-0777 is an error at
its file, line and field path; the modes reach the built volume."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifests import filemodes, loader
from reconciler.model import diagnostics as dg
from reconciler.model import workloads

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: c
        image: busybox
        volumeMounts: [{{name: conf, mountPath: /conf}}, {{name: keys, mountPath: /keys}}]
      volumes:
      - name: conf
        configMap:
          name: conf
          defaultMode: {default}
      - name: keys
        secret:
          secretName: keys
          items:
          - key: token
            path: token
            mode: {item}
          - {{key: other, path: other}}
"""
OBJECTS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {app.conf: "x=1"}
---
apiVersion: v1
kind: Secret
metadata: {name: keys}
stringData: {token: t0ken-s3cret, other: s3cond}
"""


def _load(tmp_path: Path, default: str, item: str) -> loader.LoadResult:
    (tmp_path / "web.yaml").write_text(DEPLOYMENT.format(default=default, item=item))
    (tmp_path / "objects.yaml").write_text(OBJECTS)
    return loader.load_repository(tmp_path)


def _volumes(result: loader.LoadResult) -> dict[str, workloads.Volume]:
    [web] = result.state.deployments
    return {v.name: v for v in web.template.spec.volumes}


def test_leading_zero_modes_are_octal_as_in_kubernetes(tmp_path: Path) -> None:
    result = _load(tmp_path, "0644", "0400")
    assert result.diagnostics == (), result.diagnostics
    volumes = _volumes(result)
    assert volumes["conf"].default_mode == 0o644 == 420
    assert volumes["keys"].default_mode is None
    token, other = volumes["keys"].items
    assert (token.path, token.mode) == ("token", 0o400)
    assert other.mode is None


def test_decimal_modes_are_read_as_written(tmp_path: Path) -> None:
    result = _load(tmp_path, "420", "256")
    assert result.ok, result.errors
    volumes = _volumes(result)
    assert volumes["conf"].default_mode == 0o644
    assert volumes["keys"].items[0].mode == 0o400


@pytest.mark.parametrize(
    ("default", "item", "line", "path", "value"),
    [
        ("01000", "0400", 18, "spec.template.spec.volumes[0].configMap.defaultMode", 512),
        ("0644", "-1", 25, "spec.template.spec.volumes[1].secret.items[0].mode", -1),
        ("0644", "644", 25, "spec.template.spec.volumes[1].secret.items[0].mode", 644),
    ],
)
def test_a_mode_out_of_range_is_an_error_at_its_field(
    tmp_path: Path, default: str, item: str, line: int, path: str, value: int
) -> None:
    [error] = _load(tmp_path, default, item).errors
    assert (error.file, error.line, error.path) == ("web.yaml", line, path)
    assert error.code is dg.Code.INVALID_VALUE
    assert error.message.startswith(f"file mode {value}")
    assert "0 to 0777 in octal" in error.message


@pytest.mark.parametrize("spelling", ["0o644", "0999", "06_44", "0644:00"])
def test_other_number_spellings_in_a_mode_stay_ambiguous(tmp_path: Path, spelling: str) -> None:
    errors = _load(tmp_path, spelling, "0400").errors
    assert [(e.code, e.line, e.path) for e in errors] == [
        (dg.Code.YAML_AMBIGUOUS, 18, "spec.template.spec.volumes[0].configMap.defaultMode")
    ]


def test_leading_zero_elsewhere_keeps_the_ambiguity_error(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {defaultMode: 0644}\n"
        "spec:\n  containers:\n  - name: c\n    image: busybox\n"
        "    env: [{name: MODE, value: 0644}]\n"
        "  volumes:\n  - name: d\n    emptyDir: {}\n    defaultMode: 0644\n"
    )
    errors = loader.load_repository(tmp_path).errors
    ambiguous = [(e.line, e.path) for e in errors if e.code is dg.Code.YAML_AMBIGUOUS]
    assert ambiguous == [
        (5, "metadata.labels.defaultMode"),
        (10, "spec.containers[0].env[0].value"),
        (14, "spec.volumes[0].defaultMode"),
    ]


def test_mode_fields_by_path() -> None:
    assert filemodes.is_mode_field(["spec", "volumes", 0, "secret", "defaultMode"])
    assert filemodes.is_mode_field(["spec", "volumes", 2, "configMap", "items", 1, "mode"])
    assert filemodes.is_mode_field(["spec", "volumes", 0, "projected", "defaultMode"])
    projected_item: list[str | int] = ["volumes", 0, "projected", "sources", 1, "secret"]
    projected_item += ["items", 0, "mode"]
    assert filemodes.is_mode_field(projected_item)
    assert not filemodes.is_mode_field(["spec", "volumes", 0, "emptyDir", "defaultMode"])
    assert not filemodes.is_mode_field(["spec", "volumes", 0, "secret", "items", 0, "path"])
    assert not filemodes.is_mode_field(["data", "items", 0, "mode"])
    assert not filemodes.is_mode_field(["defaultMode"])
    assert filemodes.yaml_octal(["spec", "volumes", 0, "secret", "defaultMode"], "0755") == 493
    assert filemodes.yaml_octal(["spec", "volumes", 0, "secret", "defaultMode"], "0o755") is None
    assert filemodes.yaml_octal(["spec", "containers", 0, "defaultMode"], "0755") is None
