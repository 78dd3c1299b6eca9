"""Container exits as they happen: one Podman event stream per host (libpod `GET /events` with
`stream=true`, died events of managed containers only) held open over the host's forwarded
Podman socket, each event handed on as a `hoststate.ContainerExit`.

`podman_ssh.PodmanSSHExecutor.watch_exits` keeps an `ExitWatcher`; the pod lifecycle controller
(`controllers.lifecycle.Restarts.on_exit`) receives the exits. A stream that breaks (a lost SSH
connection, a restarted Podman service) is reopened after a short back-off; exits missed
meanwhile are found from the next observation instead.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable

from reconciler.executor import errors, protocol
from reconciler.model import hoststate

log = logging.getLogger(__name__)

API_PATH = "/v4.0.0/libpod/events"
FILTERS = {
    "type": ["container"],
    "event": ["died"],
    "label": [f"{hoststate.MANAGED_BY}={hoststate.MANAGER}"],
}
RETRY_FIRST = 0.5
RETRY_MAX = 10.0
STOP_WAIT = 5.0

Locate = Callable[[hoststate.HostTarget], str]
"""The local path of the socket forwarded to the host's Podman API (its live SSH session's);
raises an `errors.ExecutorError` when the host cannot be reached."""


def request_path() -> str:
    query = urllib.parse.urlencode({"stream": "true", "filters": json.dumps(FILTERS)})
    return f"{API_PATH}?{query}"


def parse(host: str, line: bytes | str) -> hoststate.ContainerExit | None:
    """One line of the stream as the exit of a managed app container; None for anything else
    (another event, an unmanaged or infra container, a blank keep-alive line, bad JSON)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    action = entry.get("status") or entry.get("Action")
    actor = entry.get("Actor")
    raw = actor.get("Attributes") if isinstance(actor, dict) else None
    attributes = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    namespace = attributes.get(hoststate.LABEL_NAMESPACE, "")
    name = attributes.get(hoststate.LABEL_NAME, "")
    container = attributes.get(hoststate.LABEL_CONTAINER, "")  # none on an infra container
    if (
        entry.get("Type") != "container"
        or action != "died"
        or attributes.get(hoststate.MANAGED_BY) != hoststate.MANAGER
        or not (namespace and name and container)
    ):
        return None
    code = attributes.get("containerExitCode", "")
    nanos = entry.get("timeNano")
    seconds = entry.get("time")
    when = nanos / 1e9 if isinstance(nanos, int) and nanos > 0 else seconds
    return hoststate.ContainerExit(
        host=host,
        namespace=namespace,
        name=name,
        container=container,
        podman_id=str(entry.get("id") or (actor or {}).get("ID") or ""),
        exit_code=int(code) if code.lstrip("-").isdigit() else -1,
        time=float(when) if isinstance(when, int | float) else 0.0,
    )


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over the local forwarded unix socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class HostStream:
    """One host's stream and its reading thread; `stop()` ends both."""

    def __init__(
        self,
        target: hoststate.HostTarget,
        locate: Locate,
        deliver: protocol.ExitCallback,
        connect_timeout: float,
    ) -> None:
        self.target = target
        self._locate = locate
        self._deliver = deliver
        self._connect_timeout = connect_timeout
        self._stopping = threading.Event()
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._connection: _UnixConnection | None = None
        self._thread = threading.Thread(target=self._run, name=f"exits-{target.name}", daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopping.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            connection = self._connection
        if connection is not None and connection.sock is not None:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked reader
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(STOP_WAIT)

    def _run(self) -> None:
        delay = RETRY_FIRST
        while not self._stopping.is_set():
            try:
                self._stream_once()
                why = "the stream ended"
            except (OSError, http.client.HTTPException, errors.ExecutorError) as exc:
                why = str(exc) or type(exc).__name__
            if self._stopping.is_set():
                return
            if self.connected.is_set():
                delay = RETRY_FIRST  # it had worked: reopen soon
                self.connected.clear()
            log.info("host %s: exit stream broke (%s); reopening in %.1fs",
                     self.target.name, why, delay)  # fmt: skip
            self._stopping.wait(delay)
            delay = min(RETRY_MAX, delay * 2)

    def _stream_once(self) -> None:
        connection = _UnixConnection(self._locate(self.target), self._connect_timeout)
        with self._lock:
            if self._stopping.is_set():
                return
            self._connection = connection
        try:
            connection.request("GET", request_path())
            response = connection.getresponse()
            if response.status != 200:
                detail = response.read(500).decode(errors="replace").strip()
                raise errors.OperationFailed("watch events", f"HTTP {response.status}: {detail}")
            if connection.sock is not None:
                connection.sock.settimeout(None)  # events come when they come
            self.connected.set()
            log.debug("host %s: exit stream open", self.target.name)
            while not self._stopping.is_set():
                line = response.readline()
                if not line:
                    return
                found = parse(self.target.name, line)
                if found is not None:
                    self._hand_on(found)
        finally:
            with self._lock:
                self._connection = None
            connection.close()

    def _hand_on(self, found: hoststate.ContainerExit) -> None:
        try:
            self._deliver(found)
        except Exception:  # the receiver's bug must not end the host's stream
            log.exception("host %s: the exit callback failed", self.target.name)


class ExitWatcher:
    """The streams of every watched host, reconciled with the current host list by `watch`."""

    def __init__(self, locate: Locate, connect_timeout: float = 10.0) -> None:
        self._locate = locate
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._streams: dict[str, HostStream] = {}
        self._on_exit: protocol.ExitCallback | None = None
        self._closed = False

    def watch(
        self, targets: Iterable[hoststate.HostTarget], on_exit: protocol.ExitCallback
    ) -> None:
        """Streams for exactly `targets` (new hosts opened, gone or changed ones closed, dead
        threads replaced); every exit goes to `on_exit` (the latest one given)."""
        wanted = {target.name: target for target in targets}
        ended: list[HostStream] = []
        with self._lock:
            if self._closed:
                raise errors.ExecutorError("the executor is closed; make a new one")
            self._on_exit = on_exit
            for name, stream in list(self._streams.items()):
                if wanted.get(name) != stream.target or not stream.alive:
                    ended.append(self._streams.pop(name))
            for name, target in wanted.items():
                if name not in self._streams:
                    stream = HostStream(target, self._locate, self._deliver, self._connect_timeout)
                    self._streams[name] = stream
                    stream.start()
        for stream in ended:
            stream.stop()

    def connected(self, host: str, timeout: float = 0.0) -> bool:
        """Whether the host's stream is open (waiting up to `timeout` seconds for it)."""
        with self._lock:
            stream = self._streams.get(host)
        return stream is not None and stream.connected.wait(timeout)

    def _deliver(self, found: hoststate.ContainerExit) -> None:
        with self._lock:
            on_exit = self._on_exit
        if on_exit is not None:
            on_exit(found)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            streams = list(self._streams.values())
            self._streams.clear()
        for stream in streams:
            stream.stop()


def wait_connected(watcher: ExitWatcher, hosts: Iterable[str], timeout: float) -> bool:
    """True once every host's stream is open, False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    return all(watcher.connected(h, max(0.0, deadline - time.monotonic())) for h in hosts)
