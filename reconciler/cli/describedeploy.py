"""`reconciler describe deployment NAME`: one Deployment in detail, kubectl style.

Its spec from the repository (selector, strategy, the pod template's containers and probes),
its replicas counted from the hosts by the Deployment controller's own rules (readiness from one
run of the probes), what its rollout waits for, its pods, then the daemon's events for it when
its state database is readable here. Called by `describe`; exit 0, 1 not found, 4 a host unread.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler.cli import common, describe, get
from reconciler.controllers import deployment as deploymentctl
from reconciler.executor import protocol
from reconciler.model import workloads
from reconciler.state import conditions as cond
from reconciler.web import getrows

NAMES = ("deployment", "deployments", "deploy")


def run(executor: protocol.HostExecutor, path: Path, name: str, namespace: str) -> int:
    """Print each Deployment called `name` (in `namespace`, if given)."""
    loaded, observations = get.observe(executor, path, detail=True, readiness=True)
    matches = [d for d in loaded.state.deployments
               if d.meta.name == name and namespace in ("", d.meta.namespace)]  # fmt: skip
    code = get.warn_unreachable(observations)
    if not matches:
        where = f" in namespace {namespace}" if namespace else ""
        return common.fail("describe", f'deployment "{name}" not found{where}', 1)
    addresses = {h.meta.name: h.address for h in loaded.state.hosts}
    now = time.time()
    events = get.from_daemon(lambda store: store.events(limit=500), list[cond.Event]())
    for deployment in matches:
        ns = deployment.meta.namespace
        owned = [p for p in get.pods_of(observations, ns)
                 if p.owner == f"Deployment/{deployment.meta.name}"]  # fmt: skip
        step = deploymentctl.step(deployment, deployment.template, owned, now)
        rows = [getrows.pod_row(p, addresses.get(p.host, "")) for p in owned]
        sys.stdout.write(text(deployment, step, rows))
        key = f"Deployment/{ns}/{deployment.meta.name}"
        mine = [e for e in events if e.object == key]
        sys.stdout.write(describe.events_text([], "", now, mine, subject="deployment"))
    return code


def text(
    deployment: workloads.Deployment, step: deploymentctl.Step, pods: Sequence[dict[str, object]]
) -> str:
    """The Deployment's lines up to its events: spec, counts, rollout, pods."""
    meta, counts = deployment.meta, step.counts
    unavailable = max(counts.replicas - counts.available, 0)
    lines = [
        f"Name:                    {meta.name}",
        f"Namespace:               {meta.namespace}",
        f"Labels:                  {_pairs(meta.labels)}",
        f"Annotations:             {_pairs(meta.annotations)}",
        f"Selector:                {_pairs(deployment.selector)}",
        f"Replicas:                {counts.replicas} desired | {counts.updated} updated | "
        f"{counts.current} total | {counts.available} available | {unavailable} unavailable",
        f"StrategyType:            {deployment.strategy}",
        f"MinReadySeconds:         {deployment.min_ready_seconds}",
    ]
    if deployment.strategy is workloads.StrategyType.ROLLING_UPDATE:
        rolling = deployment.rolling_update
        lines.append(f"RollingUpdateStrategy:   {rolling.max_unavailable} max unavailable, "
                     f"{rolling.max_surge} max surge")  # fmt: skip
    lines += [
        f"ProgressDeadlineSeconds: {deployment.progress_deadline_seconds}",
        f"Template Hash:           {step.template_hash}",
        "Rollout:                 " + ("complete" if step.complete else step.waiting),
        "Pod Template:",
        f"  Labels:  {_pairs(deployment.template.labels)}",
        "  Containers:",
    ]
    for c in deployment.template.spec.containers:
        lines += _container_lines(c)
    lines.append("Pods:" if pods else "Pods:                    <none>")
    if pods:
        columns = getrows.POD_COLUMNS
        table = [list(columns), *([str(p[key]) for key in columns.values()] for p in pods)]
        lines += ["  " + line for line in get.table(table).splitlines()]
    return "\n".join(lines) + "\n"


def _container_lines(c: workloads.Container) -> list[str]:
    ports = ", ".join(f"{p.container_port}/{p.protocol}" + (f" ({p.name})" if p.name else "")
                      for p in c.ports)  # fmt: skip
    lines = [f"   {c.name}:", f"    Image:      {c.image}", f"    Ports:      {ports or '<none>'}"]
    if c.command:
        lines.append(f"    Command:    {' '.join(c.command)}")
    if c.args:
        lines.append(f"    Args:       {' '.join(c.args)}")
    for label, probe in (("Liveness", c.liveness_probe), ("Readiness", c.readiness_probe),
                         ("Startup", c.startup_probe)):  # fmt: skip
        if probe is not None:
            lines.append(f"    {label + ':':<11} {describe.probe_text(probe)}")
    return lines


def _pairs(mapping: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(mapping.items())) or "<none>"
