"""`reconciler get hpa` and `describe hpa NAME`: the HorizontalPodAutoscalers of the repository
with what the daemon recorded about them (replica count, current metrics, the metrics source of
each host, the last decisions, `SuccessfulRescale` events), read from its state database when it
is readable here; without it, git's replicas and unknown metrics.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping
from typing import Any

from reconciler.controllers import autoscale
from reconciler.controllers import hpa as hpactl
from reconciler.model import autoscaling, objects, workloads
from reconciler.state import conditions as cond
from reconciler.state import store as storemod

NAMES = {"hpa": "hpa", "horizontalpodautoscaler": "hpa", "horizontalpodautoscalers": "hpa"}
"""`get` resource names for HorizontalPodAutoscalers."""
COLUMNS = {"NAMESPACE": "namespace", "NAME": "name", "REFERENCE": "reference",
           "TARGETS": "targets", "MINPODS": "minPods", "MAXPODS": "maxPods",
           "REPLICAS": "replicas", "SOURCE": "source"}  # fmt: skip
WIDE = {**COLUMNS, "LAST SCALE": "lastScale"}
Records = Mapping[tuple[str, str], autoscale.Record]


def from_daemon() -> tuple[dict[tuple[str, str], autoscale.Record], list[cond.Event]]:
    """The daemon's HPA records and recent events, when its state database is readable here."""
    path = storemod.path_in(storemod.default_state_dir())
    if not path.exists():
        return {}, []
    try:
        with storemod.Store(path, create=False) as store:
            return autoscale.recorded(store), store.events(limit=500)
    except storemod.StoreError:
        return {}, []


def _targets(hpa: autoscaling.HorizontalPodAutoscaler) -> str:
    return ", ".join(str(hpactl.MetricStatus(m, None)) for m in hpa.metrics)


def _ago(when: float, now: float) -> str:
    if not when:
        return "<never>"
    whole = max(0, int(now - when))
    return f"{whole}s ago" if whole < 120 else f"{whole // 60}m ago"


def rows(state: objects.DesiredState, namespace: str, records: Records,
         now: float) -> list[dict[str, Any]]:  # fmt: skip
    """One row per HPA: the recorded count and metrics, else git's replicas."""
    out = []
    for hpa in state.autoscalers:
        ns, name = hpa.meta.namespace, hpa.meta.name
        if namespace and ns != namespace:
            continue
        record = records.get((ns, name))
        if record is not None and record.target != hpa.target_name:
            record = None
        target = state.get(hpa.target_key)
        git = target.replicas if isinstance(target, workloads.Deployment) else 0
        sources = sorted({source for _host, source in record.sources}) if record else []
        out.append({
            "namespace": ns, "name": name, "reference": hpa.reference,
            "targets": record.targets if record else _targets(hpa),
            "minPods": hpa.min_replicas, "maxPods": hpa.max_replicas,
            "replicas": record.replicas if record else git,
            "source": ",".join(sources) or "<unknown>",
            "hosts": dict(record.sources) if record else {},
            "lastScale": _ago(record.last_scale, now) if record else "<never>",
        })  # fmt: skip
    return out


def describe_text(
    hpa: autoscaling.HorizontalPodAutoscaler,
    record: autoscale.Record | None,
    events: list[cond.Event],
    now: float,
) -> str:
    """kubectl describe's layout: fields, metrics, behavior, the last decisions, events."""
    lines = [
        f"Name:                  {hpa.meta.name}",
        f"Namespace:             {hpa.meta.namespace}",
        f"Reference:             {hpa.reference}",
        f"Min replicas:          {hpa.min_replicas}",
        f"Max replicas:          {hpa.max_replicas}",
        f"Current replicas:      {record.replicas if record else '<unknown: no daemon record>'}",
        f"Metrics:               {record.targets if record else _targets(hpa)}",
    ]
    sources = ", ".join(f"{h}={s}" for h, s in record.sources) if record else ""
    lines.append(f"Metrics source:        {sources or '<unknown>'}")
    for direction, rules in (("Scale up", hpa.behavior.scale_up),
                             ("Scale down", hpa.behavior.scale_down)):  # fmt: skip
        policies = ", ".join(f"{p.value} {p.type} per {p.period_seconds}s"
                             for p in rules.policies)  # fmt: skip
        lines.append(f"{direction + ':':<23}stabilization {rules.stabilization_window_seconds}s, "
                     f"select {rules.select_policy}: {policies or '<none>'}")  # fmt: skip
    lines.append("Last decisions:")
    decisions = record.decisions if record else ()
    if not decisions:
        lines.append("  <none>")
    for d in decisions:
        at = datetime.datetime.fromtimestamp(float(d.get("time", 0)), datetime.UTC)
        limit = f" (limited: {d['limit']})" if d.get("limit") else ""
        error = f"; error: {d['error']}" if d.get("error") else ""
        lines.append(f"  {at:%H:%M:%S} {d.get('current')} -> {d.get('desired')}{limit}: "
                     f"{d.get('reason')} [{d.get('targets')}]{error}")  # fmt: skip
    lines.append("Events:")
    obj = f"HorizontalPodAutoscaler/{hpa.meta.namespace}/{hpa.meta.name}"
    mine = [e for e in events if e.object == obj]
    if not mine:
        lines.append("  <none>")
    for e in sorted(mine, key=lambda e: e.time)[-20:]:
        lines.append(f"  {e.kind:<8} {e.reason:<18} {_ago(e.time, now):<10} {e.message}")
    return "\n".join(lines) + "\n"


def describe(state: objects.DesiredState, name: str, namespace: str) -> str | None:
    """The text for every HPA called `name` (in `namespace` if given); None when none is."""
    records, events = from_daemon()
    now = time.time()
    found = [h for h in state.autoscalers if h.meta.name == name
             and (not namespace or h.meta.namespace == namespace)]  # fmt: skip
    if not found:
        return None
    return "\n".join(describe_text(h, records.get((h.meta.namespace, h.meta.name)), events, now)
                     for h in found)  # fmt: skip
