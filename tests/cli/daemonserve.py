"""A daemon's HTTP listener in the test process for the one-shot commands that ask it: the
example repository applied to the fake executor (then changed in the working copy), the
listener serving GET /v1/observe and, when `plans`, POST /v1/diff; `$RECONCILER_DAEMON` points
the CLI at it and `common.executor_for` records every command that dialled hosts itself."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.cli import common, main
from reconciler.controllers import sync
from reconciler.executor import fake
from reconciler.manifests import loader
from reconciler.model import hoststate
from reconciler.web import dryrun, metrics, observe, server
from tests.manifests.conftest import EXAMPLES


@dataclass
class Setup:
    fake: fake.FakeExecutor
    repo: Path
    dryrun: dryrun.DryRun  # served only when the listener plans
    observer: observe.Observer
    dialled: list[str]
    hosts: list[tuple[hoststate.HostTarget, ...]]
    port: int


@contextlib.contextmanager
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, plans: bool) -> Iterator[Setup]:
    executor = fake.FakeExecutor(["h1", "h2", "h3"])
    dialled: list[str] = []

    @contextlib.contextmanager
    def executor_for(args: object) -> Iterator[fake.FakeExecutor]:
        dialled.append("direct")
        yield executor

    monkeypatch.setattr(common, "executor_for", executor_for)
    monkeypatch.setenv("RECONCILER_CONFIG", "/dev/null")
    monkeypatch.setenv("RECONCILER_DAEMON", "none")
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES, repo)
    assert main.main(["apply", "-q", str(repo)]) == 0
    backend = repo / "shop" / "backend.yaml"  # the working copy now differs from what runs
    backend.write_text(backend.read_text().replace("replicas: 2", "replicas: 3"))
    hosts = [sync.targets_of(loader.load_repository(repo).state)]
    planner = dryrun.DryRun(executor, lambda: hosts[0])  # SOPS key: $SOPS_AGE_KEY_FILE (conftest)
    observer = observe.Observer(executor, lambda: hosts[0], lambda: "r1")
    http = server.HttpServer("127.0.0.1:0", dict, metrics.Registry(), lambda: True,
                             observe=observer.answer,
                             dryrun=planner.answer if plans else None)  # fmt: skip
    http.start()
    monkeypatch.setenv("RECONCILER_DAEMON", f"127.0.0.1:{http.port}")
    dialled.clear()
    try:
        yield Setup(executor, repo, planner, observer, dialled, hosts, http.port)
    finally:
        http.stop()
