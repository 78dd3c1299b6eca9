"""`reconciler history --result R --since DURATION`: the filters, applied before `-n`."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.state import conditions as cond
from reconciler.state import store as storemod


def _sync(store: storemod.Store, revision: str, result: cond.SyncResult) -> None:
    sync_id = store.begin_sync(revision, cond.Trigger.PUSH)
    store.finish_sync(sync_id, result, {}, [], 0.5)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    with storemod.Store(storemod.path_in(tmp_path)) as store:
        _sync(store, "old-failure", cond.SyncResult.FAILED)
        for n in range(5):
            _sync(store, f"ok-{n}", cond.SyncResult.SUCCEEDED)
        _sync(store, "new-failure", cond.SyncResult.FAILED)
    with sqlite3.connect(storemod.path_in(tmp_path)) as db:  # two hours ago
        db.execute("UPDATE syncs SET started = ? WHERE revision = 'old-failure'",
                   (time.time() - 7200,))  # fmt: skip
    return tmp_path


def _history(state: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert main.main(["history", "--state-dir", str(state), "-o", "json", *argv]) == 0
    return [s["revision"] for s in json.loads(capsys.readouterr().out)]


def test_result_and_since_filter_before_the_limit(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _history(state, capsys, "--result", "Failed") == ["new-failure", "old-failure"]
    assert _history(state, capsys, "--result", "Failed", "--since", "1h") == ["new-failure"]
    assert _history(state, capsys, "--result", "Succeeded", "-n", "2") == ["ok-4", "ok-3"]
    assert len(_history(state, capsys, "--since", "2d")) == 7


def test_a_bad_duration_is_a_usage_error(state: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main.main(["history", "--state-dir", str(state), "--since", "ten minutes"])
    assert exit_info.value.code == 2
