"""Files of other tools that a repository of manifests often holds: a kustomization, a Helm
chart's Chart.yaml, values files and templates. The loader's errors for them (no apiVersion and
kind, or an unknown kind) get this hint: reconciler reads rendered manifests, as Argo CD does
with its tool plugins turned off, so the render's output is what to commit. (A chart's
templates do not parse as YAML; their error says so.)"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

KUSTOMIZE = (
    "this is a kustomize file: reconciler reads plain manifests, not kustomizations; commit the "
    "output of `kustomize build` (or `kubectl kustomize`) instead, or move this file out of the "
    "manifests' folder"
)
HELM = (
    "this is a file of a Helm chart: reconciler reads rendered manifests, not charts; commit the "
    "output of `helm template` instead, or move the chart out of the manifests' folder"
)
_KUSTOMIZATIONS = frozenset({"kustomization.yaml", "kustomization.yml", "kustomization"})


def hint(file: str, value: dict[str, Any]) -> str | None:
    """The hint for the document `value` of `file` (relative, POSIX) when it belongs to
    kustomize or Helm, else None."""
    path = PurePosixPath(file)
    name = path.name.lower()
    if name in _KUSTOMIZATIONS or str(value.get("apiVersion", "")).startswith("kustomize."):
        return KUSTOMIZE
    if name == "chart.yaml" or (name.startswith("values") and name.endswith((".yaml", ".yml"))):
        return HELM
    return None
