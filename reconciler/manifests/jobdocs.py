"""batch/v1 Job documents in the loader: the per-document checks (the template's restartPolicy,
parallelism against completions, the template's immutability said as a warning) and the build
with Kubernetes' defaults. `checks` and `build` dispatch here by kind.
"""

from __future__ import annotations

from typing import Any

from reconciler.manifests import checking, podchecks
from reconciler.model import base, jobs, workloads
from reconciler.model import diagnostics as dg

Doc = dict[str, Any]
JOB_RESTART_POLICIES = ("OnFailure", "Never")


def check(checker: checking.Checker) -> None:
    check_spec(checker, ("spec",), checker.doc["spec"])
    checker.warn(
        ("spec", "template"),
        dg.Code.IMMUTABLE_FIELD,
        f"the template of Job {checker.doc['metadata']['name']} is immutable, as in Kubernetes:"
        " once the Job ran, a changed template does not run it again",
        "to run a changed template, give the Job a new name (for example with a version suffix)",
    )


def check_spec(checker: checking.Checker, at: tuple[str, ...], spec: Doc) -> None:
    """A Job's spec at `at` (a Job's `spec`, a CronJob's `spec.jobTemplate.spec`)."""
    template = spec["template"]
    template_meta = template.get("metadata") or {}
    checker.label_map((*at, "template", "metadata", "labels"), template_meta.get("labels"),
                      annotations=False)  # fmt: skip
    checker.label_map((*at, "template", "metadata", "annotations"),
                      template_meta.get("annotations"), annotations=True)  # fmt: skip
    path = (*at, "template", "spec")
    podchecks.pod_spec(checker, path, template["spec"], in_deployment=False)
    policy = template["spec"].get("restartPolicy")
    if policy not in JOB_RESTART_POLICIES:
        checker.error(
            (*path, "restartPolicy") if policy is not None else path,
            dg.Code.INVALID_VALUE,
            f"a Job's pods must restart OnFailure or Never, not {policy or 'Always (default)'}"
            " (Kubernetes' rule: a pod that always restarts never completes)",
            'set restartPolicy: "Never" (a failed pod is replaced) or "OnFailure" (its '
            "containers restart)",
        )
    completions, parallelism = spec.get("completions", 1), spec.get("parallelism", 1)
    if parallelism > completions:
        checker.warn(
            (*at, "parallelism"),
            dg.Code.INVALID_VALUE,
            f"parallelism ({parallelism}) is more than completions ({completions}): at most "
            f"{completions} pod(s) run at once",
            "lower parallelism to at most completions",
        )


def build(
    doc: Doc, meta: base.ObjectMeta, source: base.SourceRef, pod: workloads.PodSpec
) -> jobs.Job:
    """The Job of a valid document; `pod` is its template's spec as `build.pod_spec` made it."""
    return build_spec(doc["spec"], meta, source, pod)


def build_spec(
    spec: Doc, meta: base.ObjectMeta, source: base.SourceRef, pod: workloads.PodSpec
) -> jobs.Job:
    """A Job from a Job's spec (a Job's `spec`, a CronJob's `spec.jobTemplate.spec`)."""
    template = spec["template"]
    template_meta = template.get("metadata") or {}
    completions = int(spec.get("completions", 1))
    return jobs.Job(
        meta=meta,
        template=workloads.PodTemplate(
            labels=base.frozen_map(template_meta.get("labels")),
            annotations=base.frozen_map(template_meta.get("annotations")),
            spec=pod,
        ),
        completions=completions,
        parallelism=min(int(spec.get("parallelism", 1)), completions),
        backoff_limit=int(spec.get("backoffLimit", jobs.DEFAULT_BACKOFF_LIMIT)),
        active_deadline_seconds=_optional(spec, "activeDeadlineSeconds"),
        ttl_seconds_after_finished=_optional(spec, "ttlSecondsAfterFinished"),
        source=source,
    )


def _optional(spec: Doc, name: str) -> int | None:
    value = spec.get(name)
    return None if value is None else int(value)
