"""The Job controller's pure core with a fake clock: pods made up to parallelism, never re-run
once succeeded, failures retried after a doubling back-off until backoffLimit, the deadline,
the TTL, a record that survives a restart (as JSON), and `get jobs`' row."""

from __future__ import annotations

import json
from collections.abc import Sequence

from reconciler.controllers import jobs as jobsctl
from reconciler.model import base, hoststate, jobs, workloads
from reconciler.state import conditions as cond

NEVER = workloads.RestartPolicy.NEVER


def _job(restart: workloads.RestartPolicy = NEVER, **spec: object) -> jobs.Job:
    container = workloads.Container("main", "busybox", command=("true",))
    spec_ = workloads.PodSpec((container,), restart_policy=restart)
    template = workloads.PodTemplate(base.FrozenMap(), base.FrozenMap(), spec_)
    return jobs.Job(base.ObjectMeta("migrate", "batch"), template, **spec)  # type: ignore[arg-type]


def _pod(name: str, phase: hoststate.PodPhase) -> hoststate.ObservedPod:
    return hoststate.ObservedPod("batch", name, "h1", f"id-{name}", "hash", owner="Job/migrate",
                                 phase=phase)  # fmt: skip


RUN, OK, FAIL = hoststate.PodPhase.RUNNING, hoststate.PodPhase.SUCCEEDED, hoststate.PodPhase.FAILED


class Cluster:
    """The pods a real pass would observe: made when the step says create, phases set by hand."""

    def __init__(self, job: jobs.Job) -> None:
        self.job = job
        self.pods: dict[str, hoststate.PodPhase] = {}
        self.record: jobsctl.Record | None = None
        self.steps: list[jobsctl.Step] = []

    def observed(self) -> list[hoststate.ObservedPod]:
        return [_pod(name, phase) for name, phase in sorted(self.pods.items())]

    def run(self, now: float, **kwargs: object) -> jobsctl.Step:
        step = jobsctl.step(self.job, self.record, self.observed(), now, **kwargs)  # type: ignore[arg-type]
        for pod in step.create:
            self.pods[pod.name] = RUN
        for pod in step.remove:
            self.pods.pop(pod.name)
        # the record goes through JSON each pass, as the state database would keep it
        self.record = jobsctl.Record.from_dict(json.loads(json.dumps(step.record.as_dict())))
        self.steps.append(step)
        return step

    def set(self, names: Sequence[str], phase: hoststate.PodPhase) -> None:
        for name in names:
            self.pods[name] = phase


def test_three_completions_two_at_a_time_then_complete_and_never_rerun() -> None:
    c = Cluster(_job(completions=3, parallelism=2))
    first = c.run(0.0)
    assert [p.name for p in first.create] == ["migrate-0", "migrate-1"]
    assert all(p.owner == "Job/migrate" and p.spec.restart_policy is NEVER for p in first.create)
    assert first.events[0][1:] == ("SuccessfulCreate", "Created pod: migrate-0")
    assert c.run(1.0).create == ()  # two still running
    c.set(["migrate-0"], OK)
    assert [p.name for p in c.run(2.0).create] == ["migrate-2"]  # one left to do
    c.set(["migrate-1", "migrate-2"], OK)
    done = c.run(3.0)
    assert done.create == () and done.remove == ()
    assert c.record is not None and c.record.outcome is jobsctl.Outcome.COMPLETE
    (condition,) = done.conditions
    assert (condition.type, condition.status, condition.reason) == (
        "Complete", cond.ConditionStatus.TRUE, "Completed")  # fmt: skip
    assert done.events[0][:2] == (cond.EventKind.NORMAL, "Completed")
    c.pods.clear()  # the pods are gone (a host reset): the finished Job is still not re-run
    again = c.run(4000.0)
    assert again.create == () and again.events == () and again.conditions == done.conditions


