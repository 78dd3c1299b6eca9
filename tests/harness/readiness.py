"""Readiness as the hosts themselves show it, for rollout end-to-end tests: each host's Podman API
socket (as root, not through the reconciler) lists a namespace's containers, and an HTTP GET on
each pod's loopback probe port inside the host's network namespace says whether it serves.

`HostViews` keeps one thread per host that entered that host's network namespace (`setns`), so
127.0.0.1 is the host's own loopback; `Watcher` samples every host together at ~20 Hz.
"""

from __future__ import annotations

import ctypes
import http.client
import json
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tests.harness.hostsetup import Host

CLONE_NEWNET = 0x40000000
API = "/v4.0.0/libpod"
LABEL_NAMESPACE = "reconciler.dev/namespace"
LABEL_NAME = "reconciler.dev/name"
LABEL_CONTAINER = "reconciler.dev/container"
LABEL_TEMPLATE_HASH = "reconciler.dev/template-hash"
LABEL_PROBE_PORTS = "reconciler.dev/probe-ports"
T = TypeVar("T")


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket (Podman's API socket)."""

    def __init__(self, socket_path: str, timeout: float = 5.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def enter_netns(netns: str) -> None:
    """Move the calling thread (only it) into network namespace /run/netns/`netns`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into {netns}: {os.strerror(errno)}")
    finally:
        os.close(fd)


@dataclass(frozen=True)
class PodView:
    """One pod of the namespace on one host, as seen at one moment."""

    host: str
    name: str
    template_hash: str
    running: bool  # every container of the pod runs
    ready: bool  # running, and GET `path` on its probe port answered 200
    container_ids: tuple[str, ...] = ()
    detail: str = ""  # why not ready


@dataclass(frozen=True)
class Sample:
    """Every host's pods of the namespace, looked at together (`at`: time.monotonic())."""

    at: float
    pods: tuple[PodView, ...]

    @property
    def ready(self) -> int:
        return sum(1 for pod in self.pods if pod.ready)

    def running_of(self, template_hash: str) -> int:
        return sum(1 for pod in self.pods if pod.running and pod.template_hash == template_hash)

    def ready_of(self, template_hash: str) -> int:
        return sum(1 for pod in self.pods if pod.ready and pod.template_hash == template_hash)

    def hashes(self, *, running: bool = True) -> set[str]:
        return {pod.template_hash for pod in self.pods if pod.running or not running}


@dataclass(frozen=True)
class Event:
    """A Podman container event (start, died, remove, ...) of the namespace."""

    host: str
    action: str
    container_id: str
    pod: str
    template_hash: str
    time_ns: int


class HostView:
    """One host's Podman API and loopback; used only from that host's netns thread."""

    def __init__(self, host: Host, namespace: str, path: str, container_port: int) -> None:
        self.host, self.namespace, self.path = host, namespace, path
        self.container_port = container_port
        self.api: UnixHTTPConnection | None = None

    def _get(self, route: str) -> bytes:
        for attempt in (1, 2):  # a kept-alive connection the service closed: once more
            if self.api is None:
                self.api = UnixHTTPConnection(self.host.podman_socket)
            try:
                self.api.request("GET", route)
                response = self.api.getresponse()
                body = response.read()
                if response.status != 200:
                    raise OSError(f"{self.host.name}: GET {route}: HTTP {response.status}")
                return body
            except (http.client.HTTPException, OSError):
                self.api.close()
                self.api = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _filters(self, **extra: list[str]) -> str:
        filters = {"label": [f"{LABEL_NAMESPACE}={self.namespace}"], **extra}
        return urllib.parse.quote(json.dumps(filters))

    def containers(self) -> list[dict[str, Any]]:
        """The namespace's containers (not the pods' infra containers), running or not."""
        body = self._get(f"{API}/containers/json?all=true&filters={self._filters()}")
        found: list[dict[str, Any]] = json.loads(body)
        return [c for c in found if LABEL_CONTAINER in (c.get("Labels") or {})]

    def serves(self, port: int) -> tuple[bool, str]:
        """GET `path` on 127.0.0.1:`port` of this host answers 200."""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
        try:
            conn.request("GET", self.path)
            status = conn.getresponse().status
            return status == 200, f"HTTP {status}"
        except (http.client.HTTPException, OSError) as exc:
            return False, f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()

    def look(self) -> tuple[PodView, ...]:
        pods: dict[str, list[dict[str, Any]]] = {}
        for container in self.containers():
            pods.setdefault(container["Labels"][LABEL_NAME], []).append(container)
        views = []
        for name, containers in sorted(pods.items()):
            labels: dict[str, str] = containers[0]["Labels"]
            running = all(c.get("State") == "running" for c in containers)
            ports = dict(
                item.split("=", 1) for item in labels.get(LABEL_PROBE_PORTS, "").split(",") if item
            )
            ready, detail = False, "not running"
            if running and str(self.container_port) not in ports:
                detail = f"no {LABEL_PROBE_PORTS} label for port {self.container_port}"
            elif running:
                ready, detail = self.serves(int(ports[str(self.container_port)]))
            views.append(
                PodView(
                    self.host.name, name, labels.get(LABEL_TEMPLATE_HASH, ""), running, ready,
                    tuple(sorted(str(c["Id"]) for c in containers)), "" if ready else detail,
                )
            )  # fmt: skip
        return tuple(views)

    def events(self, since: float, until: float) -> list[Event]:
        """Container events of the namespace between two epoch times (seconds)."""
        query = (
            f"stream=false&since={int(since)}&until={int(until) + 1}"
            f"&filters={self._filters(type=['container'])}"
        )
        found = []
        for line in self._get(f"{API}/events?{query}").decode().splitlines():
            if not line.strip():
                continue
            raw = json.loads(line)
            attributes = raw.get("Actor", {}).get("Attributes", {})
            found.append(
                Event(
                    self.host.name, str(raw.get("Action", raw.get("status", ""))),
                    str(raw.get("Actor", {}).get("ID", raw.get("id", ""))),
                    str(attributes.get(LABEL_NAME, "")),
                    str(attributes.get(LABEL_TEMPLATE_HASH, "")), int(raw.get("timeNano", 0)),
                )
            )  # fmt: skip
        return [e for e in found if since * 1e9 <= e.time_ns <= until * 1e9]

    def close(self) -> None:
        if self.api is not None:
            self.api.close()


class HostViews:
    """A `HostView` per host, each behind its own thread inside that host's network namespace."""

    def __init__(
        self,
        hosts: Sequence[Host],
        namespace: str,
        path: str = "/ready",
        container_port: int = 8080,
    ) -> None:
        self.views = {h.name: HostView(h, namespace, path, container_port) for h in hosts}
        self.pools = {
            h.name: ThreadPoolExecutor(1, f"netns-{h.netns}", enter_netns, (h.netns,))
            for h in hosts
        }

    def _each(self, call: Callable[[HostView], T]) -> dict[str, T]:
        futures: dict[str, Future[T]] = {
            name: self.pools[name].submit(call, view) for name, view in self.views.items()
        }
        return {name: future.result(timeout=30) for name, future in futures.items()}

    def sample(self) -> Sample:
        looked = self._each(HostView.look)
        return Sample(time.monotonic(), tuple(p for name in sorted(looked) for p in looked[name]))

    def events(self, since: float, until: float) -> list[Event]:
        """Every host's container events of the namespace, oldest first."""
        found = self._each(lambda view: view.events(since, until))
        return sorted((e for events in found.values() for e in events), key=lambda e: e.time_ns)

    def close(self) -> None:
        self._each(HostView.close)
        for pool in self.pools.values():
            pool.shutdown(wait=True)

    def __enter__(self) -> HostViews:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Watch:
    """What a `Watcher` saw: its samples and the errors it met (a sample that failed)."""

    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0

    @property
    def seconds_per_sample(self) -> float:
        return (self.ended - self.started) / max(1, len(self.samples))

    def min_ready(self) -> int:
        return min(s.ready for s in self.samples)

    def worst(self) -> Sample:
        return min(self.samples, key=lambda s: s.ready)


class Watcher:
    """Samples every host every `interval` seconds in a thread, from `start()` until `stop()`."""

    def __init__(self, views: HostViews, interval: float = 0.05) -> None:
        self.views, self.interval = views, interval
        self.watch = Watch()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="readiness-watcher", daemon=True)

    def start(self) -> Watcher:
        self.watch.started = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> Watch:
        self._stop.set()
        self._thread.join(timeout=60)
        self.watch.ended = time.monotonic()
        return self.watch

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.watch.samples.append(self.views.sample())
            except Exception as exc:
                self.watch.errors.append(f"{type(exc).__name__}: {exc}")
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))
