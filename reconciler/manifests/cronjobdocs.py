"""batch/v1 CronJob documents in the loader: the per-document checks (a cron expression croniter
parses, an IANA time zone, the jobTemplate checked as a Job's spec) and the build with
Kubernetes' defaults. `checks` and `build` dispatch here by kind.
"""

from __future__ import annotations

from typing import Any

from reconciler.manifests import checking, jobdocs
from reconciler.model import base, cronjobs, workloads
from reconciler.model import diagnostics as dg

Doc = dict[str, Any]


def valid_schedule(schedule: str) -> bool:
    """Five cron fields or a macro (`@hourly`); seconds fields (a sixth) are refused."""
    if not schedule.startswith("@") and len(schedule.split()) != 5:
        return False
    import croniter  # type: ignore[import-untyped]  # noqa: PLC0415 (only when there are CronJobs)

    return bool(croniter.croniter.is_valid(schedule))


def check(checker: checking.Checker) -> None:
    spec = checker.doc["spec"]
    schedule: str = spec["schedule"]
    if schedule.startswith(("TZ=", "CRON_TZ=")):
        checker.error(
            ("spec", "schedule"),
            dg.Code.INVALID_VALUE,
            "a time zone in the schedule is refused (as by Kubernetes)",
            "set spec.timeZone instead",
        )
    elif not valid_schedule(schedule):
        checker.error(
            ("spec", "schedule"),
            dg.Code.INVALID_VALUE,
            f"invalid cron expression {schedule!r}",
            'write five fields (minute hour day-of-month month day-of-week), e.g. "*/5 * * * *"'
            ", or a macro such as @hourly",
        )
    zone = spec.get("timeZone")
    if zone is not None and not _known_zone(zone):
        checker.error(
            ("spec", "timeZone"),
            dg.Code.INVALID_VALUE,
            f"unknown time zone {zone!r}",
            'name an IANA time zone, e.g. "Europe/Paris" or "Etc/UTC"',
        )
    template = spec["jobTemplate"]
    at = ("spec", "jobTemplate")
    meta = template.get("metadata") or {}
    checker.label_map((*at, "metadata", "labels"), meta.get("labels"), annotations=False)
    checker.label_map((*at, "metadata", "annotations"), meta.get("annotations"), annotations=True)
    jobdocs.check_spec(checker, (*at, "spec"), template["spec"])


def _known_zone(zone: str) -> bool:
    import zoneinfo  # noqa: PLC0415 (only when there are CronJobs)

    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def build(
    doc: Doc, meta: base.ObjectMeta, source: base.SourceRef, pod: workloads.PodSpec
) -> cronjobs.CronJob:
    """The CronJob of a valid document; `pod` is its Job template's pod spec."""
    spec = doc["spec"]
    job = jobdocs.build_spec(spec["jobTemplate"]["spec"], meta, source, pod)
    deadline = spec.get("startingDeadlineSeconds")
    return cronjobs.CronJob(
        meta=meta,
        schedule=spec["schedule"],
        job=job,
        time_zone=spec.get("timeZone") or "",
        concurrency_policy=cronjobs.ConcurrencyPolicy(spec.get("concurrencyPolicy") or "Allow"),
        starting_deadline_seconds=None if deadline is None else int(deadline),
        successful_jobs_history_limit=int(spec.get("successfulJobsHistoryLimit", 3)),
        failed_jobs_history_limit=int(spec.get("failedJobsHistoryLimit", 1)),
        suspend=bool(spec.get("suspend", False)),
        source=source,
    )
