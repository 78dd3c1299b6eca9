"""A small HTTP/1.1 client for the Podman API's streaming calls (container logs, exec) on a host's
forwarded socket: chunked bodies read as they come, hijacked exec connections handed over raw,
and Docker's multiplexed stream format (8-byte frame headers) decoded.

`podlogs` and `podexec` build on it; the socket is the one `PodmanSSHExecutor.api_socket` gives
(the host's live SSH connection). Nothing here passes through a shell: argv travels as JSON.
"""

from __future__ import annotations

import contextlib
import enum
import json
import socket
import struct
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.executor import errors

API_PREFIX = "/v4.0.0/libpod"
HEADER = struct.Struct(">BxxxL")
READ_SIZE = 65536
MAX_HEAD = 65536


class Stream(enum.IntEnum):
    """The stream a frame of Docker's multiplexed format belongs to."""

    STDIN = 0
    STDOUT = 1
    STDERR = 2
    SYSTEM = 3  # an error message from the engine itself


class Demux:
    """Decodes the multiplexed format incrementally: `feed` bytes as they arrive, get the
    complete frames; a frame split across reads waits for its rest."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[tuple[Stream, bytes]]:
        self._buffer += data
        frames: list[tuple[Stream, bytes]] = []
        while len(self._buffer) >= HEADER.size:
            kind, size = HEADER.unpack_from(self._buffer)
            if len(self._buffer) < HEADER.size + size:
                break
            payload = self._buffer[HEADER.size : HEADER.size + size]
            self._buffer = self._buffer[HEADER.size + size :]
            frames.append((Stream(kind) if kind in Stream._value2member_map_ else Stream.STDOUT,
                           payload))  # fmt: skip
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame kept for the next `feed`."""
        return len(self._buffer)


def frame(kind: Stream, payload: bytes) -> bytes:
    """One frame of the multiplexed format (for tests and fakes)."""
    return HEADER.pack(int(kind), len(payload)) + payload


@dataclass
class Response:
    """A response whose body has not been read yet; `sock` stays open until `close()`."""

    status: int
    headers: dict[str, str]
    sock: socket.socket
    buffered: bytes = b""
    _eof: bool = field(default=False, repr=False)

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    def raw(self) -> Iterator[bytes]:
        """The bytes after the headers as they arrive, until the peer closes (a hijacked or an
        unframed body)."""
        if self.buffered:
            data, self.buffered = self.buffered, b""
            yield data
        while True:
            data = self.sock.recv(READ_SIZE)
            if not data:
                return
            yield data

    def body(self) -> Iterator[bytes]:
        """The body's bytes as they arrive: chunked decoding, Content-Length, or until close."""
        if self.chunked:
            yield from self._chunks()
            return
        length = self.headers.get("content-length")
        if length is None:
            yield from self.raw()
            return
        remaining = int(length)
        for data in self.raw():
            yield data[:remaining]
            remaining -= len(data)
            if remaining <= 0:
                return

    def read(self, limit: int = 1 << 20) -> bytes:
        out = b""
        for data in self.body():
            out += data
            if len(out) >= limit:
                break
        return out

    def _fill(self) -> bool:
        data = self.sock.recv(READ_SIZE)
        if not data:
            return False
        self.buffered += data
        return True

    def _line(self) -> bytes | None:
        while b"\r\n" not in self.buffered:
            if not self._fill():
                return None
        line, self.buffered = self.buffered.split(b"\r\n", 1)
        return line

    def _chunks(self) -> Iterator[bytes]:
        while True:
            line = self._line()
            if line is None:
                return
            try:
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError as exc:
                raise errors.OperationFailed("read stream", f"bad chunk size {line!r}") from exc
            if size == 0:
                return
            while size > 0:
                if not self.buffered and not self._fill():
                    return
                data, self.buffered = self.buffered[:size], self.buffered[size:]
                size -= len(data)
                yield data
            while len(self.buffered) < 2:
                if not self._fill():
                    return
            self.buffered = self.buffered[2:]  # the CRLF after the chunk

    def json(self) -> Any:
        return json.loads(self.read() or b"null")

    def error(self, operation: str) -> errors.OperationFailed:
        text = self.read(8192).decode(errors="replace").strip()
        try:
            parsed = json.loads(text)
            text = str(parsed.get("message") or parsed.get("cause") or text)
        except (ValueError, AttributeError):
            pass
        return errors.OperationFailed(operation, text or f"HTTP {self.status}", self.status)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def quote(name: str) -> str:
    """A container or exec id (or name) as one path segment."""
    return urllib.parse.quote(name, safe="")


def path(endpoint: str, params: Mapping[str, object] | None = None) -> str:
    """`API_PREFIX + endpoint` with `params` as a query string (booleans as true/false,
    None left out); values are percent-encoded, never interpreted."""
    query = {k: (str(v).lower() if isinstance(v, bool) else str(v))
             for k, v in (params or {}).items() if v is not None}  # fmt: skip
    return API_PREFIX + endpoint + (f"?{urllib.parse.urlencode(query)}" if query else "")


def request(
    socket_path: str,
    method: str,
    target: str,
    *,
    body: Mapping[str, Any] | None = None,
    timeout: float | None = 30.0,
) -> Response:
    """Send one request on a new connection to `socket_path` and read the status and headers.
    `timeout` bounds the connect and each later read (None: wait as long as it takes, for
    followed logs and interactive exec). Raises OSError from the socket.

    An exec start answers with one header block and then the raw stream (podman hijacks the
    connection): `Response.raw()` reads it, `Response.sock` writes the command's stdin."""
    payload = json.dumps(body).encode() if body is not None else b""
    head = [f"{method} {target} HTTP/1.1", "Host: podman"]
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    elif method != "GET":
        head.append("Content-Length: 0")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        buffered = b""
        while b"\r\n\r\n" not in buffered:
            data = sock.recv(READ_SIZE)
            if not data:
                raise ConnectionResetError("the Podman API closed the connection")
            buffered += data
            if len(buffered) > MAX_HEAD:
                raise ConnectionError("the Podman API sent an oversized header")
        raw_head, rest = buffered.split(b"\r\n\r\n", 1)
        lines = raw_head.decode("latin-1").split("\r\n")
        status, headers = _status(lines[0]), {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return Response(status, headers, sock, rest)
    except BaseException:
        sock.close()
        raise


def _status(line: str) -> int:
    parts = line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ConnectionError(f"not an HTTP response from the Podman API: {line[:80]!r}")
    return int(parts[1])
