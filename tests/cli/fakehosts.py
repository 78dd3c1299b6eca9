"""One-shot commands against the fake executor: `common.executor_for` patched to hand every
command the same `FakeExecutor`, with no config file read (the CLI tests' shared set-up)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import pytest

from reconciler.cli import common
from reconciler.executor import fake


def use(monkeypatch: pytest.MonkeyPatch, hosts: Sequence[str]) -> fake.FakeExecutor:
    """A fake executor of `hosts` that every command of this test uses."""
    made = fake.FakeExecutor(list(hosts))

    @contextlib.contextmanager
    def executor_for(args: object) -> Iterator[fake.FakeExecutor]:
        yield made

    monkeypatch.setattr(common, "executor_for", executor_for)
    monkeypatch.setenv("RECONCILER_CONFIG", "/dev/null")
    return made
