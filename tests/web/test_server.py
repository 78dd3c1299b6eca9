"""The HTTP server on a real socket (port 0), spoken to with urllib and raw sockets: probes,
/status, /metrics, the webhook pass-through and its limits, errors, and access logs."""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from reconciler.web import metrics, server


@dataclass
class App:
    """The callables the daemon would pass, recording what the webhook received."""

    ready: bool = False
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status_doc: dict[str, Any] = field(default_factory=lambda: {"ready": False, "errors": []})

    def is_ready(self) -> bool:
        return self.ready

    def status(self) -> dict[str, Any]:
        return self.status_doc

    def webhook(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        self.received.append((dict(headers), body))
        if headers.get("x-hub-signature-256") != "sha256=good":
            return 401, "bad signature"
        return 202, "sync queued"


@pytest.fixture
def app() -> App:
    return App()


@pytest.fixture
def running(app: App) -> Iterator[server.HttpServer]:
    registry = metrics.Registry()
    metrics.ReconcilerMetrics(registry).set_hosts(2, 3)
    http = server.HttpServer(
        "127.0.0.1:0", app.status, registry, app.is_ready, app.webhook, max_body=1024
    )
    http.start()
    yield http
    http.stop()


def _get(http: server.HttpServer, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"{http.url}{path}", timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def _post(
    http: server.HttpServer, path: str, body: bytes, headers: Mapping[str, str] | None = None
) -> tuple[int, str]:
    request = urllib.request.Request(
        f"{http.url}{path}", data=body, headers=dict(headers or {}), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_healthz_and_readyz_flip(running: server.HttpServer, app: App) -> None:
    assert running.port > 0
    assert _get(running, "/healthz")[0] == 200
    assert _get(running, "/readyz")[:1] == (503,)
    app.ready = True
    assert _get(running, "/readyz")[0] == 200
    assert _get(running, "/readyz?verbose=1")[0] == 200  # a query string does not matter


def test_status_is_the_callables_document(running: server.HttpServer, app: App) -> None:
    app.status_doc = {"ready": True, "revision": {"applied": "abc123"}}
    code, content_type, body = _get(running, "/status")
    assert (code, content_type) == (200, "application/json")
    assert json.loads(body) == app.status_doc


def test_status_failure_is_a_500_with_json(running: server.HttpServer, app: App) -> None:
    app.status_doc = {"not json": object()}
    code, content_type, body = _get(running, "/status")
    assert (code, content_type) == (500, "application/json")
    assert "TypeError" in json.loads(body)["error"]


def test_metrics(running: server.HttpServer) -> None:
    code, content_type, body = _get(running, "/metrics")
    assert code == 200
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert "reconciler_hosts_ready 2\n" in body and "reconciler_hosts_declared 3\n" in body


def test_webhook_passes_headers_and_raw_body(running: server.HttpServer, app: App) -> None:
    payload = b'{"ref": "refs/heads/main", "after": "abc"}'
    headers = {"X-Hub-Signature-256": "sha256=good", "Content-Type": "application/json"}
    assert _post(running, "/webhook", payload, headers) == (202, "sync queued\n")
    received_headers, received_body = app.received[-1]
    assert received_body == payload
    assert received_headers["x-hub-signature-256"] == "sha256=good"  # names lower-cased
    assert received_headers["content-length"] == str(len(payload))
    assert _post(running, "/webhook", payload, {"X-Hub-Signature-256": "sha256=bad"}) == (
        401,
        "bad signature\n",
    )


def test_webhook_body_over_the_cap_is_413(running: server.HttpServer, app: App) -> None:
    code, _ = _post(running, "/webhook", b"x" * 1025, {"X-Hub-Signature-256": "sha256=good"})
    assert code == 413
    assert app.received == []  # the callback never saw it
    assert _post(running, "/webhook", b"x" * 1024, {"X-Hub-Signature-256": "sha256=good"})[0] == 202


def _raw(http: server.HttpServer, request: bytes) -> str:
    with socket.create_connection(("127.0.0.1", http.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def test_413_closes_without_reading_a_huge_body(running: server.HttpServer) -> None:
    # announce 1 GiB, send a little: the server answers at once and closes
    answer = _raw(
        running,
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\nabc",
    )
    assert answer.startswith("HTTP/1.1 413 ")
    assert "Connection: close" in answer


def test_webhook_needs_a_content_length(running: server.HttpServer) -> None:
    chunked = b"POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    assert _raw(running, chunked).startswith("HTTP/1.1 411 ")
    bad = b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"
    assert _raw(running, bad).startswith("HTTP/1.1 400 ")


def test_unknown_paths_and_methods(running: server.HttpServer) -> None:
    assert _get(running, "/nope")[0] == 404
    assert _post(running, "/nope", b"")[0] == 404
    assert _post(running, "/status", b"")[0] == 405
    code, _, _ = _get(running, "/webhook")
    assert code == 405


def test_webhook_failures_are_500(app: App) -> None:
    def broken(headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        raise RuntimeError("boom")

    http = server.HttpServer("127.0.0.1:0", app.status, metrics.Registry(), app.is_ready, broken)
    http.start()
    try:
        assert _post(http, "/webhook", b"{}") == (500, "internal error\n")
    finally:
        http.stop()


def test_without_a_webhook_the_route_is_404(app: App) -> None:
    http = server.HttpServer("127.0.0.1:0", app.status, metrics.Registry(), app.is_ready)
    http.start()
    try:
        assert _post(http, "/webhook", b"{}")[0] == 404
    finally:
        http.stop()


def test_access_logs_go_through_logging(
    running: server.HttpServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.DEBUG, logger="reconciler.web.server"):
        _get(running, "/healthz")
        _get(running, "/nope")
        deadline = time.monotonic() + 10  # the server thread logs after it has answered
        while time.monotonic() < deadline:
            records = [r for r in caplog.records if r.name == "reconciler.web.server"]
            by_path = {getattr(r, "path", ""): r for r in records}
            if {"/healthz", "/nope"} <= by_path.keys():
                break
            time.sleep(0.02)
    assert by_path["/healthz"].levelno == logging.DEBUG  # probes are quiet
    assert by_path["/nope"].levelno == logging.INFO
    assert getattr(by_path["/nope"], "status", None) == 404
    assert capfd.readouterr().err == ""  # nothing written to stderr directly


def test_stop_frees_the_port_and_a_taken_port_is_an_error(app: App) -> None:
    first = server.HttpServer("127.0.0.1:0", app.status, metrics.Registry(), app.is_ready)
    first.start()
    port = first.port
    taken = server.HttpServer(f"127.0.0.1:{port}", app.status, metrics.Registry(), app.is_ready)
    with pytest.raises(server.ServerError, match=f"cannot listen on 127.0.0.1:{port}"):
        taken.start()
    first.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    first.stop()  # twice is harmless


def test_parse_address() -> None:
    assert server.parse_address("127.0.0.1:9400") == ("127.0.0.1", 9400)
    assert server.parse_address("[::1]:80") == ("::1", 80)
    assert server.parse_address(":80") == ("0.0.0.0", 80)
    for bad in ("localhost", "host:http", "h:70000"):
        with pytest.raises(server.ServerError, match="expected HOST:PORT"):
            server.parse_address(bad)


def test_ipv6_loopback(app: App) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    http = server.HttpServer("[::1]:0", app.status, metrics.Registry(), app.is_ready)
    try:
        http.start()
    except server.ServerError:
        pytest.skip("::1 not configured here")
    try:
        assert http.url.startswith("http://[::1]:")
        assert _get(http, "/healthz")[0] == 200
    finally:
        http.stop()
