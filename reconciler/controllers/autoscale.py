"""The HorizontalPodAutoscalers in a reconcile: `step` (one of `sync.STEPS`, before the
Deployment controller) gives every Deployment an HPA targets the HPA's replica count instead of
git's, which is only the starting value.

In the daemon, `Autoscaling` samples the hosts every period (15 s by default, Kubernetes' sync
period; `executor.metrics`, one read per host), turns two samples into usage rates, asks
`hpa.Autoscaler` for each HPA's count and keeps it in the state database (so it survives a
restart), with a `SuccessfulRescale` event per change. One-shot `apply` reads the recorded
counts (`recorded`) and decides nothing; the dry-run `diff` keeps what runs, within min/max.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.controllers import hpa, hpacalc
from reconciler.executor import protocol
from reconciler.model import autoscaling, base, hoststate, metrics, objects, workloads
from reconciler.plan import expand
from reconciler.state import conditions as cond
from reconciler.state import store as storemod

if TYPE_CHECKING:
    from reconciler.controllers import sync

log = logging.getLogger(__name__)

DEFAULT_PERIOD = 15.0


class RecordStore(Protocol):
    """Where the counts live between runs (`state.store.Store`)."""

    def autoscaler_records(self) -> list[dict[str, Any]]: ...

    def save_autoscaler_records(
        self, records: Sequence[Mapping[str, Any]], forget: Sequence[tuple[str, str]]
    ) -> None: ...


EventSink = Any  # Callable[[cond.EventKind, str, str, str], None]: store.record_event


@dataclasses.dataclass(frozen=True)
class Record:
    """One HPA's state as kept in the database and shown by `get hpa` / `describe hpa`."""

    namespace: str
    name: str
    target: str  # the Deployment's name
    replicas: int
    last_scale: float = 0.0
    targets: str = "<unknown>"
    sources: tuple[tuple[str, str], ...] = ()  # (host, metrics.Source) of the target's pods
    decisions: tuple[dict[str, Any], ...] = ()
    values: tuple[tuple[str, int, int], ...] = ()  # (metric, current, target) for /metrics
    running: int = 0  # the Deployment's pods seen at the last evaluation

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["sources"] = dict(self.sources)
        out["decisions"] = list(self.decisions)
        out["values"] = [list(v) for v in self.values]
        return out

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Record | None:
        try:
            sources = dict(raw.get("sources") or {})
            decisions = [d for d in raw.get("decisions") or () if isinstance(d, dict)]
            values = [(str(n), int(c), int(t)) for n, c, t in raw.get("values") or ()]
            return cls(str(raw["namespace"]), str(raw["name"]), str(raw["target"]),
                       int(raw["replicas"]), float(raw.get("last_scale") or 0.0),
                       str(raw.get("targets") or "<unknown>"),
                       tuple(sorted((str(h), str(s)) for h, s in sources.items())),
                       tuple(decisions), tuple(values), int(raw.get("running") or 0))  # fmt: skip
        except (KeyError, TypeError, ValueError):
            return None


def recorded(store: RecordStore | None) -> dict[tuple[str, str], Record]:
    """The counts the daemon recorded ({} without a store or a table)."""
    if store is None:
        return {}
    found = (Record.of(raw) for raw in store.autoscaler_records())
    return {r.key: r for r in found if r is not None}


def _decision_dict(decision: hpa.Decision) -> dict[str, Any]:
    return {"time": decision.time, "current": decision.current, "desired": decision.desired,
            "reason": decision.reason, "limit": decision.limit, "targets": decision.targets,
            "error": decision.error}  # fmt: skip


