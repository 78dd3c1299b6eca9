"""`reconciler rollout status|history` against a state database the daemon's way of writing it:
exit 0 when complete, 1 when stuck or rolled back, 2 for an unknown Deployment; the waiting
status follows the conditions as another connection (the daemon) changes them."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from reconciler.cli import main, rollout
from reconciler.state import conditions as cond
from reconciler.state import rolloutstore
from reconciler.state import store as storemod

TRUE, FALSE = cond.ConditionStatus.TRUE, cond.ConditionStatus.FALSE


def _progressing(status: cond.ConditionStatus, reason: str, message: str) -> list[cond.Condition]:
    return [
        cond.Condition("Deployment", "shop", "web", cond.ConditionType.PROGRESSING, status,
                       reason, message),
        cond.Condition("Deployment", "shop", "web", cond.ConditionType.AVAILABLE, TRUE,
                       cond.Reason.MINIMUM_REPLICAS_AVAILABLE, "4 of 4 available"),
    ]


def _rollout(tmp_path: Path, *argv: str) -> int:
    return main.main(["rollout", *argv, "--state-dir", str(tmp_path)])


def test_status_waits_until_complete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = storemod.Store(storemod.path_in(tmp_path))
    store.set_conditions(_progressing(TRUE, cond.Reason.REPLICA_SET_UPDATED, "1 of 4 new pods"))
    waiting = threading.Event()
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:  # the command waits: it has printed the waiting line
        waiting.set()
        real_sleep(min(seconds, 0.05))

    monkeypatch.setattr(rollout.time, "sleep", sleep)

    def finish() -> None:
        waiting.wait(timeout=60)
        store.set_conditions(_progressing(TRUE, cond.Reason.NEW_REPLICA_SET_AVAILABLE, "done"))

    writer = threading.Thread(target=finish)
    writer.start()
    try:
        assert _rollout(tmp_path, "status", "deployment/web", "-n", "shop") == 0
    finally:
        writer.join()
        store.close()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith('Waiting for deployment "web" rollout to finish: 1 of 4 new pods')
    assert out[-1] == 'deployment "web" successfully rolled out'


@pytest.mark.parametrize(
    "reason", [cond.Reason.PROGRESS_DEADLINE_EXCEEDED, cond.Reason.ROLLED_BACK]
)
def test_status_fails_when_stuck_or_rolled_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reason: str
) -> None:
    with storemod.Store(storemod.path_in(tmp_path)) as store:
        store.set_conditions(_progressing(FALSE, reason, "git revert abc123"))
    assert _rollout(tmp_path, "status", "deployment/web", "-n", "shop") == 1
    assert f"{reason}: git revert abc123" in capsys.readouterr().out


def test_status_unknown_deployment_and_bad_target(tmp_path: Path) -> None:
    storemod.Store(storemod.path_in(tmp_path)).close()
    assert _rollout(tmp_path, "status", "deployment/nope") == 2
    assert _rollout(tmp_path, "status", "pod/web") == 2


def test_status_timeout_and_no_wait(tmp_path: Path) -> None:
    with storemod.Store(storemod.path_in(tmp_path)) as store:
        store.set_conditions(_progressing(TRUE, cond.Reason.REPLICA_SET_UPDATED, "waiting"))
    assert _rollout(tmp_path, "status", "deployment/web", "-n", "shop", "--timeout", "0.6") == 1
    assert _rollout(tmp_path, "status", "deployment/web", "-n", "shop", "--no-wait") == 1


def test_history_lists_templates_with_commits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with storemod.Store(storemod.path_in(tmp_path)) as store:
        rollouts = rolloutstore.RolloutStore(store)
        rollouts.started("shop", "web", "aaaa", "1111111111111111", 1000.0)
        rollouts.finished("shop", "web", "aaaa", failed=False, when=1010.0)
        rollouts.started("shop", "web", "bbbb", "2222222222222222", 2000.0)
        rollouts.finished("shop", "web", "bbbb", failed=True, when=2600.0)
    assert _rollout(tmp_path, "history", "deployment/web", "-n", "shop") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:3] == ["REVISION", "TEMPLATE", "COMMIT"]
    assert lines[2].split()[:3] == ["1", "aaaa", "111111111111"] and "complete" in lines[2]
    assert lines[3].split()[:3] == ["2", "bbbb", "222222222222"] and "failed" in lines[3]
    assert _rollout(tmp_path, "history", "deployment/other", "-n", "shop") == 2
