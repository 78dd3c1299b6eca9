"""Rollout progress across reconciles: which template each Deployment should run (its own, or a
rollback target), whether its rollout is stuck past `progressDeadlineSeconds`, its conditions,
and the history of templates it ran (with the commit that introduced each).

`deployment.step` is one pure step; the `Tracker` is the memory between steps. The daemon keeps
its history in the state database (`state.rolloutstore.RolloutStore`); a one-shot `apply` in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.controllers import deployment as deploymentctl
from reconciler.model import workloads
from reconciler.plan import expand
from reconciler.state import conditions as cond

log = logging.getLogger(__name__)
HASHES_KEPT = 4096  # template hashes a Tracker remembers (the Deployments of a few revisions)

TemplateLoader = Callable[[str, str, str], workloads.PodTemplate | None]
"""(revision, namespace, name) -> that Deployment's pod template at that commit, or None."""


class History(Protocol):
    def started(self, namespace: str, name: str, template_hash: str, revision: str,
                when: float) -> None: ...  # fmt: skip

    def finished(self, namespace: str, name: str, template_hash: str, *, failed: bool,
                 when: float) -> None: ...  # fmt: skip

    def history(self, namespace: str, name: str) -> list[cond.RolloutRecord]: ...

    def set_rollback(self, rollback: cond.Rollback | None, namespace: str, name: str) -> None: ...

    def rollback(self, namespace: str, name: str) -> cond.Rollback | None: ...


class MemoryHistory:
    """`History` in memory, for a one-shot `apply` and for tests."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], cond.RolloutRecord] = {}
        self.rollbacks: dict[tuple[str, str], cond.Rollback] = {}

    def started(self, namespace: str, name: str, template_hash: str, revision: str,
                when: float) -> None:  # fmt: skip
        self.rows.setdefault(
            (namespace, name, template_hash),
            cond.RolloutRecord(namespace, name, template_hash, revision, when),
        )

    def finished(self, namespace: str, name: str, template_hash: str, *, failed: bool,
                 when: float) -> None:  # fmt: skip
        row = self.rows.get((namespace, name, template_hash))
        if row is not None:
            done = {"failed": when} if failed else {"completed": when}
            self.rows[(namespace, name, template_hash)] = cond.RolloutRecord(
                **{**row.__dict__, **done}
            )

    def history(self, namespace: str, name: str) -> list[cond.RolloutRecord]:
        rows = [r for r in self.rows.values() if (r.namespace, r.name) == (namespace, name)]
        return sorted(rows, key=lambda r: r.started)

    def set_rollback(self, rollback: cond.Rollback | None, namespace: str, name: str) -> None:
        if rollback is None:
            self.rollbacks.pop((namespace, name), None)
        else:
            self.rollbacks[(namespace, name)] = rollback

    def rollback(self, namespace: str, name: str) -> cond.Rollback | None:
        return self.rollbacks.get((namespace, name))


@dataclass(frozen=True)
class Target:
    template: workloads.PodTemplate
    template_hash: str
    stalled: bool
    rollback: cond.Rollback | None = None


@dataclass(frozen=True)
class Status:
    """A Deployment's rollout as `get deployments`, `status` and `/status` show it."""

    namespace: str
    name: str
    counts: deploymentctl.Counts
    conditions: tuple[cond.Condition, ...]
    complete: bool
    failed: bool
    message: str = ""


@dataclass
class _Progress:
    template_hash: str
    progressed_at: float
    signature: tuple[int, ...] = ()
    completed: bool = False
    failed: bool = False


