"""The batch/v1 Job as the reconciler models it: run-to-completion pods from one template.

Values only. `manifests.jobdocs` builds them from documents; `controllers.jobs` decides, pass by
pass, which pods of a Job run, and `controllers.jobrun` carries that out in each reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.model import base, workloads

DEFAULT_BACKOFF_LIMIT = 6  # Kubernetes' default


@dataclass(frozen=True)
class Job:
    """`spec` of a Job: `completions` pods must succeed, at most `parallelism` at a time; more
    than `backoff_limit` failures, or `active_deadline_seconds` since the start, fail it;
    `ttl_seconds_after_finished` removes its pods that long after it finished (None: never).
    The template's restartPolicy is OnFailure or Never."""

    meta: base.ObjectMeta
    template: workloads.PodTemplate
    completions: int = 1
    parallelism: int = 1
    backoff_limit: int = DEFAULT_BACKOFF_LIMIT
    active_deadline_seconds: int | None = None
    ttl_seconds_after_finished: int | None = None
    source: base.SourceRef | None = field(default=None, compare=False)

    @property
    def key(self) -> base.ObjectKey:
        return base.ObjectKey(base.Kind.JOB, self.meta.namespace, self.meta.name)

    @property
    def owner(self) -> str:
        """The owner label its pods carry, as Deployments' pods carry `Deployment/<name>`."""
        return f"{base.Kind.JOB}/{self.meta.name}"
