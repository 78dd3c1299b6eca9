"""Fixtures for the manifest tests: repository paths and an independent upstream validator."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import referencing

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "repo"
CASES = ROOT / "tests" / "cases" / "manifests"
K8S_VERSION = "1.37.0"

UpstreamCheck = Callable[[dict[str, Any]], list[str]]


def _upstream_validators() -> dict[str, Any]:
    """Validators built straight from kubernetes-validate's own files (not from schemas/), so
    they check our copy, trimming and inlining instead of repeating them."""
    source = (
        Path(kubernetes_validate.__file__).parent
        / "kubernetes-json-schema"
        / f"v{K8S_VERSION}-local-strict"
    )
    definitions = json.loads((source / "_definitions.json").read_text())
    registry = referencing.Registry().with_resource(
        definitions["$id"], referencing.Resource.from_contents(definitions)
    )
    validators = {}
    for kind, name in (
        ("Namespace", "namespace-v1"),
        ("ConfigMap", "configmap-v1"),
        ("Secret", "secret-v1"),
        ("Pod", "pod-v1"),
        ("Deployment", "deployment-apps-v1"),
        ("Service", "service-v1"),
        ("Job", "job-batch-v1"),
        ("CronJob", "cronjob-batch-v1"),
        ("PersistentVolumeClaim", "persistentvolumeclaim-v1"),
        ("PodDisruptionBudget", "poddisruptionbudget-policy-v1"),
        ("HorizontalPodAutoscaler", "horizontalpodautoscaler-autoscaling-v2"),
    ):
        schema = json.loads((source / f"{name}.json").read_text())
        validators[kind] = jsonschema.Draft202012Validator(schema, registry=registry)
    return validators


_VALIDATORS: dict[str, Any] = {}


@pytest.fixture(scope="session")
def upstream_errors() -> UpstreamCheck:
    """Error messages of the upstream strict schema for a Kubernetes object (empty: valid)."""
    if not _VALIDATORS:
        _VALIDATORS.update(_upstream_validators())

    def check(document: dict[str, Any]) -> list[str]:
        validator = _VALIDATORS[document["kind"]]
        return [error.message for error in validator.iter_errors(document)]

    return check
