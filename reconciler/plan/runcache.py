"""The `PodRun`s of the last plan, kept by what each was built from, for the next plan: a push that
changes one Deployment rebuilds only its pods' runs (labels, spec parts and hash, the costliest
part of `pipeline.build_plan`); every other pod's run is the last one with the new revision label.

`podrun.build(resolved, host, revision, where)` is pure, and the revision enters only its
revision label (never hashed, `labels.UNHASHED`), so a run built for (resolved, host, where) at
one revision is, with that label set, the run at any other. Entries are compared by value (the
resolved pod, the host name, the Host object); what the last plan did not build is dropped, so
the cache holds at most one plan's runs (plus the one being built).
"""

from __future__ import annotations

import dataclasses

from reconciler.model import base, hoststate, objects
from reconciler.plan import podrun, resolve

Inputs = tuple[resolve.ResolvedPod, str, objects.Host | None]


class Key:
    """The inputs of one run, hashed once (a resolved pod's hash walks all of it)."""

    __slots__ = ("_hash", "inputs")

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        self._hash = hash(inputs)  # TypeError: a value of the model that cannot be hashed

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Key) and self._hash == other._hash and (
            self.inputs == other.inputs)  # fmt: skip


class RunCache:
    """Used by one planning thread at a time (`memo.Memo`, the daemon's controllers)."""

    def __init__(self) -> None:
        self._last: dict[Key, hoststate.PodRun] = {}
        self._next: dict[Key, hoststate.PodRun] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._last)

    def begin(self) -> None:
        """A plan starts: what it builds becomes the next generation."""
        self._next = {}

    def end(self) -> None:
        """The plan ended: keep only what it built or reused."""
        self._last, self._next = self._next, {}

    def build(
        self,
        resolved: resolve.ResolvedPod,
        host: str,
        revision: str,
        where: objects.Host | None = None,
    ) -> hoststate.PodRun:
        """`podrun.build(resolved, host, revision, where)`, from the last plan's run when it was
        built from equal inputs."""
        try:
            key = Key((resolved, host, where))
        except TypeError:  # cannot be compared by hash: built every time
            self.misses += 1
            return podrun.build(resolved, host, revision, where)
        run = self._next.get(key) or self._last.get(key)
        if run is None:
            self.misses += 1
            run = podrun.build(resolved, host, revision, where)
        else:
            self.hits += 1
            run = with_revision(run, revision)
        self._next[key] = run
        return run


def with_revision(run: hoststate.PodRun, revision: str) -> hoststate.PodRun:
    """The run with its revision label set to `revision` (nothing else depends on it)."""
    if run.labels.get(hoststate.LABEL_REVISION) == revision:
        return run
    values = dict(run.labels)
    values[hoststate.LABEL_REVISION] = revision
    return dataclasses.replace(run, labels=base.FrozenMap(values))

