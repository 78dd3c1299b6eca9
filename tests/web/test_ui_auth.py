"""The bearer token on a real socket: /status and /ui/ need it, the probes never, /metrics when
asked; a browser trades `?token=` for an HttpOnly SameSite=Strict cookie; only GET. And the
config: a listen address off loopback without a token file stops the daemon at start."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.runtime import config
from reconciler.web import metrics, server
from reconciler.web.ui import app, auth
from tests.web import uifakes

TOKEN = "s3cret-token-0123456789"


@pytest.fixture
def protected() -> Iterator[server.HttpServer]:
    yield from _serve(auth.Access(TOKEN))


@pytest.fixture
def open_server() -> Iterator[server.HttpServer]:
    yield from _serve(None)


def _serve(access: auth.Access | None) -> Iterator[server.HttpServer]:
    dashboard = app.Dashboard(uifakes.status_document, uifakes.FakeStore(), uifakes.snap,
                              uifakes.describe, access)  # fmt: skip
    http = server.HttpServer("127.0.0.1:0", uifakes.status_document, metrics.Registry(),
                             lambda: True, dashboard=dashboard.respond,
                             access=access)  # fmt: skip
    http.start()
    yield http
    http.stop()


def _request(
    served: server.HttpServer, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    connection.request(method, path, headers=headers or {})
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer


def test_without_a_token_everything_is_open(open_server: server.HttpServer) -> None:
    for path in ("/status", "/ui/", "/ui/hosts", "/metrics", "/healthz"):
        assert _request(open_server, path).status == 200, path
    assert _request(open_server, "/").status == 302


def test_the_token_guards_status_and_the_dashboard_not_the_probes(
    protected: server.HttpServer,
) -> None:
    for path in ("/status", "/ui/", "/ui/events"):
        answer = _request(protected, path)
        assert answer.status == 401, path
        assert answer.getheader("WWW-Authenticate", "").startswith("Bearer")
    for path in ("/healthz", "/readyz", "/metrics"):
        assert _request(protected, path).status == 200, path
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert _request(protected, "/status", bearer).status == 200
    assert _request(protected, "/ui/", bearer).status == 200
    wrong = {"Authorization": f"Bearer {TOKEN}x"}
    assert _request(protected, "/status", wrong).status == 401
    assert _request(protected, "/ui/", {"Authorization": f"Basic {TOKEN}"}).status == 401


def test_a_browser_trades_the_query_token_for_a_cookie(protected: server.HttpServer) -> None:
    answer = _request(protected, f"/ui/events?for=Pod/web&token={TOKEN}")
    assert answer.status == 303
    assert answer.getheader("Location") == "/ui/events?for=Pod%2Fweb"
    cookie = answer.getheader("Set-Cookie", "")
    assert cookie.startswith(f"{auth.COOKIE}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    sent = {"Cookie": f"other=1; {auth.COOKIE}={TOKEN}"}
    assert _request(protected, "/ui/events", sent).status == 200
    assert _request(protected, "/status", sent).status == 200
    wrong = _request(protected, "/ui/?token=nope")
    assert wrong.status == 401 and wrong.getheader("Set-Cookie") is None
    behind_tls = _request(protected, f"/ui/?token={TOKEN}", {"X-Forwarded-Proto": "https"})
    assert "; Secure" in behind_tls.getheader("Set-Cookie", "")


def test_metrics_need_the_token_when_asked() -> None:
    for served in _serve(auth.Access(TOKEN, protect_metrics=True)):
        assert _request(served, "/metrics").status == 401
        assert _request(served, "/metrics", {"Authorization": f"Bearer {TOKEN}"}).status == 200
        assert _request(served, "/healthz").status == 200


def test_the_dashboard_changes_nothing(open_server: server.HttpServer) -> None:
    for method in ("POST", "PUT", "DELETE"):
        assert _request(open_server, "/ui/", method=method).status in (404, 405, 501), method


def test_security_headers_on_the_wire(open_server: server.HttpServer) -> None:
    answer = _request(open_server, "/ui/")
    assert "frame-ancestors 'none'" in answer.getheader("Content-Security-Policy", "")
    assert answer.getheader("X-Content-Type-Options") == "nosniff"
    assert answer.getheader("Cache-Control") == "no-store"


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1:9400", True), ("127.0.0.2:1", True), ("[::1]:9400", True),
    ("localhost:9400", True), ("0.0.0.0:9400", False), (":9400", False),
    ("198.18.0.1:9400", False), ("[::]:9400", False), ("example.com:80", False),
])  # fmt: skip
def test_loopback_addresses(address: str, loopback: bool) -> None:
    assert auth.is_loopback(address) is loopback


def test_compare_and_parse() -> None:
    access = auth.Access(TOKEN)
    assert access.allowed({"authorization": f"bearer {TOKEN}"})
    assert not access.allowed({"cookie": 'reconciler_token="'})
    assert not access.allowed({})
    assert auth.bearer("Bearer ") is None and auth.cookie("") is None
    assert auth.usable(TOKEN) and not auth.usable("short") and not auth.usable("a;" * 10)


def _config(tmp_path: Path, text: str) -> config.DaemonConfig:
    path = tmp_path / "config.yaml"
    path.write_text("repository: /r\n" + text)
    return config.load(path)


def test_a_public_listen_address_needs_a_token_file(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="not a loopback address: set http_token_file"):
        _config(tmp_path, "listen: 0.0.0.0:9400\n")
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    cfg = _config(tmp_path, f"listen: 0.0.0.0:9400\nhttp_token_file: {token}\n"
                            "metrics_require_token: true\n")  # fmt: skip
    assert cfg.http_token() == TOKEN and cfg.metrics_require_token
    assert _config(tmp_path, "").http_token() is None


def test_a_bad_token_file_stops_the_daemon(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abc\n")
    with pytest.raises(config.ConfigError, match="at least 16 printable"):
        _config(tmp_path, f"http_token_file: {short}\n").http_token()
    with pytest.raises(config.ConfigError, match="cannot read it"):
        _config(tmp_path, f"http_token_file: {tmp_path / 'missing'}\n").http_token()
    with pytest.raises(config.ConfigError, match="metrics_require_token must be true or false"):
        _config(tmp_path, "metrics_require_token: 3\n")
