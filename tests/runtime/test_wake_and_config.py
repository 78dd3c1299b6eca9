"""The daemon's work queue (coalescing) and its configuration file (errors name file and key)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from reconciler.runtime import config, wake


def test_triggers_during_a_reconcile_are_coalesced_into_the_next() -> None:
    queue = wake.Wakeup()
    for trigger in ("push", "push", "webhook", "push"):
        queue.request(trigger)
    assert queue.wait(0.0) == ["push", "webhook"]
    assert queue.wait(0.0) == []


def test_wait_returns_when_a_trigger_arrives_from_another_thread() -> None:
    queue = wake.Wakeup()
    threading.Timer(0.05, queue.request, args=("push",)).start()
    started = time.monotonic()
    assert queue.wait(30.0) == ["push"]
    assert time.monotonic() - started < 29.0


def test_close_wakes_the_loop_for_good() -> None:
    queue = wake.Wakeup()
    threading.Timer(0.05, queue.close).start()
    assert queue.wait(30.0) == []
    assert queue.closed


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_config_defaults_and_local_vs_remote(tmp_path: Path) -> None:
    cfg = config.load(_write(tmp_path, "repository: /srv/git/deploy.git\n"))
    assert cfg.branch == "main" and cfg.resync_interval == 60.0 and not cfg.is_remote
    assert cfg.listen == "127.0.0.1:9400" and cfg.webhook_secret() is None
    remote = config.load(_write(tmp_path, "repository: git@example.test:team/deploy.git\n"))
    assert remote.is_remote
    assert config.load(_write(tmp_path, "repository: https://example.test/x.git\n")).is_remote


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("branch: main\n", "missing required setting(s): repository"),
        ("repository: /r\nresync: 5\n", "unknown setting(s) resync"),
        ("repository: /r\nresync_interval: soon\n", "resync_interval must be a number"),
        ("repository: /r\nresync_interval: 0\n", "resync_interval must be greater than 0"),
        ("repository: /r\nlisten: 9400\n", "listen must be HOST:PORT"),
        ("- a\n", "must be a mapping"),
        ("repository: [\n", "not valid YAML"),
    ],
)
def test_config_errors_name_the_file_and_setting(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(config.ConfigError) as error:
        config.load(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_missing_config_file_and_unreadable_secret(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="cannot read the config file"):
        config.load(tmp_path / "absent.yaml")
    cfg = config.load(_write(tmp_path, f"repository: /r\nwebhook_secret_file: {tmp_path}/no\n"))
    with pytest.raises(config.ConfigError, match="webhook_secret_file"):
        cfg.webhook_secret()
