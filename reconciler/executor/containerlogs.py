"""A container's output read from the Podman API of its host (libpod `GET /containers/{id}/logs`)
over the host's forwarded socket, frame by frame as Podman sends it (followed while `follow`).

`reconciler logs` (cli/logs.py) calls `stream`; the socket comes from
`PodmanSSHExecutor.api_socket`. Podman keeps one log per container, across its restarts: the
runs before the current one are the lines before its start time (`until`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler.executor import apistream, errors

UNTIL_IDLE = 5.0
"""Podman 4.3 leaves a non-following read with `until` open (or never answers it, when no line
comes before that time) once it has sent the lines it has: after this many seconds without a
byte, such a read is taken as complete."""

Write = Callable[[apistream.Stream, bytes], None]
"""Receives each frame's payload with its stream (stdout, stderr), in the order Podman sent."""


@dataclass(frozen=True)
class LogQuery:
    """What to read; times are RFC 3339 or Unix seconds, by the host's clock."""

    follow: bool = False
    since: str = ""
    until: str = ""
    tail: int | None = None  # the last N lines only (None: all)
    timestamps: bool = False

    @property
    def empty(self) -> bool:
        """Nothing to read: no line of the past (`tail` 0) and no following."""
        return self.tail is not None and self.tail <= 0 and not self.follow

    def params(self) -> dict[str, object]:
        """The query string. Podman 4.3 never answers `tail=0`: the new lines only are those
        since now (`since=0s`, a duration, by the host's clock)."""
        params: dict[str, object] = {"stdout": True, "stderr": True, "follow": self.follow}
        if self.since:
            params["since"] = self.since
        if self.until:
            params["until"] = self.until
        if self.tail is not None and self.tail > 0:
            params["tail"] = self.tail
        elif self.tail is not None:
            params["since"] = "0s"
        if self.timestamps:
            params["timestamps"] = True
        return params


def stream(
    socket_path: str,
    host: str,
    container_id: str,
    query: LogQuery,
    write: Write,
    *,
    timeout: float = 30.0,
) -> int:
    """Hand every frame of the container's log to `write`; returns the number of bytes. With
    `follow` it returns when the container stops (or the caller interrupts).

    Raises `errors.OperationFailed` when Podman refuses (404: no such container), a
    `errors.PodmanFailed` (a HostError) when the connection breaks."""
    if query.empty:
        return 0
    target = apistream.path(f"/containers/{apistream.quote(container_id)}/logs", query.params())
    bounded = bool(query.until) and not query.follow
    try:
        response = apistream.request(socket_path, "GET", target,
                                     timeout=UNTIL_IDLE if bounded else timeout)  # fmt: skip
    except TimeoutError:
        if bounded:
            return 0  # Podman 4.3 never answers an `until` before every line: none, then
        raise errors.PodmanFailed(host, "read logs", "no answer in time") from None
    except OSError as exc:
        raise errors.PodmanFailed(host, "read logs", str(exc) or type(exc).__name__) from exc
    try:
        if response.status >= 400:
            raise response.error("read logs")
        if query.follow:
            response.sock.settimeout(None)  # lines come when the container writes them
        demux = apistream.Demux()
        total = 0
        try:
            for data in response.body():
                for kind, payload in demux.feed(data):
                    total += len(payload)
                    write(kind, payload)
        except TimeoutError:
            if not bounded:
                raise
        return total  # a bounded read that stalls has sent all its lines (see UNTIL_IDLE)
    except OSError as exc:
        raise errors.PodmanFailed(host, "read logs", str(exc) or type(exc).__name__) from exc
    finally:
        response.close()
