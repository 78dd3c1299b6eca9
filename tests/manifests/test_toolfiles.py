"""Files of kustomize and Helm in a repository of manifests: their errors name the tool and say
to commit its rendered output (manifests.toolfiles), with file and line as every error."""

from __future__ import annotations

from pathlib import Path

from reconciler.manifests import loader, toolfiles


def _errors(tmp_path: Path, files: dict[str, str]) -> dict[str, tuple[int, str, str]]:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    result = loader.load_repository(tmp_path)
    return {d.file: (d.line, d.message, d.hint) for d in result.errors}


def test_a_kustomization_is_named_as_one_with_what_to_commit(tmp_path: Path) -> None:
    found = _errors(tmp_path, {"app/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources: [deploy.yaml]\n")})  # fmt: skip
    line, message, hint = found["app/kustomization.yaml"]
    assert (line, message) == (2, "unknown kind Kustomization in apiVersion "
                                  "kustomize.config.k8s.io/v1beta1")  # fmt: skip
    assert hint == toolfiles.KUSTOMIZE and "kustomize build" in hint


def test_a_charts_files_are_named_with_helm_template(tmp_path: Path) -> None:
    found = _errors(tmp_path, {
        "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
        "chart/values-prod.yaml": "replicaCount: 2\n",
    })  # fmt: skip
    assert found["chart/Chart.yaml"][1:] == ("kind is missing", toolfiles.HELM)
    assert found["chart/values-prod.yaml"][1:] == ("apiVersion is missing", toolfiles.HELM)
    assert "helm template" in toolfiles.HELM


def test_other_files_keep_the_general_hints(tmp_path: Path) -> None:
    found = _errors(tmp_path, {"a.yaml": "name: x\n",
                               "b.yaml": "apiVersion: v1\nkind: Deploymnt\n"})  # fmt: skip
    assert found["a.yaml"][2].startswith("every manifest starts with apiVersion and kind")
    assert "supported kinds" in found["b.yaml"][2] or "did you mean" in found["b.yaml"][2]
