"""The batch/v1 CronJob as the reconciler models it: a Job made on a cron schedule.

Values only. `manifests.cronjobdocs` builds them; `controllers.cronrun` decides, by the daemon's
clock, when each CronJob makes a Job (a `jobs.Job` named `<cronjob>-<minutes since the epoch>`)
and which of its Jobs are kept (the history limits).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from reconciler.model import base, jobs


class ConcurrencyPolicy(enum.StrEnum):
    ALLOW = "Allow"  # a run while another is active runs too
    FORBID = "Forbid"  # a run while another is active waits (or is missed)
    REPLACE = "Replace"  # a run while another is active removes it first


@dataclass(frozen=True)
class CronJob:
    """`spec` of a CronJob. `job` is its jobTemplate as a Job named like the CronJob (each run
    is that Job under its own name); `time_zone` "" is the daemon's local time."""

    meta: base.ObjectMeta
    schedule: str
    job: jobs.Job
    time_zone: str = ""
    concurrency_policy: ConcurrencyPolicy = ConcurrencyPolicy.ALLOW
    starting_deadline_seconds: int | None = None
    successful_jobs_history_limit: int = 3
    failed_jobs_history_limit: int = 1
    suspend: bool = False
    source: base.SourceRef | None = field(default=None, compare=False)

    @property
    def key(self) -> base.ObjectKey:
        return base.ObjectKey(base.Kind.CRON_JOB, self.meta.namespace, self.meta.name)

    def run_name(self, scheduled: float) -> str:
        """The name of the Job made for the run scheduled at `scheduled` (epoch seconds), as
        Kubernetes names it: `<cronjob>-<scheduled time in minutes>`."""
        return f"{self.meta.name}-{int(scheduled // 60)}"