class Autoscaling:
    """The autoscaler's state in one process. `active` (the daemon): samples and decides; else
    (one-shot `apply`) only the counts recorded by the daemon are used."""

    def __init__(
        self,
        store: RecordStore | None = None,
        *,
        active: bool = False,
        period: float = DEFAULT_PERIOD,
        events: EventSink | None = None,
    ) -> None:
        self.active = active
        self.period = period
        self._store = store
        self._events = events
        self._lock = threading.Lock()
        self._records = recorded(store)
        self._scaler = hpa.Autoscaler()
        self._samples: dict[str, metrics.HostMetrics] = {}
        self.next_due = 0.0
        self.sources: dict[str, metrics.Source] = {}

    def records(self) -> dict[tuple[str, str], Record]:
        with self._lock:
            return dict(self._records)

    def decisions(self, key: base.ObjectKey) -> tuple[hpa.Decision, ...]:
        return self._scaler.decisions(key)

    def counts(
        self,
        state: objects.DesiredState,
        executor: protocol.HostExecutor,
        targets: Sequence[hoststate.HostTarget],
        observations: Mapping[str, hoststate.HostObservation],
        now: float,
    ) -> dict[base.ObjectKey, int]:
        """Each HPA-targeted Deployment's replica count for this pass (deciding first when a
        period is due and this process is `active`)."""
        with self._lock:
            hpas = state.autoscalers
            self._start(hpas, state)
            if self.active and hpas and now >= self.next_due:
                self.next_due = now + self.period
                answering = [t for t in targets if (seen := observations.get(t.name)) is not None
                             and seen.reachable]  # never wait for a host that did not answer
                self._evaluate(hpas, state, executor, targets=answering,
                               observations=observations, now=now)  # fmt: skip
            return {h.target_key: _bounded(h, self._records[(h.meta.namespace, h.meta.name)])
                    for h in hpas}  # fmt: skip

    def _start(
        self, hpas: Sequence[autoscaling.HorizontalPodAutoscaler], state: objects.DesiredState
    ) -> None:
        """Records for new HPAs (git's replicas as the start); forget the removed ones."""
        keep = {(h.meta.namespace, h.meta.name) for h in hpas}
        gone = [key for key in self._records if key not in keep]
        new: list[Record] = []
        for h in hpas:
            known = self._records.get((h.meta.namespace, h.meta.name))
            if known is not None and known.target == h.target_name:
                continue
            deployment = state.get(h.target_key)
            start = deployment.replicas if isinstance(deployment, workloads.Deployment) else 1
            new.append(Record(h.meta.namespace, h.meta.name, h.target_name, start))
        for key in gone:
            del self._records[key]
        self._records.update((r.key, r) for r in new)
        self._scaler.forget({h.key for h in hpas})
        if self.active and (gone or new):
            self._save(new, gone)

    def _save(self, records: Sequence[Record], forget: Sequence[tuple[str, str]]) -> None:
        if self._store is not None:
            self._store.save_autoscaler_records([r.as_dict() for r in records], list(forget))

    def _evaluate(
        self,
        hpas: Sequence[autoscaling.HorizontalPodAutoscaler],
        state: objects.DesiredState,
        executor: protocol.HostExecutor,
        *,
        targets: Sequence[hoststate.HostTarget],
        observations: Mapping[str, hoststate.HostObservation],
        now: float,
    ) -> None:
        current = executor.metrics(targets)
        rates: dict[metrics.ContainerKey, metrics.ContainerRate] = {}
        for host, sample in current.items():
            if not sample.reachable:
                continue
            rates.update(metrics.rates(self._samples.get(host), sample))
            self._samples[host] = sample
            if sample.source is not None:
                self.sources[host] = sample.source
        usage = metrics.pod_usage(rates)
        windows = {(ns, pod): rate.window_seconds for (ns, pod, _c), rate in rates.items()}
        changed: list[Record] = []
        for h in hpas:
            deployment = state.get(h.target_key)
            if not isinstance(deployment, workloads.Deployment):
                continue
            record = self._records[(h.meta.namespace, h.meta.name)]
            pods = _pods_of(deployment, observations)
            samples = [_sample(p, deployment, usage, windows, now) for p in pods]
            decision = self._scaler.decide(h, record.replicas, samples, now)
            sources = tuple(sorted({(p.host, str(self.sources[p.host])) for p in pods
                                    if p.host in self.sources}))  # fmt: skip
            updated = dataclasses.replace(
                record, replicas=decision.desired, targets=decision.targets, sources=sources,
                decisions=(*record.decisions, _decision_dict(decision))[-hpa.MAX_DECISIONS:],
                last_scale=now if decision.rescaled else record.last_scale,
                values=tuple((_metric_name(m.metric), m.current, _target(m.metric))
                             for m in decision.metrics if m.current is not None),
                running=len(pods),
            )  # fmt: skip
            self._records[record.key] = updated
            changed.append(updated)
            if decision.rescaled:
                self._rescaled(h, decision)
        self._save(changed, [])

    def _rescaled(self, h: autoscaling.HorizontalPodAutoscaler, decision: hpa.Decision) -> None:
        message = f"New size: {decision.desired}; reason: {decision.reason}"
        log.info("HorizontalPodAutoscaler %s/%s: %s (was %d)", h.meta.namespace, h.meta.name,
                 message, decision.current)  # fmt: skip
        if self._events is not None:
            self._events(cond.EventKind.NORMAL, f"HorizontalPodAutoscaler/{h.meta.namespace}/"
                         f"{h.meta.name}", cond.Reason.SUCCESSFUL_RESCALE, message)  # fmt: skip


def _metric_name(metric: autoscaling.ResourceMetric) -> str:
    """`cpu_utilization_percent`, `memory_average_bytes`, `cpu_average_millicores`."""
    if metric.target_type is autoscaling.TargetType.UTILIZATION:
        return f"{metric.resource}_utilization_percent"
    unit = "millicores" if metric.resource is autoscaling.ResourceName.CPU else "bytes"
    return f"{metric.resource}_average_{unit}"


