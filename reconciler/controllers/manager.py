"""The controller manager: builds the controllers one process runs (the daemon for its lifetime,
`apply` for one run) around an executor, and stops their threads. Like kube-controller-manager,
it holds no logic of its own: the Deployment controller is `deployment` + `rollouts`, readiness
is `prober`, container restarts are `lifecycle`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from reconciler.controllers import rollouts, sync
from reconciler.executor import protocol


def start(
    executor: protocol.HostExecutor,
    history: rollouts.History | None = None,
    templates: rollouts.TemplateLoader | None = None,
    wake: Callable[[], None] | None = None,
) -> sync.Controllers:
    """Controllers with their background work started. `wake` is called when something the
    controllers wait for happens (a readiness change, a restart coming due)."""
    tracker = rollouts.Tracker(history or rollouts.MemoryHistory(), templates)
    del executor, wake  # the prober and the restart controller plug in here
    return sync.Controllers(rollouts=tracker, clock=time.time)


def stop(controllers: sync.Controllers) -> None:
    """Stop the controllers' background threads (idempotent)."""
    del controllers
