"""`podmanhttp.Direct` under `PodmanAPI`, against a real HTTP/1.1 server on a Unix socket: the
URL podman-py would build (its version prefix), query parameters, JSON bodies and headers,
statuses (404 as missing, 409 kept in the error), a streamed pull, kept-alive connections
(sequential calls share one), and a dead socket or a silent server as a transport error."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import podman
import pytest

from reconciler.executor import errors, podmanapi, protocol


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _answer(self, status: int, body: object, chunks: list[bytes] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if chunks is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in [*chunks, b""]:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            return
        data = json.dumps(body).encode()
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.seen.append({"method": self.command, "path": url.path, "headers": headers,
                                 "query": urllib.parse.parse_qs(url.query), "body": body})
        route = url.path.removeprefix(f"/v{podman.api.VERSION}/libpod")
        if route == "/_ping" and self.server.silent:
            time.sleep(2)
        if route == "/pods/create":
            name = json.loads(body)["name"]
            if name == "taken":
                self._answer(409, {"cause": "pod already exists", "response": 409,
                                   "message": f'name "{name}" is in use: pod already exists'})
                return  # fmt: skip
            self._answer(201, {"Id": f"id-{name}"})
        elif route == "/pods/missing/json":
            self._answer(404, {"message": "no such pod"})
        elif route == "/pods/json":
            self._answer(200, [])
        elif route == "/images/pull":
            self._answer(200, None, [b'{"stream": "Trying"}\n', b'{"id": "abc123"}\n'])
        else:
            self._answer(200, {"ok": True})

    do_GET = do_POST = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str) -> None:
        self.seen: list[dict[str, Any]] = []
        self.connections = 0
        self.silent = False
        super().__init__(path, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client gave up on the silent server: a broken pipe here

    def get_request(self) -> tuple[Any, Any]:
        self.connections += 1
        request, _ = super().get_request()
        return request, ("local", 0)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[podmanapi.PodmanAPI, _Server, protocol.ExecutorStats]]:
    path = str(tmp_path / "podman.sock")
    server = _Server(path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stats = protocol.ExecutorStats()
    api = podmanapi.PodmanAPI(
        "h1", path, stats,
        transport_error=lambda op, exc, started: errors.HostUnreachable("h1", "h1", f"{op}: {exc}"),
        timeout=1, pull_timeout=5, ping_timeout=1, pool_size=2,
    )  # fmt: skip
    try:
        yield api, server, stats
    finally:
        api.close()
        server.shutdown()
        server.server_close()


def test_requests_carry_podman_pys_url_body_and_headers(
    served: tuple[podmanapi.PodmanAPI, _Server, protocol.ExecutorStats],
) -> None:
    api, server, stats = served
    assert api.create_pod({"name": "web", "labels": {"a": "b"}}) == "id-web"
    assert api.list_pods({"label": ["x=y"]}) == []
    first, second = server.seen
    assert first["method"] == "POST"
    assert first["path"] == f"/v{podman.api.VERSION}/libpod/pods/create"
    assert json.loads(first["body"]) == {"name": "web", "labels": {"a": "b"}}
    assert first["headers"]["content-type"] == "application/json"
    assert first["headers"]["user-agent"].startswith("PodmanPy/")
    assert second["query"] == {"filters": ['{"label": ["x=y"]}']}
    assert stats.mutations == 1
    assert server.connections == 1  # kept alive: the second call reused the connection


def test_statuses_become_the_executors_answers(
    served: tuple[podmanapi.PodmanAPI, _Server, protocol.ExecutorStats],
) -> None:
    api, server, stats = served
    assert api.inspect_pod("missing") is None
    with pytest.raises(errors.OperationFailed) as refused:
        api.create_pod({"name": "taken"})
    assert refused.value.status == 409 and "is in use" in refused.value.detail
    assert stats.mutations == 0
    assert api.answer_age() is not None  # a 4xx is an answer
    assert api.pull("198.18.0.1:5000/demo/busybox:latest") == "abc123"  # streamed lines
    assert server.seen[-1]["query"]["reference"] == ["198.18.0.1:5000/demo/busybox:latest"]


def test_a_silent_server_or_a_dead_socket_is_a_transport_error(
    served: tuple[podmanapi.PodmanAPI, _Server, protocol.ExecutorStats],
) -> None:
    api, server, _ = served
    server.silent = True
    with pytest.raises(errors.HostUnreachable, match="ping the Podman API"):
        api.ping()
    server.shutdown()
    server.server_close()
    Path(server.server_address).unlink()  # type: ignore[arg-type]
    with pytest.raises(errors.HostUnreachable, match="inspect pod"):
        api.inspect_pod("web")
