"""Observing ahead: a sync of a new revision reads the hosts while it loads that revision (the two
are independent), on a thread of its own. `runtime.reconcile` starts it with the hosts of the
revision last applied; `sync.observe` takes it when the new revision declares the same hosts,
else observes them itself. Every one is waited for before its sync ends (`settle`).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.controllers import hosthealth
from reconciler.executor import protocol
from reconciler.model import hoststate

if TYPE_CHECKING:
    from reconciler.controllers import sync

log = logging.getLogger(__name__)
Observations = dict[str, hoststate.HostObservation]


@dataclass(frozen=True)
class Ahead:
    """One observation under way: of `targets`, started at `started` (monotonic seconds)."""

    targets: tuple[hoststate.HostTarget, ...]
    future: concurrent.futures.Future[tuple[Observations, float]]
    started: float


def start(
    executor: protocol.HostExecutor,
    targets: Sequence[hoststate.HostTarget],
    controllers: sync.Controllers | None,
) -> Ahead:
    """Observe `targets` as `sync.observe` would (`hosthealth.observe`), on a new thread."""
    future: concurrent.futures.Future[tuple[Observations, float]] = concurrent.futures.Future()
    wanted = tuple(targets)

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        began = time.monotonic()
        try:
            found = hosthealth.observe(executor, wanted, controllers)
        except BaseException as exc:  # handed to whoever takes it (it then observes again)
            future.set_exception(exc)
        else:
            future.set_result((found, time.monotonic() - began))

    threading.Thread(target=run, name="observe-ahead", daemon=True).start()
    return Ahead(wanted, future, time.monotonic())


def take(
    ahead: Ahead | None, targets: Sequence[hoststate.HostTarget]
) -> tuple[Observations, float] | None:
    """The observation and its own seconds when it is of exactly `targets` (same names,
    addresses, ports and users, same order) and it succeeded; else None (observe again)."""
    if ahead is None or ahead.targets != tuple(targets):
        return None
    try:
        return ahead.future.result()
    except Exception as exc:  # never the end of a sync: the caller observes itself
        log.warning("observing ahead failed (%s: %s); observing again", type(exc).__name__, exc)
        return None


def settle(ahead: Ahead | None) -> None:
    """Wait for the observation to end (its result unused or used): none outlives its sync,
    so two observes of one daemon never run at once."""
    if ahead is not None:
        concurrent.futures.wait([ahead.future])
