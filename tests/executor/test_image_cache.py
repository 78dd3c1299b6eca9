"""`HostSession.image_present`: the pods of one pass share one `images/{name}/exists` call per
image and host; an image found missing is asked for again; a pulled image counts as present; a
check older than `IMAGE_SEEN_FOR` asks again. A fake Podman client behind a real session."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.executor import hostsession, loop, protocol, sshconn
from reconciler.model import hoststate

TARGET = hoststate.HostTarget("h1", "198.18.0.11", 22, "rc-h1")
IMAGE = "198.18.0.1:5000/demo/busybox:latest"


class _Connection:
    local_socket = "/nonexistent/podman.sock"
    remote_socket = "/run/user/1000/podman/podman.sock"

    async def close(self, *, graceful: bool = True) -> None:
        return None


class _Response:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.text = ""


class _Podman:
    def __init__(self) -> None:
        self.present: set[str] = set()
        self.asked: list[str] = []

    def get(self, path: str, **kwargs: Any) -> _Response:
        self.asked.append(path)
        name = path.removeprefix("/images/").removesuffix("/exists")
        return _Response(204 if name in self.present else 404)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[tuple[hostsession.HostSession, _Podman]]:
    settings = sshconn.SSHSettings(tmp_path / "known_hosts", tmp_path / "id_ed25519")
    runner = loop.LoopThread("test-images")
    made = hostsession.HostSession(
        TARGET, hostsession.Options(ssh=settings), runner, _Connection(),  # type: ignore[arg-type]
        protocol.ExecutorStats(),
    )  # fmt: skip
    podman = _Podman()
    made.api._api = podman  # type: ignore[assignment]
    try:
        yield made, podman
    finally:
        made.close()
        runner.stop()


def test_one_check_per_image_while_it_is_fresh(
    session: tuple[hostsession.HostSession, _Podman], monkeypatch: pytest.MonkeyPatch
) -> None:
    made, podman = session
    assert made.image_present(IMAGE) is False
    assert made.image_present(IMAGE) is False  # missing: asked again each time
    assert len(podman.asked) == 2
    podman.present.add(IMAGE)
    assert all(made.image_present(IMAGE) for _ in range(20))
    assert len(podman.asked) == 3  # found once, then taken as present
    monkeypatch.setattr(hostsession, "IMAGE_SEEN_FOR", 0.0)  # the check is old now
    podman.present.clear()  # removed on the host meanwhile: the stale answer is not kept
    assert made.image_present(IMAGE) is False
    assert len(podman.asked) == 4


def test_a_pulled_image_counts_as_present(session: tuple[hostsession.HostSession, _Podman]) -> None:
    made, podman = session
    made.image_seen(IMAGE)
    assert made.image_present(IMAGE) is True
    assert podman.asked == []


def test_pods_checking_at_once_share_one_check(
    session: tuple[hostsession.HostSession, _Podman],
) -> None:
    """Eight pods of a host start their creates together: one asks, the others wait for it."""
    made, podman = session
    podman.present.add(IMAGE)
    asked = podman.get

    def slow_get(path: str, **kwargs: Any) -> _Response:
        time.sleep(0.05)  # the others arrive while this check is in flight
        return asked(path, **kwargs)

    podman.get = slow_get  # type: ignore[method-assign]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: made.image_present(IMAGE), range(8)))
    assert found == [True] * 8
    assert len(podman.asked) == 1
