"""`apply`'s rollout progress lines: a rollout waiting on the same thing prints its line once,
again only after REPEAT_AFTER seconds, and at once when the line changes."""

from __future__ import annotations

import types
from typing import Any

import pytest

from reconciler.cli import apply


def _status(message: str, available: int = 1) -> Any:
    counts = types.SimpleNamespace(updated=1, replicas=3, available=available)
    return types.SimpleNamespace(
        namespace="shop", name="web", complete=False, failed=False, counts=counts, message=message
    )


def _step(*statuses: Any) -> tuple[Any, Any]:
    return types.SimpleNamespace(deployments=statuses), types.SimpleNamespace(results=())


def test_an_unchanged_waiting_line_is_printed_once_then_after_repeat_after(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = [100.0]
    monkeypatch.setattr(apply.time, "monotonic", lambda: now[0])
    printed: dict[tuple[str, str], tuple[str, float]] = {}
    waiting = _status("waiting for new pod web-1 to be available")
    for _ in range(40):  # one check a second, as a rollout on a failing readiness probe
        apply._print_rollouts(*_step(waiting), False, printed)
        now[0] += 1.0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2  # at 100 s and at 130 s
    assert lines[0] == lines[1]
    assert lines[0].startswith("deployment shop/web: 1 of 3 updated, 1 available: waiting")

    apply._print_rollouts(*_step(_status("waiting for new pod web-1 to be available", 2)),
                          False, printed)  # fmt: skip
    assert "2 available" in capsys.readouterr().out


def test_quiet_prints_only_failed_rollouts(capsys: pytest.CaptureFixture[str]) -> None:
    apply._print_rollouts(*_step(_status("waiting")), True, {})
    assert capsys.readouterr().out == ""