def _target(metric: autoscaling.ResourceMetric) -> int:
    if metric.target_type is autoscaling.TargetType.UTILIZATION:
        return metric.average_utilization
    return metric.average_value


def recorded_only(state_dir: Path | None = None) -> Autoscaling:
    """For one-shot `apply`: the counts the daemon recorded in its state database (read-only;
    nothing is decided). Without a database (no daemon ran here), git's replicas."""
    path = storemod.path_in(state_dir or storemod.default_state_dir())
    try:
        with storemod.Store(path, create=False) as store:
            return Autoscaling(store)
    except storemod.StoreError:
        return Autoscaling()


def _bounded(h: autoscaling.HorizontalPodAutoscaler, record: Record) -> int:
    """The recorded count within the HPA's current bounds (git may have changed them since);
    0 stays 0 (Kubernetes: scaling disabled)."""
    if record.replicas == 0:
        return 0
    return min(max(record.replicas, h.min_replicas), h.max_replicas)


def _pods_of(
    deployment: workloads.Deployment, observations: Mapping[str, hoststate.HostObservation]
) -> list[hoststate.ObservedPod]:
    owner, namespace = expand.owner_of(deployment), deployment.meta.namespace
    return [p for seen in observations.values() if seen.reachable for p in seen.pods
            if p.namespace == namespace and p.owner == owner]  # fmt: skip


def _epoch(iso: str) -> float:
    try:
        return datetime.datetime.fromisoformat(iso).timestamp() if iso else 0.0
    except ValueError:
        return 0.0


def _requests(deployment: workloads.Deployment) -> tuple[int | None, int | None]:
    """The pod's cpu and memory requests (a limit stands in); None when a container has none."""
    cpu: int | None = 0
    memory: int | None = 0
    for c in deployment.template.spec.containers:
        r = c.resources
        one_cpu = r.cpu_request if r.cpu_request is not None else r.cpu_limit
        one_memory = r.memory_request if r.memory_request is not None else r.memory_limit
        cpu = None if cpu is None or one_cpu is None else cpu + one_cpu
        memory = None if memory is None or one_memory is None else memory + one_memory
    return cpu, memory


def _sample(
    pod: hoststate.ObservedPod,
    deployment: workloads.Deployment,
    usage: Mapping[tuple[str, str], metrics.PodUsage],
    windows: Mapping[tuple[str, str], float],
    now: float,
) -> hpacalc.PodSample:
    cpu, memory = _requests(deployment)
    running = pod.phase is hoststate.PodPhase.RUNNING
    return hpacalc.PodSample(
        pod.name, pod.phase, ready=running and pod.ready is not False,
        started=_epoch(pod.created_at), ready_since=pod.ready_since, cpu_request=cpu,
        memory_request=memory, usage=usage.get(pod.key), sampled_at=now,
        window=windows.get(pod.key, 0.0),
    )  # fmt: skip


def observed_counts(
    hpas: Iterable[autoscaling.HorizontalPodAutoscaler],
    state: objects.DesiredState,
    observations: Mapping[str, hoststate.HostObservation],
) -> dict[base.ObjectKey, int]:
    """For a dry run: the HPA owns replicas, so what runs (within min/max) is no drift."""
    out: dict[base.ObjectKey, int] = {}
    for h in hpas:
        deployment = state.get(h.target_key)
        if not isinstance(deployment, workloads.Deployment):
            continue
        running = len(_pods_of(deployment, observations))
        out[h.target_key] = min(max(running or deployment.replicas, h.min_replicas),
                                h.max_replicas)  # fmt: skip
    return out


def with_replicas(
    state: objects.DesiredState, counts: Mapping[base.ObjectKey, int]
) -> objects.DesiredState:
    """`state` with the Deployments in `counts` at those replica counts."""
    changed = [
        dataclasses.replace(o, replicas=counts[o.key])
        if isinstance(o, workloads.Deployment) and o.key in counts and o.replicas != counts[o.key]
        else o
        for o in state
    ]
    return objects.DesiredState.of(changed)


def step(p: sync.Pass) -> None:
    """Replica counts of HPA-targeted Deployments for this pass (see the module docstring)."""
    state = p.loaded.state
    hpas = state.autoscalers
    scaling = p.controllers.autoscaling if p.controllers is not None else None
    if scaling is None:
        counts = observed_counts(hpas, state, p.observations)
    else:
        counts = scaling.counts(state, p.executor, p.targets, p.observations, p.now)
        if scaling.active and hpas:
            p.requeue.append(max(0.0, scaling.next_due - p.now))
    if counts:
        p.loaded = dataclasses.replace(p.loaded, state=with_replicas(state, counts))
