"""The exit stream without a host: parsing Podman's died events, and `ExitWatcher` reading a
chunked, never-ending HTTP answer from a stand-in Podman on a local unix socket (exits handed on
as they arrive, a broken stream reopened, streams stopped cleanly)."""

from __future__ import annotations

import json
import queue
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.executor import errors, exitwatch
from reconciler.model import hoststate

TARGET = hoststate.HostTarget("h1", "10.0.0.1")
WAIT = 10.0  # generous bound for a thread to act; never a timing assertion


def _event(
    container: str = "web", code: str = "1", managed: bool = True, action: str = "died"
) -> dict[str, Any]:
    attributes = {
        "containerExitCode": code,
        "image": "busybox",
        "name": f"shop_web-1_{container}",
        hoststate.LABEL_NAMESPACE: "shop",
        hoststate.LABEL_NAME: "web-1",
    }
    if container:
        attributes[hoststate.LABEL_CONTAINER] = container
    if managed:
        attributes[hoststate.MANAGED_BY] = hoststate.MANAGER
    return {
        "status": action, "id": "abc123", "Type": "container", "Action": action,
        "Actor": {"ID": "abc123", "Attributes": attributes},
        "time": 1700000000, "timeNano": 1700000000250000000,
    }  # fmt: skip


def test_parse_a_died_event_of_a_managed_container() -> None:
    found = exitwatch.parse("h1", json.dumps(_event()).encode())
    assert found is not None
    assert found == hoststate.ContainerExit("h1", "shop", "web-1", "web", "abc123", 1, found.time)
    assert found.time == pytest.approx(1700000000.25)


@pytest.mark.parametrize(
    "entry",
    [
        _event(managed=False),
        _event(container=""),  # the infra container: the pod's labels, no container label
        _event(action="start"),
        {**_event(), "Type": "pod"},
        [1, 2],
    ],
)
def test_parse_ignores_everything_else(entry: object) -> None:
    assert exitwatch.parse("h1", json.dumps(entry)) is None


@pytest.mark.parametrize("line", [b"", b"\n", b"{not json", b"null"])
def test_parse_ignores_junk(line: bytes) -> None:
    assert exitwatch.parse("h1", line) is None


def test_the_request_asks_for_died_events_of_managed_containers() -> None:
    path, _, query = exitwatch.request_path().partition("?")
    assert path.endswith("/libpod/events")
    params = urllib.parse.parse_qs(query)
    assert params["stream"] == ["true"]
    assert json.loads(params["filters"][0]) == {
        "type": ["container"],
        "event": ["died"],
        "label": [f"{hoststate.MANAGED_BY}={hoststate.MANAGER}"],
    }


class StandIn:
    """A Podman API socket that answers each events request with a chunked stream whose lines
    the test feeds (`send`), or ends (`hang_up`)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen()
        self.requests: list[str] = []
        self.clients: queue.Queue[socket.socket] = queue.Queue()
        self.current: socket.socket | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            head = b""
            while b"\r\n\r\n" not in head:
                head += client.recv(4096)
            self.requests.append(head.decode().split("\r\n", 1)[0])
            client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
            self.clients.put(client)

    def accepted(self) -> socket.socket:
        self.current = self.clients.get(timeout=WAIT)
        return self.current

    def send(self, text: str) -> None:
        assert self.current is not None
        data = text.encode()
        self.current.sendall(b"%x\r\n%s\r\n" % (len(data), data))

    def hang_up(self) -> None:
        assert self.current is not None
        self.current.close()

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[StandIn]:
    made = StandIn(tmp_path / "podman.sock")
    yield made
    made.close()


def test_exits_are_handed_on_as_they_arrive_and_a_broken_stream_reopens(
    stand_in: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exitwatch, "RETRY_FIRST", 0.01)
    got: queue.Queue[hoststate.ContainerExit] = queue.Queue()
    watcher = exitwatch.ExitWatcher(lambda target: stand_in.path, connect_timeout=5)
    try:
        watcher.watch([TARGET], got.put)
        stand_in.accepted()
        assert watcher.connected("h1", WAIT)
        assert stand_in.requests[0].startswith("GET /v4.0.0/libpod/events?stream=true&filters=")
        line = json.dumps(_event(code="3"))
        stand_in.send(line[:40])  # a line split across chunks
        stand_in.send(line[40:] + "\n" + json.dumps(_event(managed=False)) + "\n")
        stand_in.send(json.dumps(_event(container="side", code="0")) + "\n")
        first, second = got.get(timeout=WAIT), got.get(timeout=WAIT)
        assert (first.container, first.exit_code) == ("web", 3)
        assert (second.container, second.exit_code) == ("side", 0)

        stand_in.hang_up()  # Podman restarted, or the SSH connection was lost
        stand_in.accepted()
        stand_in.send(json.dumps(_event(code="137")) + "\n")
        assert got.get(timeout=WAIT).exit_code == 137
        assert len(stand_in.requests) == 2
    finally:
        watcher.close()
    assert not any(t.name == "exits-h1" for t in threading.enumerate())
    assert got.empty()


def test_an_unreachable_host_is_retried_and_stopping_ends_the_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exitwatch, "RETRY_FIRST", 0.01)
    tried = threading.Semaphore(0)

    def locate(target: hoststate.HostTarget) -> str:
        tried.release()
        raise errors.HostUnreachable(target.name, target.address, "no route")

    watcher = exitwatch.ExitWatcher(locate)
    watcher.watch([TARGET], lambda exit: None)
    assert tried.acquire(timeout=WAIT) and tried.acquire(timeout=WAIT)  # tried again
    assert not watcher.connected("h1")
    watcher.watch([], lambda exit: None)  # the host left the repository: its stream ends
    assert not any(t.name == "exits-h1" for t in threading.enumerate())
    watcher.close()
    with pytest.raises(errors.ExecutorError):
        watcher.watch([TARGET], lambda exit: None)


def test_a_changed_target_gets_a_new_stream(stand_in: StandIn) -> None:
    watcher = exitwatch.ExitWatcher(lambda target: stand_in.path)
    try:
        watcher.watch([TARGET], lambda exit: None)
        first = stand_in.accepted()
        watcher.watch([TARGET], lambda exit: None)  # the same: kept
        watcher.watch([hoststate.HostTarget("h1", "10.0.0.9")], lambda exit: None)
        stand_in.accepted()
        assert first.recv(10) == b""  # the old stream was closed
        assert len(stand_in.requests) == 2
    finally:
        watcher.close()
