"""The controller manager: builds the controllers one process runs (the daemon for its lifetime,
`apply` for one run) around an executor, wires them to each other, and stops their threads.
Like kube-controller-manager it holds no logic of its own: the Deployment controller is
`deployment` + `rollouts`, readiness and liveness come from `prober`, container restarts with
back-off from `lifecycle`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from reconciler.controllers import backoff, hosthealth, lifecycle, probestate, rollouts, sync
from reconciler.controllers import prober as proberctl
from reconciler.executor import protocol

EventSink = Callable[[probestate.ProbeEvent], None]


def start(
    executor: protocol.HostExecutor,
    history: rollouts.History | None = None,
    templates: rollouts.TemplateLoader | None = None,
    *,
    wake: Callable[[], None] | None = None,
    restart_records: backoff.RecordStore | None = None,
    probe_events: EventSink | None = None,
    hosts: hosthealth.Monitor | None = None,
) -> sync.Controllers:
    """Controllers with their background work started.

    `wake` is called (from another thread) when something the controllers wait for happens: a
    readiness change, a restart coming due. A failed liveness probe makes a restart due.
    `restart_records` keeps restart counts and back-offs across restarts of the process;
    `probe_events` hears every failed probe (Kubernetes' `Unhealthy` events)."""
    tracker = rollouts.Tracker(history or rollouts.MemoryHistory(), templates)
    prober = proberctl.Prober(executor)
    restarts = lifecycle.Restarts(store=restart_records)
    hosts = hosts if hosts is not None else hosthealth.Monitor(None)  # one-shot: no checks
    controllers = sync.Controllers(tracker, prober, restarts, time.time, hosts=hosts)
    prober.on_liveness_failure(restarts.liveness_failed)
    for callback in (controllers.changed.set, wake):
        if callback is not None:
            prober.on_change(callback)
            restarts.on_due(callback)
    if probe_events is not None:
        prober.on_event(probe_events)
    prober.start()
    return controllers


def stop(controllers: sync.Controllers) -> None:
    """Stop the controllers' background threads (idempotent)."""
    if controllers.prober is not None:
        controllers.prober.stop()
    if controllers.restarts is not None:
        controllers.restarts.close()
    if controllers.hosts is not None:
        controllers.hosts.stop()


def readiness_once(
    executor: protocol.HostExecutor, observations: sync.Observations, targets: sync.Targets
) -> sync.Observations:
    """Observations with readiness from one run of every startup and readiness probe (for
    one-shot views: `get pods`, `get deployments`)."""
    prober = proberctl.Prober(executor)
    try:
        return prober.probe_once(observations, targets)
    finally:
        prober.stop()
