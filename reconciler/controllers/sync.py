"""One reconcile, as an ordered tuple of steps: load manifests ▶ observe hosts ▶ plan ▶ apply.

`prepare()` runs everything up to the plan (the dry-run `diff` stops there); `converge()` carries
the plan out. The CLI and the daemon both call these, so they share one code path to the plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.executor import protocol
from reconciler.manifests import loader
from reconciler.model import hoststate, objects
from reconciler.plan import pipeline

UNVERSIONED = "unversioned"


class InvalidManifestsError(Exception):
    """The repository does not validate: nothing may be planned or applied from it."""

    def __init__(self, load: loader.LoadResult) -> None:
        super().__init__(f"{len(load.errors)} manifest error(s)")
        self.load = load


@dataclass(frozen=True)
class Prepared:
    """Everything known before changing anything: what is desired, what runs, the plan."""

    load: loader.LoadResult
    targets: tuple[hoststate.HostTarget, ...]
    observations: dict[str, hoststate.HostObservation]
    result: pipeline.PlanResult
    observe_seconds: float = 0.0

    @property
    def unreachable(self) -> tuple[hoststate.HostObservation, ...]:
        return tuple(o for o in self.observations.values() if not o.reachable)


@dataclass
class Converged:
    prepared: Prepared
    results: list[hoststate.ActionResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[hoststate.ActionResult]:
        return [r for r in self.results if r.outcome is not hoststate.Outcome.DONE]


def targets_of(state: objects.DesiredState) -> tuple[hoststate.HostTarget, ...]:
    """How to reach each declared Host."""
    return tuple(
        hoststate.HostTarget(name=h.meta.name, address=h.address, port=h.ssh_port, user=h.ssh_user)
        for h in state.hosts
    )


def revision_of(path: Path) -> str:
    """The git commit of the repository holding `path` (with `-dirty` when the work tree is
    modified), or "unversioned" for a plain directory."""
    import git  # noqa: PLC0415 (gitpython is slow to import; only needed here)

    try:
        repo = git.Repo(path, search_parent_directories=True)
        sha: str = repo.head.commit.hexsha[:12]
        return f"{sha}-dirty" if repo.is_dirty(untracked_files=True) else sha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return UNVERSIONED


def load(path: Path) -> loader.LoadResult:
    """Load and validate; raise InvalidManifests when any error is found."""
    result = loader.load_repository(path)
    if not result.ok:
        raise InvalidManifestsError(result)
    return result


def prepare(path: Path, executor: protocol.HostExecutor, revision: str | None = None) -> Prepared:
    """Steps up to the plan: load ▶ observe ▶ build_plan. No host is changed."""
    loaded = load(path)
    return prepare_loaded(loaded, executor, revision if revision is not None else revision_of(path))


def prepare_loaded(
    loaded: loader.LoadResult, executor: protocol.HostExecutor, revision: str
) -> Prepared:
    """observe ▶ build_plan for manifests already loaded and valid."""
    targets = targets_of(loaded.state)
    started = time.monotonic()
    observations = executor.observe(targets)
    observed_in = time.monotonic() - started
    result = pipeline.build_plan(loaded.state, observations, revision)
    return Prepared(loaded, targets, observations, result, observed_in)


def converge(
    prepared: Prepared,
    executor: protocol.HostExecutor,
    progress: Callable[[hoststate.ActionResult], None] | None = None,
) -> Converged:
    """Carry out the prepared plan; one result per action (hosts in parallel)."""
    started = time.monotonic()
    results = executor.apply(prepared.result.plan, prepared.targets, progress)
    return Converged(prepared, results, time.monotonic() - started)
