"""The `-o json` form of a `PlanResult`: plain dicts and lists that `json.dumps` accepts, secret
values redacted and digest labels left out (through `views`). Pure; the CLI prints it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from reconciler.model import hoststate
from reconciler.plan import pipeline, podrun, views

SCHEMA_VERSION = 1


def action_json(action: hoststate.Action) -> dict[str, Any]:
    out: dict[str, Any] = {
        "action": action.kind.value,
        "host": action.host,
        "namespace": action.namespace,
        "name": action.name,
        "reason": action.reason,
    }
    if action.run is not None and action.observed is not None:
        out["changedParts"] = list(podrun.changed_parts(action.observed, action.run))
    if action.run is not None:
        out["desired"] = views.run_view(action.run)
    if action.observed is not None:
        out["observed"] = views.observed_view(action.observed)
        out["observed"]["status"] = views.observed_status(action.observed)
    return out


def counts(plan: hoststate.Plan) -> dict[str, Any]:
    """Totals and per-host numbers of each action kind and of unchanged pods."""
    per_host: dict[str, Counter[str]] = {}
    for action in plan.actions:
        per_host.setdefault(action.host, Counter())[action.kind.value] += 1
    for host, _, _ in plan.unchanged:
        per_host.setdefault(host, Counter())["unchanged"] += 1
    keys = [*(kind.value for kind in hoststate.ActionKind), "unchanged"]
    total: Counter[str] = Counter()
    for host_counts in per_host.values():
        total.update(host_counts)
    return {
        **{key: total[key] for key in keys},
        "hosts": {host: {key: per_host[host][key] for key in keys} for host in sorted(per_host)},
    }


def plan_json(result: pipeline.PlanResult) -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "revision": result.revision,
        "summary": counts(result.plan),
        "actions": [action_json(action) for action in result.plan.actions],
        "unchanged": [
            {"host": host, "namespace": namespace, "name": name}
            for host, namespace, name in result.plan.unchanged
        ],
        "placements": dict(sorted(result.placements.items())),
        "unschedulable": [
            {"pod": entry.pod, "message": entry.message} for entry in result.unschedulable
        ],
        "errors": [error.as_json() for error in result.errors],
        "held": [f"{namespace}/{name}" for namespace, name in result.held],
        "unreachable": list(result.unreachable),
    }
