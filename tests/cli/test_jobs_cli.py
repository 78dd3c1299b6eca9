"""`reconciler get jobs`: kubectl's columns from the daemon's records, or, for a Job it has no
record of, from the pods seen on the hosts; kubectl's short durations."""

from __future__ import annotations

import json

from reconciler.cli import get
from reconciler.cli import jobs as jobscli
from reconciler.controllers import jobs as jobctl
from reconciler.model import base, cronjobs, hoststate, jobs, objects, workloads


def _job(name: str, completions: int = 2) -> jobs.Job:
    container = workloads.Container("main", "busybox", command=("true",))
    spec = workloads.PodSpec((container,), restart_policy=workloads.RestartPolicy.NEVER)
    template = workloads.PodTemplate(base.FrozenMap(), base.FrozenMap(), spec)
    return jobs.Job(base.ObjectMeta(name, "batch"), template, completions=completions)


def _seen(*pods: hoststate.ObservedPod) -> dict[str, hoststate.HostObservation]:
    return {"h1": hoststate.HostObservation("h1", reachable=True, pods=pods)}


def _pod(name: str, owner: str, phase: hoststate.PodPhase) -> hoststate.ObservedPod:
    return hoststate.ObservedPod("batch", name, "h1", f"id-{name}", "hash", owner=owner,
                                 phase=phase, created_at="2026-01-01T00:00:00+00:00")  # fmt: skip


def test_rows_from_records_and_from_pods() -> None:
    state = objects.DesiredState.of([_job("done"), _job("seen"), _job("new")])
    now = 1_000_000.0
    record = jobctl.Record("batch", "done", "hash", started=now - 200, succeeded=("a", "b"),
                           outcome=jobctl.Outcome.COMPLETE, finished=now - 170)  # fmt: skip
    ok = hoststate.PodPhase.SUCCEEDED
    observations = _seen(_pod("seen-0", "Job/seen", ok), _pod("other", "Job/done", ok))
    rows = {r["name"]: r for r in jobscli.rows(state, "", {("batch", "done"): record},
                                               observations, now)}  # fmt: skip
    assert (rows["done"]["status"], rows["done"]["completions"]) == ("Complete", "2/2")
    assert (rows["done"]["duration"], rows["done"]["age"]) == ("30s", "3m20s")
    assert (rows["seen"]["status"], rows["seen"]["completions"]) == ("Running", "1/2")
    assert (rows["new"]["status"], rows["new"]["completions"]) == ("Pending", "0/2")
    assert jobscli.rows(state, "elsewhere", {}, {}, now) == []


def test_short_durations_as_kubectl() -> None:
    assert [jobscli.span(s) for s in (5, 119, 192, 3600, 3 * 3600 + 240, 50 * 3600)] == [
        "5s", "119s", "3m12s", "1h0m", "3h4m", "2d2h",
    ]  # fmt: skip


def test_get_jobs_is_a_resource_and_prints_json(capsys: object) -> None:
    assert get.RESOURCES["jobs"] == "jobs" and get.RESOURCES["job"] == "jobs"
    state = objects.DesiredState.of([_job("one", completions=1)])
    get.emit(jobscli.rows(state, "", {}, {}), "json", jobscli.COLUMNS, "JobList")
    out = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert out["items"][0]["completions"] == "0/1"


def test_cron_rows_without_a_daemon(monkeypatch: object, tmp_path: object) -> None:
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(tmp_path))  # type: ignore[attr-defined]
    cron = cronjobs.CronJob(base.ObjectMeta("tick", "batch"), "*/5 * * * *", _job("tick"),
                            time_zone="Etc/UTC", suspend=True)  # fmt: skip
    state = objects.DesiredState.of([cron])
    (row,) = jobscli.cron_rows(state, "", {}, 1_000_000.0)
    assert row["schedule"] == "*/5 * * * * (Etc/UTC)" and row["suspend"] == "True"
    assert (row["active"], row["lastSchedule"]) == (0, "<none>")
    assert get.RESOURCES["cj"] == "cronjobs"
