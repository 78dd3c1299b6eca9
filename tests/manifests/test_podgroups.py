"""fsGroup and supplementalGroups of a pod in `validate` (`manifests.podgroups`): built into the
model, group ids outside what rootless Podman maps refused with the reason, and the volumes
fsGroup does not reach (a Memory emptyDir, default-mode secret files) warned about."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifests import loader
from reconciler.model import diagnostics as dg
from reconciler.model import security

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  securityContext: {context}
  containers:
    - name: web
      image: registry.example:5000/web:1
      volumeMounts: [{{name: scratch, mountPath: /scratch}}]
  volumes:
    - {{name: scratch, emptyDir: {empty_dir}}}
{volumes}"""


def _load(
    tmp_path: Path, context: str, empty_dir: str = "{}", volumes: str = ""
) -> loader.LoadResult:
    (tmp_path / "m.yaml").write_text(POD.format(context=context, empty_dir=empty_dir,
                                                volumes=volumes))  # fmt: skip
    return loader.load_repository(tmp_path)


def _found(result: loader.LoadResult) -> list[tuple[str, str, str]]:
    return [(str(d.severity), str(d.code), d.path) for d in result.diagnostics]


def test_fs_group_and_supplemental_groups_are_built(tmp_path: Path) -> None:
    context = (
        "{runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true, fsGroup: 2000, "
        "fsGroupChangePolicy: OnRootMismatch, supplementalGroups: [3000, 4000]}"
    )
    result = _load(tmp_path, context)
    assert result.ok, [d.format() for d in result.diagnostics]
    assert [d.path for d in result.diagnostics] == ["spec.securityContext.fsGroupChangePolicy"]
    (pod,) = result.state.pods
    assert pod.spec.security_context is not None
    assert pod.spec.security_context.fs_group == 2000
    assert pod.spec.security_context.supplemental_groups == (3000, 4000)
    (container,) = pod.spec.containers
    settings = security.effective(pod.spec.security_context, container.security_context)
    assert settings.groups == (2000, 3000, 4000)
    assert settings.user == "1000:1000"


@pytest.mark.parametrize(
    ("context", "path"),
    [
        ("{fsGroup: 65536}", "spec.securityContext.fsGroup"),
        ("{supplementalGroups: [5, 100000]}", "spec.securityContext.supplementalGroups[1]"),
    ],
)
def test_group_ids_rootless_podman_does_not_map_are_refused(
    tmp_path: Path, context: str, path: str
) -> None:
    result = _load(tmp_path, context)
    assert not result.ok
    (found,) = [d for d in result.diagnostics if d.path == path]
    assert found.code is dg.Code.INVALID_VALUE and "/etc/subgid" in found.message


@pytest.mark.parametrize(
    "context",
    ["{fsGroup: -1}", "{supplementalGroups: [-1]}", "{supplementalGroups: [a]}",
     "{fsGroupChangePolicy: Sometimes}"],
)
def test_values_kubernetes_refuses_are_refused(tmp_path: Path, context: str) -> None:
    assert not _load(tmp_path, context).ok


def test_the_volumes_fs_group_does_not_reach_are_warned_about(tmp_path: Path) -> None:
    secrets = ("    - {name: token, secret: {secretName: token}}\n"
               "    - {name: shown, secret: {secretName: token, defaultMode: 0644}}\n"
               "---\napiVersion: v1\nkind: Secret\nmetadata: {name: token}\n"
               "stringData: {t: x}\n")  # fmt: skip
    result = _load(tmp_path, "{fsGroup: 2000}", "{medium: Memory}", secrets)
    assert result.ok, [d.format() for d in result.diagnostics]
    assert _found(result) == [
        ("warning", "ignored-field", "spec.volumes[0].emptyDir.medium"),
        ("warning", "ignored-field", "spec.volumes[1].secret"),
    ]


def test_without_fs_group_nothing_is_warned_about(tmp_path: Path) -> None:
    result = _load(tmp_path, "{supplementalGroups: [5]}", "{medium: Memory}")
    assert result.ok and not result.diagnostics, [d.format() for d in result.diagnostics]
