"""The pure parts of `logs`, `exec` and `events`: which pod and container a name means, where
one run of a container ends, the command after `--`, and the events shown (filters, columns,
JSON, watching for new ones)."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
from pathlib import Path

import pytest

from reconciler.cli import events, execcmd, logs, main
from reconciler.executor import apistream, errors, fake
from reconciler.model import hoststate
from reconciler.state import conditions as cond
from reconciler.state import store as storemod
from tests.cli import test_describe
from tests.executor import test_podmanspec


def _pod(namespace: str, name: str, *containers: str, owner: str = "", created: str = ""
         ) -> hoststate.ObservedPod:  # fmt: skip
    return hoststate.ObservedPod(
        namespace=namespace, name=name, host="h1", podman_id=f"id-{name}", spec_hash="x",
        owner=owner, created_at=created,
        containers=tuple(hoststate.ObservedContainer(c, f"c-{name}-{c}", "img", "running")
                         for c in containers),
    )  # fmt: skip


def _seen(*pods: hoststate.ObservedPod) -> dict[str, hoststate.HostObservation]:
    return {"h1": hoststate.HostObservation("h1", True, pods)}


def test_a_pod_is_found_by_name_in_any_namespace_unless_ambiguous() -> None:
    seen = _seen(_pod("a", "web", "app"), _pod("b", "web", "app"), _pod("a", "db", "pg"))
    assert logs.choose_pod(seen, "db", "").namespace == "a"
    assert logs.choose_pod(seen, "pod/web", "b").namespace == "b"
    with pytest.raises(logs.NotFound, match=r"several namespaces \(a, b\)"):
        logs.choose_pod(seen, "web", "")
    with pytest.raises(logs.NotFound, match='pod "nope" not found in namespace a'):
        logs.choose_pod(seen, "nope", "a")
    with pytest.raises(logs.NotFound, match="not deployment/"):
        logs.choose_pod(seen, "deployment/web", "")


def test_job_name_means_its_newest_pod() -> None:
    seen = _seen(_pod("a", "m-1", "c", owner="Job/m", created="2026-01-01T00:00:01Z"),
                 _pod("a", "m-2", "c", owner="Job/m", created="2026-01-01T00:00:09Z"),
                 _pod("a", "x", "c", owner="Job/other"))  # fmt: skip
    assert logs.choose_pod(seen, "job/m", "a").name == "m-2"
    with pytest.raises(logs.NotFound, match="job gone has no pod"):
        logs.choose_pod(seen, "job/gone", "")


def test_the_first_container_is_the_default_and_a_wrong_one_lists_the_others(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pod = _pod("a", "web", "app", "sidecar")
    assert logs.choose_container(pod, "").name == "app"
    assert 'Defaulted container "app" out of: app, sidecar' in capsys.readouterr().err
    assert logs.choose_container(pod, "sidecar").name == "sidecar"
    with pytest.raises(logs.NotFound, match="its containers: app, sidecar"):
        logs.choose_container(pod, "nope")


def test_run_cut_is_a_little_before_podmans_start_time_in_utc() -> None:
    assert logs.run_cut("2026-11-29T11:20:01.123456789Z") == "2026-11-29T11:20:01.023457Z"
    assert logs.run_cut("2026-11-29T12:20:01+01:00") == "2026-11-29T11:20:00.900000Z"
    assert logs.run_cut("not a time") == "not a time"


def _logs_args(*words: str) -> argparse.Namespace:
    return main.build_parser().parse_args(["logs", "web", *words])


def test_log_queries_for_the_flags() -> None:
    running = hoststate.ObservedContainer("app", "c1", "img", "running",
                                          started_at="2026-11-29T11:20:01Z")  # fmt: skip
    plain = logs.query_of(_logs_args(), running, known_restart=False)
    assert (plain.since, plain.until, plain.tail, plain.follow) == ("", "", None, False)
    current = logs.query_of(_logs_args("-f", "--tail", "3"), running, known_restart=True)
    assert current.since == "2026-11-29T11:20:00.900000Z" and current.tail == 3 and current.follow
    earlier = logs.query_of(_logs_args("--previous", "-f"), running, known_restart=False)
    assert earlier.until == "2026-11-29T11:20:00.900000Z" and not earlier.follow
    assert logs.query_of(_logs_args("--since", "1h30m"), running, True).since == "1h30m"
    with pytest.raises(ValueError, match="not a duration"):
        logs.query_of(_logs_args("--since", "yesterday; rm -rf /"), running, False)
    never = hoststate.ObservedContainer("app", "c1", "img", "created")
    with pytest.raises(logs.NotFound, match="previous terminated container"):
        logs.query_of(_logs_args("--previous"), never, False)


def test_exec_takes_options_anywhere_before_the_separator_and_the_argv_untouched() -> None:
    parser = main.build_parser()
    args = parser.parse_args(["exec", "-n", "a", "web", "-c", "app", "-it", "--", "sh", "-c",
                              "echo $0 -n x", "--", "-c"])  # fmt: skip
    assert execcmd.split(args) == ["sh", "-c", "echo $0 -n x", "--", "-c"]
    assert (args.pod, args.namespace, args.container, args.stdin, args.tty) == (
        "web", "a", "app", True, True)  # fmt: skip
    bad = parser.parse_args(["exec", "web", "--bogus", "--", "true"])
    with pytest.raises(ValueError, match="--bogus"):
        execcmd.split(bad)


def test_exec_without_a_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["exec", "web"]) == 2
    assert "no command given" in capsys.readouterr().err


EVENTS = [
    cond.Event(1, 1000.0, cond.EventKind.NORMAL, "Pod/shop/web-1", "Started", "started app"),
    cond.Event(2, 1010.0, cond.EventKind.WARNING, "Pod/shop/web-1", "BackOff",
               "restart in 10s:\n exited with code 1"),
    cond.Event(3, 1020.0, cond.EventKind.NORMAL, "Deployment/shop/web", "ScalingReplicaSet", "up"),
    cond.Event(4, 1030.0, cond.EventKind.WARNING, "Host/h2", "Unreachable", "no answer"),
    cond.Event(5, 1040.0, cond.EventKind.NORMAL, "Pod/other/web-1", "Started", "started"),
]  # fmt: skip


def test_events_filtered_by_namespace_and_object_oldest_first() -> None:
    newest_first = list(reversed(EVENTS))
    assert [e.id for e in events.select(newest_first, "shop", None)] == [1, 2, 3]
    assert [e.id for e in events.select(newest_first, "", ("pod", "web-1"))] == [1, 2, 5]
    assert [e.id for e in events.select(newest_first, "", events.parse_for("deploy/web"))] == [3]
    assert [e.id for e in events.select(newest_first, "", events.parse_for("host/h2"))] == [4]
    with pytest.raises(ValueError, match="KIND/NAME"):
        events.parse_for("web")


def test_events_table_has_kubectls_columns_and_one_line_messages() -> None:
    text = events.render(EVENTS[:2], 1070.0, False, "table", first=True)
    head, first, second = text.splitlines()
    assert head.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert first.split() == ["70s", "Normal", "Started", "pod/web-1", "started", "app"]
    assert second.endswith("BackOff   pod/web-1   restart in 10s: exited with code 1")
    wide = events.render(EVENTS[3:4], 1070.0, True, "table", first=True).splitlines()
    assert wide[0].startswith("NAMESPACE") and wide[1].split()[:2] == ["<none>", "40s"]
    item = json.loads(events.render(EVENTS[:1], 0, True, "json", first=True))
    assert item["involvedObject"] == {"kind": "Pod", "namespace": "shop", "name": "web-1"}
    assert (item["type"], item["reason"]) == ("Normal", "Started")


def test_watch_prints_only_newer_events_of_the_selection(
    capsys: pytest.CaptureFixture[str],
) -> None:
    batches = [EVENTS[:2], EVENTS[:4], EVENTS]
    reads = iter([*batches, EVENTS])

    def read() -> list[cond.Event]:
        return list(reversed(next(reads)))

    code = events.show(read, "shop", None, "table", watch=True, sleep=lambda _s: None, rounds=2)
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("LAST SEEN") and sum("LAST SEEN" in x for x in lines) == 1
    assert [line.split()[3] for line in lines[1:]] == ["pod/web-1", "pod/web-1", "deployment/web"]


def test_events_command_reads_a_real_state_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with storemod.Store(storemod.path_in(tmp_path)) as store:
        store.record_event(cond.EventKind.WARNING, "Pod/shop/web-1", "BackOff", "restart in 10s")
        store.record_event(cond.EventKind.NORMAL, "Pod/other/db-0", "Started", "started pg")
    assert main.main(["events", "--state-dir", str(tmp_path), "-n", "shop", "-o", "json"]) == 0
    (item,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (item["reason"], item["involvedObject"]["name"]) == ("BackOff", "web-1")
    assert main.main(["events", "--state-dir", str(tmp_path), "--for", "po/db-0"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("NAMESPACE") and rows[1].split()[:4] == ["other", "0s", "Normal",
                                                                     "Started"]  # fmt: skip
    assert main.main(["events", "--state-dir", str(tmp_path / "none")]) == 1
    assert "no state database" in capsys.readouterr().err
    assert main.main(["events", "--state-dir", str(tmp_path), "--for", "web"]) == 2


def _repo(tmp_path: Path) -> Path:
    shutil.copytree(test_describe.HOSTS, tmp_path / "hosts")
    return tmp_path


def _fake_with_pod() -> fake.FakeExecutor:
    executor = fake.FakeExecutor(["h1", "h2", "h3"])
    run = test_podmanspec.make_run()
    action = hoststate.Action(hoststate.ActionKind.CREATE, "h1", run.namespace, run.name, run=run)
    (result,) = executor.apply(hoststate.Plan((action,)), [test_describe.TARGET])
    assert result.outcome is hoststate.Outcome.DONE, result.message
    return executor


def test_a_pod_on_a_host_that_is_down_is_exit_4_naming_the_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path)
    executor = _fake_with_pod()
    executor.kill("h1")
    args = main.build_parser().parse_args(["logs", "web-1", "--filename", str(repo)])
    assert logs.logs(executor, repo, args) == 4
    err = capsys.readouterr().err
    assert 'pod "web-1" not found on the reachable hosts; it may run on h1' in err
    executor.revive("h1")
    executor.kill("h3")
    nope = main.build_parser().parse_args(["exec", "nope", "--", "true"])
    assert execcmd.split(nope) == ["true"]
    assert execcmd.execute(executor, repo, nope, ["true"]) == 4  # h3 could hold it
    executor.revive("h3")
    assert execcmd.execute(executor, repo, nope, ["true"]) == 1


def test_a_fake_executor_cannot_stream(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path)
    args = main.build_parser().parse_args(["logs", "web-1", "--filename", str(repo)])
    with pytest.raises(errors.ExecutorConfigError, match="cannot stream"):
        logs.logs(_fake_with_pod(), repo, args)


def test_a_reader_that_went_away_stops_the_output_quietly() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "wb", buffering=0) as closed:
        write = logs.writer(closed, io.BytesIO())
        with pytest.raises(logs.OutputClosed):
            write(apistream.Stream.STDOUT, b"line\n")