def test_failures_back_off_doubling_then_backoff_limit_exceeded() -> None:
    c = Cluster(_job(backoff_limit=2))
    c.run(0.0)
    c.set(["migrate-0"], FAIL)
    waiting = c.run(5.0)
    assert waiting.create == () and waiting.requeue_after == 10.0  # 10 s after the failure
    assert c.run(14.9).create == ()
    assert [p.name for p in c.run(15.0).create] == ["migrate-1"]
    c.set(["migrate-1"], FAIL)
    c.run(20.0)
    assert c.run(39.0).create == () and [p.name for p in c.run(40.0).create] == ["migrate-2"]
    c.set(["migrate-2"], FAIL)
    failed = c.run(41.0)
    assert c.record is not None and (c.record.outcome, c.record.reason) == (
        jobsctl.Outcome.FAILED, "BackoffLimitExceeded")  # fmt: skip
    assert failed.events[0][:2] == (cond.EventKind.WARNING, "BackoffLimitExceeded")
    assert {p.name for p in failed.keep} == {"migrate-0", "migrate-1", "migrate-2"}  # for logs
    assert c.run(1000.0).create == ()


def test_on_failure_counts_the_restarts_made_in_its_pods() -> None:
    c = Cluster(_job(workloads.RestartPolicy.ON_FAILURE, backoff_limit=1))
    c.run(0.0)
    c.set(["migrate-0"], FAIL)  # with OnFailure a failed container is restarted in place
    assert c.run(1.0, restarts=1).create == () and c.record and c.record.outcome is None
    c.run(2.0, restarts=2)
    assert c.record is not None and c.record.reason == "BackoffLimitExceeded"


def test_active_deadline_stops_the_running_pods() -> None:
    c = Cluster(_job(active_deadline_seconds=30, completions=2, parallelism=2))
    assert c.run(0.0).requeue_after == 30.0
    ended = c.run(30.0)
    assert {p.name for p in ended.remove} == {"migrate-0", "migrate-1"}
    assert c.record is not None and c.record.reason == "DeadlineExceeded"
    assert c.pods == {}


def test_ttl_removes_the_pods_of_a_finished_job_once_and_keeps_it_finished() -> None:
    c = Cluster(_job(ttl_seconds_after_finished=60))
    c.run(0.0)
    c.set(["migrate-0"], OK)
    assert c.run(10.0).requeue_after == 60.0
    assert c.run(69.0).remove == ()
    cleaned = c.run(70.0)
    assert [p.name for p in cleaned.remove] == ["migrate-0"] and c.record and c.record.cleaned
    assert c.run(200.0).create == ()


def test_a_blind_pass_makes_no_replacement() -> None:
    c = Cluster(_job())
    assert c.run(0.0, blind=True).create == ()
    assert [p.name for p in c.run(1.0).create] == ["migrate-0"]


def test_a_changed_template_is_flagged_and_a_finished_job_not_rerun() -> None:
    c = Cluster(_job())
    c.run(0.0)
    c.set(["migrate-0"], OK)
    c.run(1.0)
    other = workloads.Container("main", "busybox", command=("false",))
    c.job = jobs.Job(
        c.job.meta,
        workloads.PodTemplate(
            base.FrozenMap(), base.FrozenMap(), workloads.PodSpec((other,), restart_policy=NEVER)
        ),
    )
    changed = c.run(2.0)
    assert changed.template_changed and changed.create == ()


def test_get_jobs_row() -> None:
    c = Cluster(_job(completions=2))
    assert jobsctl.row(c.job, None, 0.0)["completions"] == "0/2"
    c.run(100.0)
    assert jobsctl.row(c.job, c.record, 130.0) == {
        "namespace": "batch", "name": "migrate", "completions": "0/2", "duration": 30.0,
        "age": 30.0, "status": "Running"}  # fmt: skip
    c.set(["migrate-0"], OK)
    c.run(140.0)
    c.set(["migrate-1"], OK)
    c.run(150.0)
    row = jobsctl.row(c.job, c.record, 500.0)
    assert (row["completions"], row["duration"], row["age"], row["status"]) == (
        "2/2", 50.0, 400.0, "Complete")  # fmt: skip
