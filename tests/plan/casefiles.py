"""Plan data cases: tests/cases/plan/<case>/ holds `desired.yaml` (manifests, loaded by the real
loader), `observed.json` (revision, policy and what each host reports) and the expected
`plan.json` (compact) and `diff.txt` (what `reconciler diff` prints). Set PLAN_CASES_UPDATE=1 to
rewrite the expected files after a deliberate change, then review the diff in git.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.manifests import loader
from reconciler.model import base, hoststate, objects
from reconciler.plan import labels, pipeline, render, resolve

CASES = Path(__file__).resolve().parent.parent / "cases" / "plan"


def case_dirs() -> list[Path]:
    return sorted(path for path in CASES.iterdir() if (path / "desired.yaml").exists())


def load_desired(case: Path) -> objects.DesiredState:
    loaded = loader.load_repository(case)
    problems = [d.format() for d in loaded.errors]
    assert not problems, f"{case.name}/desired.yaml must be valid: {problems}"
    return loaded.state


def _pod(host: str, raw: dict[str, Any]) -> hoststate.ObservedPod:
    values = dict(raw.get("labels", {}))
    values.update(
        {
            hoststate.MANAGED_BY: hoststate.MANAGER,
            hoststate.LABEL_NAMESPACE: raw["namespace"],
            hoststate.LABEL_NAME: raw["name"],
            hoststate.LABEL_OWNER: raw.get("owner", ""),
            hoststate.LABEL_TEMPLATE_HASH: raw.get("templateHash", ""),
            hoststate.LABEL_SPEC_HASH: raw["specHash"],
            hoststate.LABEL_REVISION: raw.get("revision", ""),
        }
    )
    if "specParts" in raw:
        values[labels.SPEC_PARTS] = raw["specParts"]
    return hoststate.ObservedPod(
        namespace=raw["namespace"],
        name=raw["name"],
        host=host,
        podman_id=raw.get("podmanId", f"id-{raw['name']}"),
        spec_hash=raw["specHash"],
        owner=raw.get("owner", ""),
        revision=raw.get("revision", ""),
        labels=base.FrozenMap(values),
        phase=hoststate.PodPhase(raw.get("phase", "Running")),
        containers=tuple(
            hoststate.ObservedContainer(c["name"], f"cid-{c['name']}", c["image"], "running")
            for c in raw.get("containers", [])
        ),
        created_at=raw.get("createdAt", ""),
    )


def load_observed(case: Path) -> tuple[dict[str, hoststate.HostObservation], str, resolve.Policy]:
    raw = json.loads((case / "observed.json").read_text())
    observations = {
        name: hoststate.HostObservation(
            host=name,
            reachable=host.get("reachable", True),
            pods=tuple(_pod(name, pod) for pod in host.get("pods", [])),
            error=host.get("error", ""),
        )
        for name, host in raw["hosts"].items()
    }
    policy = resolve.Policy(host_path_allow=tuple(raw.get("hostPathAllow", ())))
    return observations, raw.get("revision", "r1"), policy


def run(case: Path) -> pipeline.PlanResult:
    observations, revision, policy = load_observed(case)
    return pipeline.build_plan(load_desired(case), observations, revision, policy)


def compact(result: pipeline.PlanResult) -> dict[str, Any]:
    """The plan.json shape: one line per action, then what could not be done."""
    return {
        "actions": [
            f"{a.kind} {a.host} {a.namespace}/{a.name}: {a.reason}" for a in result.plan.actions
        ],
        "unchanged": [f"{h} {ns}/{name}" for h, ns, name in result.plan.unchanged],
        "unschedulable": result.unschedulable_messages(),
        "errors": [error.format() for error in result.errors],
        "held": [f"{ns}/{name}" for ns, name in result.held],
    }


def diff_output(result: pipeline.PlanResult) -> str:
    return render.diff_text(result) + render.summary(result)


def observed_json(result: pipeline.PlanResult, revision: str) -> dict[str, Any]:
    """What hosts would report after applying `result` (a helper for writing new cases)."""
    hosts: dict[str, list[dict[str, Any]]] = {}
    for pod in result.runs:
        hosts.setdefault(pod.host, []).append(
            {
                "namespace": pod.namespace,
                "name": pod.name,
                "owner": pod.owner,
                "templateHash": pod.labels[hoststate.LABEL_TEMPLATE_HASH],
                "specHash": pod.spec_hash,
                "specParts": pod.labels[labels.SPEC_PARTS],
                "revision": revision,
                "labels": {
                    k: v for k, v in pod.labels.items() if not k.startswith(hoststate.LABEL_PREFIX)
                },
                "containers": [{"name": c.name, "image": c.image} for c in pod.containers],
            }
        )
    return {"revision": revision, "hosts": {h: {"pods": pods} for h, pods in sorted(hosts.items())}}
