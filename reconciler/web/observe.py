"""GET /v1/observe: the daemon reads its hosts now, over its warm SSH connections, and answers
with what runs there as JSON (`model.observedjson`). A one-shot `reconciler diff`/`get` on the
same machine asks it instead of opening SSH connections itself (`cli.daemonclient`), as kubectl
asks the API server; it plans against the user's own manifests, so the result is the same.

Query: `host=NAME` (repeatable; default every host of the daemon), `detail=1` (restart counts, one
inspect per container), `readiness=1` (one run of every startup and readiness probe, as
`get pods` does). Only hosts the daemon itself manages are read: no address comes from a client.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reconciler.controllers import manager
from reconciler.executor import protocol
from reconciler.model import hoststate, observedjson
from reconciler.web import metrics as metricsmod

log = logging.getLogger(__name__)

ROUTE = "/v1/observe"
Query = Mapping[str, Sequence[str]]
Answer = tuple[int, dict[str, Any]]


def _flag(query: Query, name: str) -> bool:
    return any(value.lower() in ("1", "true", "yes") for value in query.get(name, ()))


class Observer:
    """Answers GET /v1/observe for a daemon: `targets()` gives the hosts of its last reconcile,
    `revision()` the revision it applies. Thread-safe (one HTTP thread per request)."""

    def __init__(
        self,
        executor: protocol.HostExecutor,
        targets: Callable[[], Sequence[hoststate.HostTarget]],
        revision: Callable[[], str | None],
        registry: metricsmod.Registry | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._executor = executor
        self._targets = targets
        self._revision = revision
        self._clock = clock
        self._lock = threading.Lock()
        self.served = 0
        self._counter = None if registry is None else registry.counter(
            "reconciler_observations_served_total",
            "Observations of the hosts served on GET /v1/observe (one-shot diff/get)",
        )  # fmt: skip

    def answer(self, query: Query) -> Answer:
        """The HTTP status and the JSON document; never raises."""
        try:
            return self._answer(query)
        except Exception as exc:  # the executor's own trouble (closed): the client goes direct
            log.exception("observing for %s failed", ROUTE)
            return 503, {"error": f"cannot observe now: {type(exc).__name__}: {exc}"}

    def _answer(self, query: Query) -> Answer:
        known = {t.name: t for t in self._targets()}
        if not known:
            return 503, {"error": "no hosts known yet: the first sync has not read the repository"}
        asked = list(query.get("host", ())) or sorted(known)
        wanted = [known[name] for name in asked if name in known]
        unknown = sorted({name for name in asked if name not in known})
        started = self._clock()
        seen = self._executor.observe(wanted, detail=_flag(query, "detail")) if wanted else {}
        if _flag(query, "readiness") and seen:
            seen = manager.readiness_once(self._executor, seen, {t.name: t for t in wanted})
        with self._lock:
            self.served += 1
            served = self.served
        if self._counter is not None:
            self._counter.inc()
        log.info("served an observation of %d host(s)", len(seen),
                 extra={"hosts": len(seen), "served": served})  # fmt: skip
        return 200, {
            "version": observedjson.VERSION,
            "startedAt": started,
            "observedAt": self._clock(),
            "revision": self._revision() or "",
            "served": served,
            "unknown": unknown,
            "hosts": observedjson.encode(seen, known),
        }