@dataclass
class Tracker:
    history: History = field(default_factory=MemoryHistory)
    templates: TemplateLoader | None = None
    _progress: dict[tuple[str, str], _Progress] = field(default_factory=dict)
    _hashes: dict[int, tuple[workloads.PodTemplate, str]] = field(default_factory=dict)
    """Template hashes by the template's id (the template is kept: its id stays its own); a
    revision loaded once hands the same templates to every resync."""

    def template_hash(self, template: workloads.PodTemplate) -> str:
        """`expand.template_hash(template)`, computed once per template object."""
        known = self._hashes.get(id(template))
        if known is not None and known[0] is template:
            return known[1]
        if len(self._hashes) >= HASHES_KEPT:
            self._hashes.clear()
        digest = expand.template_hash(template)
        self._hashes[id(template)] = (template, digest)
        return digest

    def target(self, deployment: workloads.Deployment, now: float) -> Target:
        """The template `deployment` should run now, and whether its rollout is stalled."""
        ns, name = deployment.meta.namespace, deployment.meta.name
        git_hash = self.template_hash(deployment.template)
        rollback = self.history.rollback(ns, name)
        if rollback is not None and rollback.failing_hash != git_hash:
            log.info("deployment %s/%s: its template changed in git; rollback ended", ns, name)
            self.history.set_rollback(None, ns, name)
            rollback = None
        if rollback is not None:
            template = self._load(rollback.target_revision, deployment, rollback.target_hash)
            if template is not None:
                return Target(template, rollback.target_hash, False, rollback)
        progress = self._progress.get((ns, name))
        stalled = progress is not None and progress.template_hash == git_hash and progress.failed
        if stalled and deployment.rollback_on_failure:
            back = self._rollback(deployment, git_hash, now)
            if back is not None:
                return back
        return Target(deployment.template, git_hash, stalled)

    def _rollback(
        self, deployment: workloads.Deployment, failing: str, now: float
    ) -> Target | None:
        ns, name = deployment.meta.namespace, deployment.meta.name
        good = [
            r
            for r in self.history.history(ns, name)
            if r.completed is not None and r.template_hash != failing
        ]
        for record in sorted(good, key=lambda r: r.completed or 0.0, reverse=True)[:1]:
            template = self._load(record.revision, deployment, record.template_hash)
            if template is None:
                return None
            rollback = cond.Rollback(failing, record.template_hash, record.revision, now)
            self.history.set_rollback(rollback, ns, name)
            log.warning(
                "deployment %s/%s: rollout of template %s missed its deadline; rolling back to "
                "template %s of commit %s", ns, name, failing, record.template_hash,
                record.revision[:12],
            )  # fmt: skip
            self._progress.pop((ns, name), None)
            return Target(template, record.template_hash, False, rollback)
        return None

    def _load(
        self, revision: str, deployment: workloads.Deployment, wanted_hash: str
    ) -> workloads.PodTemplate | None:
        if self.templates is None:
            return None
        template = self.templates(revision, deployment.meta.namespace, deployment.meta.name)
        if template is None or expand.template_hash(template) != wanted_hash:
            log.warning("deployment %s/%s: template %s of commit %s cannot be loaded",
                        deployment.meta.namespace, deployment.meta.name, wanted_hash,
                        revision[:12])  # fmt: skip
            return None
        return template

    def record(
        self,
        deployment: workloads.Deployment,
        target: Target,
        step: deploymentctl.Step,
        revision: str,
        now: float,
    ) -> Status:
        """Remember the step's progress; the Deployment's status after it."""
        ns, name = deployment.meta.namespace, deployment.meta.name
        progress = self._progress.get((ns, name))
        if progress is None or progress.template_hash != step.template_hash:
            progress = _Progress(step.template_hash, now)
            for row in self.history.history(ns, name):
                if row.template_hash == step.template_hash:
                    progress.failed = row.failed is not None and row.completed is None
            self._progress[(ns, name)] = progress
            self.history.started(ns, name, step.template_hash, revision, now)
        counts = step.counts
        signature = (counts.updated, counts.updated_available, counts.current, len(step.remove))
        if signature != progress.signature:
            if progress.signature:  # progress since the last step: no longer stuck
                progress.failed = False
            progress.signature, progress.progressed_at = signature, now
        if step.complete:
            if not progress.completed:
                self.history.finished(ns, name, step.template_hash, failed=False, when=now)
            progress.completed, progress.failed = True, False
        elif (
            not progress.failed
            and not progress.completed
            and now - progress.progressed_at > deployment.progress_deadline_seconds
        ):
            progress.failed = True
            self.history.finished(ns, name, step.template_hash, failed=True, when=now)
        return self._status(deployment, target, step, progress)

    def _status(
        self,
        deployment: workloads.Deployment,
        target: Target,
        step: deploymentctl.Step,
        progress: _Progress,
    ) -> Status:
        ns, name = deployment.meta.namespace, deployment.meta.name
        counts = step.counts
        true, false = cond.ConditionStatus.TRUE, cond.ConditionStatus.FALSE
        if target.rollback is not None:
            failing = self._introduced(ns, name, target.rollback.failing_hash)
            message = (
                f"template {target.rollback.failing_hash} (commit {failing[:12]}) failed to roll "
                f"out; rolled back to template {target.rollback.target_hash} (commit "
                f"{target.rollback.target_revision[:12]}) until the Deployment changes in git: "
                f"git revert {failing[:12]}"
            )
            status, reason = false, cond.Reason.ROLLED_BACK
        elif progress.failed:
            commit = self._introduced(ns, name, step.template_hash)
            message = (
                f"rollout of template {step.template_hash} (commit {commit[:12]}) made no "
                f"progress for {deployment.progress_deadline_seconds}s: {step.waiting}; the old "
                "pods keep serving"
            )
            status, reason = false, cond.Reason.PROGRESS_DEADLINE_EXCEEDED
        elif step.complete:
            message = f"{counts.updated} of {counts.replicas} pods updated and available"
            status, reason = true, cond.Reason.NEW_REPLICA_SET_AVAILABLE
        else:
            message = step.waiting
            status, reason = true, cond.Reason.REPLICA_SET_UPDATED
        _, unavailable = deploymentctl.surge_and_unavailable(deployment)
        enough = counts.available >= counts.replicas - unavailable
        kind = str(deployment.key.kind)
        conditions = (
            cond.Condition(kind, ns, name, cond.ConditionType.PROGRESSING, status, reason,
                           message),
            cond.Condition(
                kind, ns, name, cond.ConditionType.AVAILABLE, true if enough else false,
                cond.Reason.MINIMUM_REPLICAS_AVAILABLE if enough
                else cond.Reason.MINIMUM_REPLICAS_UNAVAILABLE,
                f"{counts.available} of {counts.replicas} available",
            ),
        )  # fmt: skip
        return Status(ns, name, counts, conditions, step.complete and target.rollback is None,
                      progress.failed or target.rollback is not None, message)  # fmt: skip

    def _introduced(self, namespace: str, name: str, template_hash: str) -> str:
        for row in self.history.history(namespace, name):
            if row.template_hash == template_hash:
                return row.revision
        return "unknown"
