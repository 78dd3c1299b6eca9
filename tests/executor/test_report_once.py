"""A failed action is reported once, by whoever asked for it (apply's progress line, the
daemon's log): the executor itself no longer logs it as a warning, which the CLI printed as a
second `reconciler: ...` line on stderr."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import asyncssh
import pytest

from reconciler.cli import main
from reconciler.executor import podman_ssh
from reconciler.model import hoststate
from tests.executor.test_podmanspec import make_run


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_failed_and_skipped_actions_are_not_logged_as_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "kh").write_text("")
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(tmp_path / "key"))
    target = hoststate.HostTarget("h1", "127.0.0.1", _closed_port(), "deploy")
    run = make_run()
    actions = (
        hoststate.Action(hoststate.ActionKind.CREATE, "h1", run.namespace, run.name, run=run),
        hoststate.Action(hoststate.ActionKind.CREATE, "h9", "shop", "web-2",
                         run=make_run(name="web-2", host="h9")),
    )  # fmt: skip
    seen: list[hoststate.ActionResult] = []
    caplog.set_level(logging.DEBUG)
    with podman_ssh.PodmanSSHExecutor(tmp_path / "kh", tmp_path / "key", connect_timeout=2) as ex:
        results = ex.apply(hoststate.Plan(actions), [target], seen.append)
    assert {r.outcome for r in results} == {hoststate.Outcome.SKIPPED, hoststate.Outcome.FAILED}
    assert len(seen) == 2  # the caller hears of each result, once
    warnings = [r for r in caplog.records
                if r.levelno >= logging.WARNING and "web-" in r.getMessage()]  # fmt: skip
    assert warnings == [], [r.getMessage() for r in warnings]


def test_the_cli_warning_handler_stays_quiet_about_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main.log_warnings_to_stderr()
    logging.getLogger("reconciler.executor.podman_ssh").debug("create shop/web-1 on h1: failed")
    assert capsys.readouterr().err == ""
