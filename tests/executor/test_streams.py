"""apistream, containerlogs and containerexec against a fake Podman API on a unix socket: chunked
log bodies split at awkward places, frames split across reads, a hijacked exec connection with
stdin, exit codes, refusals, and the query each call sends."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.executor import apistream, containerexec, containerlogs, errors

Handler = Callable[[str, bytes, socket.socket], None]


class FakeAPI:
    """Answers each connection with `handler(request line, body, socket)`; records requests."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = str(path)
        self.handler = handler
        self.requests: list[tuple[str, bytes]] = []
        self.stdin = b""
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(8)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            head, body = data.split(b"\r\n\r\n", 1)
            lines = head.decode().split("\r\n")
            length = next((int(h.split(":")[1]) for h in lines if h.lower().startswith(
                "content-length")), 0)  # fmt: skip
            while len(body) < length:
                body += conn.recv(4096)
            self.requests.append((lines[0], body[:length]))
            self.handler(lines[0], body[:length], conn)

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Callable[[Handler], FakeAPI]]:
    made: list[FakeAPI] = []

    def make(handler: Handler) -> FakeAPI:
        made.append(FakeAPI(tmp_path / f"api{len(made)}.sock", handler))
        return made[-1]

    yield make
    for fake in made:
        fake.close()


def _chunked(conn: socket.socket, pieces: list[bytes]) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
    for piece in pieces:
        conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.sendall(b"0\r\n\r\n")


def _json(conn: socket.socket, status: str, body: object) -> None:
    data = json.dumps(body).encode()
    conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n".encode() + data)  # fmt: skip


def test_demux_keeps_a_frame_split_across_reads_until_its_rest_arrives() -> None:
    data = apistream.frame(apistream.Stream.STDOUT, b"hello\n") + apistream.frame(
        apistream.Stream.STDERR, b"oops\n"
    )
    demux = apistream.Demux()
    assert demux.feed(data[:3]) == [] and demux.pending == 3
    assert demux.feed(data[3:16]) == [(apistream.Stream.STDOUT, b"hello\n")]
    assert demux.pending == 2
    assert demux.feed(data[16:]) == [(apistream.Stream.STDERR, b"oops\n")]
    assert demux.pending == 0


def test_logs_frames_arrive_in_order_on_their_streams_across_chunk_boundaries(
    api: Callable[[Handler], FakeAPI],
) -> None:
    stream = (apistream.frame(apistream.Stream.STDOUT, b"out0\n")
              + apistream.frame(apistream.Stream.STDERR, b"err0\n")
              + apistream.frame(apistream.Stream.STDOUT, b"out1\n"))  # fmt: skip
    fake = api(lambda _line, _body, conn: _chunked(conn, [stream[:5], stream[5:17], stream[17:]]))
    seen: list[tuple[apistream.Stream, bytes]] = []
    query = containerlogs.LogQuery(follow=True, since="10m", tail=5)
    total = containerlogs.stream(fake.path, "h1", "abc/def", query,
                                 lambda k, b: seen.append((k, b)))  # fmt: skip
    assert seen == [(apistream.Stream.STDOUT, b"out0\n"), (apistream.Stream.STDERR, b"err0\n"),
                    (apistream.Stream.STDOUT, b"out1\n")]  # fmt: skip
    assert total == 15
    line = fake.requests[0][0]
    assert line.startswith("GET /v4.0.0/libpod/containers/abc%2Fdef/logs?")
    assert "follow=true" in line and "since=10m" in line and "tail=5" in line


def test_logs_tail_zero_asks_podman_for_nothing_or_only_new_lines(
    api: Callable[[Handler], FakeAPI],
) -> None:
    fake = api(lambda _line, _body, conn: _chunked(conn, []))
    assert containerlogs.stream(fake.path, "h1", "c", containerlogs.LogQuery(tail=0),
                                lambda k, b: None) == 0  # fmt: skip
    assert fake.requests == []  # Podman 4.3 would never answer tail=0
    query = containerlogs.LogQuery(tail=0, follow=True)
    assert "tail" not in query.params() and query.params()["since"] == "0s"


def test_logs_of_a_missing_container_is_a_404_and_a_dead_socket_a_host_error(
    api: Callable[[Handler], FakeAPI], tmp_path: Path
) -> None:
    fake = api(lambda _l, _b, conn: _json(conn, "404 Not Found",
                                          {"message": "no such container"}))  # fmt: skip
    with pytest.raises(errors.OperationFailed) as failed:
        containerlogs.stream(fake.path, "h1", "gone", containerlogs.LogQuery(), lambda k, b: None)
    assert failed.value.status == 404 and "no such container" in str(failed.value)
    with pytest.raises(errors.HostError, match="host h1"):
        containerlogs.stream(str(tmp_path / "none.sock"), "h1", "c", containerlogs.LogQuery(),
                             lambda k, b: None)  # fmt: skip


def _exec_api(code: int) -> Handler:
    """create ▶ start (echo stdin back on stdout, then a line on stderr) ▶ inspect."""

    def handle(line: str, body: bytes, conn: socket.socket) -> None:
        if line.startswith("POST") and line.split()[1].endswith("/exec"):
            _json(conn, "201 Created", {"Id": "e1"})
        elif "/exec/e1/start" in line:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream"
                         b"\r\n\r\n")  # fmt: skip
            received = b""
            while chunk := conn.recv(4096):
                received += chunk
            conn.sendall(apistream.frame(apistream.Stream.STDOUT, received)
                         + apistream.frame(apistream.Stream.STDERR, b"done\n"))  # fmt: skip
        elif "/exec/e1/json" in line:
            _json(conn, "200 OK", {"Running": False, "ExitCode": code})
        else:
            _json(conn, "404 Not Found", {"message": "unexpected " + line})

    return handle


def test_exec_sends_argv_as_json_passes_stdin_and_returns_the_exit_code(
    api: Callable[[Handler], FakeAPI],
) -> None:
    fake = api(_exec_api(7))
    argv = ["sh", "-c", "echo $0; exit 7", "a b; $(id)"]
    seen: list[tuple[apistream.Stream, bytes]] = []
    code = containerexec.run(fake.path, "h1", "ctr", argv, lambda k, b: seen.append((k, b)),
                             stdin=io.BytesIO(b"typed\n"))  # fmt: skip
    assert code == 7
    assert seen == [(apistream.Stream.STDOUT, b"typed\n"), (apistream.Stream.STDERR, b"done\n")]
    create = json.loads(fake.requests[0][1])
    assert create["Cmd"] == argv and create["AttachStdin"] is True and create["Tty"] is False
    assert json.loads(fake.requests[1][1]) == {"Detach": False, "Tty": False}


def test_exec_in_a_stopped_container_is_refused_with_podmans_reason(
    api: Callable[[Handler], FakeAPI],
) -> None:
    fake = api(lambda _l, _b, conn: _json(conn, "409 Conflict",
                                          {"cause": "container state improper"}))  # fmt: skip
    with pytest.raises(errors.OperationFailed, match="container state improper") as failed:
        containerexec.run(fake.path, "h1", "ctr", ["true"], lambda k, b: None)
    assert failed.value.status == 409
