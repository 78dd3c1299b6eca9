"""The last plan and the inputs it was planned from, kept by a long-lived process (the daemon's
`controllers.sync.Controllers`): `pipeline.build_plan` runs again only when an input changed.

Planning is pure (no I/O, no clock, no randomness), so equal inputs give an equal plan; a no-op
resync of an unchanged revision on hosts that run what they ran reuses the last one instead of
resolving, scheduling and hashing every pod again. Inputs are compared by value (identity first:
a revision loaded once is the same object at each resync).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.model import hoststate, objects
from reconciler.plan import expand, pipeline, runcache


@dataclass(frozen=True)
class Inputs:
    """Everything `pipeline.build_plan` reads (the daemon plans with the default policy)."""

    desired: objects.DesiredState
    observations: Mapping[str, hoststate.HostObservation]
    revision: str
    expansion: expand.Expansion | None
    restarts: tuple[hoststate.Action, ...]

    def same(self, other: Inputs) -> bool:
        return (
            self.revision == other.revision
            and _equal(self.desired, other.desired)
            and _equal(self.expansion, other.expansion)
            and _equal(self.restarts, other.restarts)
            and _equal(self.observations, other.observations)
        )


def _equal(a: object, b: object) -> bool:
    return a is b or a == b


class Memo:
    """One entry: the inputs of the last plan and its result. Used from the reconcile's one
    thread at a time (the daemon's loop, one `apply`)."""

    def __init__(self) -> None:
        self._last: tuple[Inputs, pipeline.PlanResult] | None = None
        self.runs = runcache.RunCache()  # a plan that is not the last one reuses unchanged pods'
        self.hits = 0
        self.misses = 0

    def build_plan(
        self,
        desired: objects.DesiredState,
        observations: Mapping[str, hoststate.HostObservation],
        revision: str,
        *,
        expansion: expand.Expansion | None = None,
        restarts: tuple[hoststate.Action, ...] = (),
    ) -> pipeline.PlanResult:
        """`pipeline.build_plan(...)` with these arguments, the last result when they equal the
        last call's."""
        inputs = Inputs(desired, dict(observations), revision, expansion, restarts)
        if self._last is not None and self._last[0].same(inputs):
            self.hits += 1
            return self._last[1]
        self.misses += 1
        result = pipeline.build_plan(
            desired, observations, revision, expansion=expansion, restarts=restarts,
            run_cache=self.runs,
        )  # fmt: skip
        self._last = (inputs, result)
        return result

    def forget(self) -> None:
        self._last = None
