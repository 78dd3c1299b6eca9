"""`reconciler status` and `reconciler history` against a populated state database, in-process
and as a real command (reading a database another connection keeps open, as the daemon does)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.state import conditions as cond
from reconciler.state import store as storemod

TRUE, FALSE = cond.ConditionStatus.TRUE, cond.ConditionStatus.FALSE


def _populate(state_dir: Path, healthy: bool) -> storemod.Store:
    store = storemod.Store(storemod.path_in(state_dir))
    first = store.begin_sync("1111111", cond.Trigger.STARTUP)
    store.finish_sync(first, cond.SyncResult.SUCCEEDED, {"created": 3, "deleted": 0}, [], 2.5)
    store.set_applied_revision("1111111")
    second = store.begin_sync("2222222", cond.Trigger.PUSH)
    if healthy:
        store.finish_sync(second, cond.SyncResult.SUCCEEDED, {"replaced": 1}, [], 1.0)
        store.set_applied_revision("2222222")
        store.set_conditions(
            [
                cond.Condition("Host", "", "h1", "Ready", TRUE, cond.Reason.HOST_READY),
                cond.Condition("Pod", "default", "web-1", "Ready", TRUE, cond.Reason.SYNCED),
            ]
        )
    else:
        errors = ["h2: SSH connection refused (198.18.0.12:22)", "apps/db.yaml:3: unschedulable"]
        store.finish_sync(second, cond.SyncResult.PARTIAL, {"created": 1, "failed": 2}, errors, 4)
        store.set_applied_revision("2222222")
        store.set_conditions(
            [
                cond.Condition("Host", "", "h1", "Ready", TRUE, cond.Reason.HOST_READY),
                cond.Condition("Host", "", "h2", "Ready", FALSE, cond.Reason.HOST_UNREACHABLE,
                               "connection refused"),
                cond.Condition("Pod", "default", "db-0", "Ready", FALSE, cond.Reason.UNSCHEDULABLE,
                               "0/2 hosts: 1 insufficient memory, 1 not ready"),
            ]
        )  # fmt: skip
    return store


def test_status_text_when_healthy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _populate(tmp_path, healthy=True).close()
    assert main.main(["status", "--state-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Ready:      True  Synced  revision 2222222 applied\n")
    assert "Revision:   2222222 (applied " in out
    assert "Last sync:  #2 2222222 Succeeded at " in out and "(push, 1.00s) replaced=1" in out
    assert "Hosts:      1/1 ready" in out
    assert "Unhealthy" not in out and "Errors" not in out


def test_status_text_when_not_ready(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _populate(tmp_path, healthy=False).close()
    assert main.main(["status", "--state-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "Ready:      False  HostUnreachable  2 object(s) not ready; Host/h2:" in out
    assert "Errors (2):\n  h2: SSH connection refused (198.18.0.12:22)\n" in out
    assert "Hosts:      1/2 ready" in out
    assert "  h2     False    HostUnreachable" in out
    assert "Unhealthy objects (1):" in out
    assert "Pod    default     db-0   False    Unschedulable" in out


def test_status_json_is_the_status_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _populate(tmp_path, healthy=False).close()
    assert main.main(["status", "--state-dir", str(tmp_path), "-o", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["revision"]["applied"] == "2222222"
    assert doc["lastSync"]["result"] == "Partial"
    assert [u["name"] for u in doc["unhealthy"]] == ["db-0"]
    assert doc["hosts"]["ready"] == 1


def test_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _populate(tmp_path, healthy=False).close()
    assert main.main(["history", "--state-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "ID", "STARTED", "REVISION", "TRIGGER", "RESULT", "DURATION", "CHANGES", "ERRORS",
    ]  # fmt: skip
    cells = [re.split(r"\s{3,}", line) for line in lines[1:]]
    assert cells[0][0] == "2" and cells[0][1].endswith("Z")
    assert cells[0][2:] == [
        "2222222", "push", "Partial", "4.00s", "created=1 failed=2",
        "h2: SSH connection refused (198.18.0.12:22) (+1 more)",
    ]  # fmt: skip
    assert cells[1][2:] == ["1111111", "startup", "Succeeded", "2.50s", "created=3", "-"]
    assert main.main(["history", "--state-dir", str(tmp_path), "-n", "1", "-o", "json"]) == 0
    (only,) = json.loads(capsys.readouterr().out)
    assert only["revision"] == "2222222" and only["errors"][1] == "apps/db.yaml:3: unschedulable"


def test_empty_and_missing_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["status", "--state-dir", str(tmp_path / "nowhere")]) == 2
    assert "no state database" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()
    storemod.Store(storemod.path_in(tmp_path)).close()
    assert main.main(["history", "--state-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "no syncs recorded yet\n"
    assert main.main(["status", "--state-dir", str(tmp_path)]) == 1
    assert "Ready:      Unknown  Progressing  no sync finished yet" in capsys.readouterr().out


def test_state_dir_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _populate(tmp_path, healthy=True).close()
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(tmp_path))
    assert main.main(["status", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ready"] is True


def test_history_limit_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main.main(["history", "-n", "0"])
    assert exit_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_the_command_reads_while_the_daemon_holds_the_database(tmp_path: Path) -> None:
    daemon = _populate(tmp_path, healthy=True)  # stays open, in WAL mode, like the daemon's
    try:
        running = daemon.begin_sync("3333333", cond.Trigger.WEBHOOK)
        result = subprocess.run(
            [sys.executable, "-m", "reconciler", "history", "--state-dir", str(tmp_path), "-o",
             "json"],
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert [s["result"] for s in json.loads(result.stdout)] == [
            "Running", "Succeeded", "Succeeded",
        ]  # fmt: skip
        daemon.finish_sync(running, cond.SyncResult.SUCCEEDED, {}, [], 0.1)
    finally:
        daemon.close()
