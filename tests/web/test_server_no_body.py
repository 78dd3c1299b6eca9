"""HTTP answers that must carry no body (a webhook's 204 "ignored"), and a client that hangs up
early logged without a traceback at WARNING (issue 17: curl complained, the log showed
ConnectionResetError tracebacks)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator, Mapping

import pytest

from reconciler.web import metrics, server


def _webhook(headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
    return 204, "push to refs/heads/other ignored; watching refs/heads/main"


@pytest.fixture
def running() -> Iterator[server.HttpServer]:
    http = server.HttpServer(
        "127.0.0.1:0", dict, metrics.Registry(), lambda: True, _webhook, max_body=1024
    )
    http.start()
    yield http
    http.stop()


def test_a_204_has_no_body_and_the_connection_stays_usable(running: server.HttpServer) -> None:
    request = b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    follow = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
        sock.sendall(request + follow)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks).decode()
    first, _, rest = answer.partition("\r\n\r\n")
    assert first.startswith("HTTP/1.1 204 ")
    assert "Content-Length" not in first and "Content-Type" not in first
    assert rest.startswith("HTTP/1.1 200 ")  # nothing between the 204's headers and the next


def test_a_client_hanging_up_is_not_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    http = server.HttpServer("127.0.0.1:0", dict, metrics.Registry(), lambda: True, _webhook)
    http.start()
    try:
        handler = http._server
        assert handler is not None
        with caplog.at_level(logging.DEBUG, logger=server.__name__):
            try:
                raise ConnectionResetError(104, "Connection reset by peer")
            except ConnectionResetError:
                handler.handle_error(None, ("198.18.0.9", 1))
            try:
                raise ValueError("a bug")
            except ValueError:
                handler.handle_error(None, ("198.18.0.9", 1))
    finally:
        http.stop()
    levels = [(r.levelno, r.exc_info is not None) for r in caplog.records]
    assert levels == [(logging.DEBUG, False), (logging.WARNING, True)]
