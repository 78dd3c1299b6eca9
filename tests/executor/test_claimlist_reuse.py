"""A no-op pass lists a host's claim volumes again only after REUSE_FOR seconds or after the
executor changed something (`claimvolumes.observe`): the list call it skips, and a claim
volume made or removed (by this executor) seen at once."""

from __future__ import annotations

from typing import Any

from reconciler.executor import claimvolumes, protocol
from tests.executor import test_claimvolumes as base


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def lists(api: base.FakeApi) -> int:
    return sum(1 for call in api.calls if call.startswith("list"))


def test_a_noop_lists_once_then_reuses_until_reuse_for() -> None:
    api, clock = base.FakeApi({base.VOLUME: {"Labels": base.LABELS}}), Clock()
    session: Any = base.Session(api, protocol.ExecutorStats())
    first = claimvolumes.observe(session, clock)
    for _ in range(5):
        clock.now += 10.0
        assert claimvolumes.observe(session, clock) == first
    assert lists(api) == 1
    clock.now += 10.0  # 60 s after the list
    assert claimvolumes.observe(session, clock) == first and lists(api) == 2


def test_any_change_by_the_executor_lists_again() -> None:
    api, clock, stats = base.FakeApi(), Clock(), protocol.ExecutorStats()
    session: Any = base.Session(api, stats)
    assert claimvolumes.observe(session, clock) == ()
    api.volumes[base.VOLUME] = {"Labels": base.LABELS}  # made by a create on this host
    stats.count(protocol.Mutation.VOLUME_CREATE)
    [found] = claimvolumes.observe(session, clock)
    assert found.volume == base.VOLUME and lists(api) == 2
    del api.volumes[base.VOLUME]
    stats.count(protocol.Mutation.VOLUME_REMOVE)
    assert claimvolumes.observe(session, clock) == () and lists(api) == 3


def test_each_session_lists_for_itself() -> None:
    """A new connection (a new session) asks again."""
    api, clock, stats = base.FakeApi(), Clock(), protocol.ExecutorStats()
    claimvolumes.observe(base.Session(api, stats), clock)  # type: ignore[arg-type]
    claimvolumes.observe(base.Session(api, stats), clock)  # type: ignore[arg-type]
    assert lists(api) == 2
