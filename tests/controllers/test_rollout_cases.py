"""Rollout data cases: tests/cases/rollout/<case>/ holds `desired.yaml` (manifests, loaded by the
real loader), `observed.json` (`now` and each host's pods with their template and readiness) and
the expected `waves.json` (the plan of the next reconcile, wave by wave, and each Deployment's
progress line). A name's `{hash}` stands for its Deployment's current template hash; a pod with
`"template": "old"` runs an earlier template. Set ROLLOUT_CASES_UPDATE=1 to rewrite `waves.json`
after a deliberate change, then review the diff in git.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.controllers import sync
from reconciler.executor import fake
from reconciler.manifests import loader
from reconciler.model import base, hoststate, objects
from reconciler.plan import expand, podrun, resolve

CASES = Path(__file__).resolve().parent.parent / "cases" / "rollout"
OLD_HASH = "oldtemplate"


def _cases() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if (p / "desired.yaml").exists())


def _spec_hash(desired: objects.DesiredState, pod: expand.DesiredPod, host: str) -> str:
    return podrun.build(resolve.resolve(pod, desired, resolve.Policy()), host, "r").spec_hash


def _observed(
    desired: objects.DesiredState, host: str, raw: dict[str, Any], now: float
) -> hoststate.ObservedPod:
    deployment = next(d for d in desired.deployments if d.meta.name == raw["deployment"])
    digest = expand.template_hash(deployment.template)
    name = raw["name"].format(hash=digest)
    old = raw.get("template") == "old"
    template = OLD_HASH if old else digest
    if old:
        spec_hash = "oldspec"
    else:
        (pod,) = [p for p in expand.expand_deployment(deployment, []) if p.name == name] or [
            expand.DesiredPod(deployment.meta.namespace, name, deployment.template.spec,
                              deployment.template.labels, digest, expand.owner_of(deployment))
        ]  # fmt: skip
        spec_hash = _spec_hash(desired, pod, host)
    labels = {
        hoststate.MANAGED_BY: hoststate.MANAGER,
        hoststate.LABEL_NAMESPACE: deployment.meta.namespace,
        hoststate.LABEL_NAME: name,
        hoststate.LABEL_OWNER: expand.owner_of(deployment),
        hoststate.LABEL_TEMPLATE_HASH: template,
        hoststate.LABEL_SPEC_HASH: spec_hash,
        hoststate.LABEL_HOST_PORTS: raw.get("hostPorts", ""),
    }
    return hoststate.ObservedPod(
        namespace=deployment.meta.namespace,
        name=name,
        host=host,
        podman_id=f"id-{name}",
        spec_hash=spec_hash,
        owner=expand.owner_of(deployment),
        labels=base.FrozenMap(labels),
        phase=hoststate.PodPhase.RUNNING,
        containers=(hoststate.ObservedContainer("web", f"c-{name}", "img", "running"),),
        ready=raw.get("ready", True),
        ready_since=now - raw.get("readyFor", 60),
        created_at=raw.get("created", ""),
    )


class _Observed(fake.FakeExecutor):
    """Reports the case's observations as they are (readiness included)."""

    def __init__(self, observations: dict[str, hoststate.HostObservation]) -> None:
        super().__init__(observations)
        self.fixed = observations

    def observe(
        self, targets: object, *, detail: bool = False
    ) -> dict[str, hoststate.HostObservation]:
        return dict(self.fixed)


def _run(case: Path) -> dict[str, Any]:
    loaded = loader.load_repository(case)
    assert not loaded.errors, [d.format() for d in loaded.errors]
    raw = json.loads((case / "observed.json").read_text())
    now = float(raw["now"])
    observations = {
        host.meta.name: hoststate.HostObservation(
            host.meta.name,
            reachable=host.meta.name not in raw.get("unreachable", []),
            pods=tuple(
                _observed(loaded.state, host.meta.name, p, now)
                for p in raw["hosts"].get(host.meta.name, [])
            ),
        )
        for host in loaded.state.hosts
    }
    controllers = sync.Controllers(clock=lambda: now)
    prepared = sync.prepare_loaded(loaded, _Observed(observations), "r", controllers)
    waves = [
        [f"{a.kind} {a.host} {a.namespace}/{a.name}: {a.reason}" for a in wave]
        for wave in prepared.result.plan.waves
    ]
    rollouts = [
        f"{d.namespace}/{d.name}: {d.counts.updated} of {d.counts.replicas} updated, "
        f"{d.counts.available} available, complete={d.complete}: {d.message}"
        for d in prepared.deployments
    ]
    return {
        "waves": waves,
        "deployments": rollouts,
        "unschedulable": prepared.result.unschedulable_messages(),
    }


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_rollout_case(case: Path) -> None:
    got = _run(case)
    expected_file = case / "waves.json"
    if os.environ.get("ROLLOUT_CASES_UPDATE"):
        expected_file.write_text(json.dumps(got, indent=2) + "\n")
    assert got == json.loads(expected_file.read_text())
