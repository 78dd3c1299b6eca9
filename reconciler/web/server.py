"""The daemon's HTTP server (standard library, one thread per request, run in a daemon thread):
GET /healthz, /readyz, /status (JSON), /metrics (Prometheus), the dashboard under /ui/, POST
/webhook, GET /v1/observe and POST /v1/diff (a one-shot CLI's reads and dry runs). With a token
(`web.ui.auth.Access`), all but the probes need it (/metrics if asked).

The daemon loop builds it with callables so this module knows nothing of the loop: `status()` gives
the document (state.status.document), `ready()` says whether the first sync is done, `webhook`
receives a push notification's headers and raw body (it checks the signature) and answers.
"""

from __future__ import annotations

import http
import http.server
import json
import logging
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

from reconciler.web import metrics as metricsmod
from reconciler.web.ui import auth

if TYPE_CHECKING:  # the daemon builds the dashboard on its first request (runtime.daemon)
    from reconciler.web.ui import app as uiapp

log = logging.getLogger(__name__)

DEFAULT_ADDRESS = "127.0.0.1:9400"  # as runtime.config's `listen` default
MAX_BODY = 1024 * 1024  # webhook payloads above this are refused with 413
REQUEST_TIMEOUT = 10.0  # seconds a client may take to send its request
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})  # polled often: logged at DEBUG
NO_BODY = frozenset({204, 304})
"""Answers that carry no body and no Content-Length (a webhook's "ignored" is a 204)."""

StatusSource = Callable[[], Mapping[str, Any]]
ReadySource = Callable[[], bool]
Webhook = Callable[[Mapping[str, str], bytes], tuple[int, str]]
"""Receives the request headers (names lower-case) and the raw body; returns status and text."""
Dashboard = Callable[[str, Mapping[str, str]], "uiapp.Response"]
"""Answers GET of a path under /ui/ (path and query, request headers with lower-case names)."""
ObserveSource = Callable[[Mapping[str, list[str]]], tuple[int, Mapping[str, Any]]]
"""GET /v1/observe (web.observe): the query's parameters in, the status and JSON document out."""
DryRunSource = Callable[[bytes], tuple[int, Mapping[str, Any]]]
"""POST /v1/diff (web.dryrun): the raw JSON body in, the status and JSON document out."""
DRY_RUN_ROUTE = "/v1/diff"
DRY_RUN_MAX_BODY = 16 * 1024 * 1024  # as web.dryrun.MAX_BODY


class ServerError(Exception):
    """The server cannot listen on its address; the message names it."""


def parse_address(address: str) -> tuple[str, int]:
    """`host:port`, `[v6addr]:port` or `:port` (every IPv4 interface) into (host, port)."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ServerError(f"listen address {address!r}: expected HOST:PORT, e.g. {DEFAULT_ADDRESS}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port_text)  # noqa: S104 (":PORT" asks for every interface)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    app: HttpServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """An exception escaped a handler: a client that hung up is routine (DEBUG, no
        traceback); anything else is a bug, logged with its traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.debug("%s: connection ended early: %s", client_address[0], error)
            return
        log.warning("error serving %s", client_address[0], exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


class HttpServer:
    """Serve the daemon's endpoints on `address` (port 0 picks a free port: see `.port`)."""

    def __init__(
        self,
        address: str,
        status: StatusSource,
        metrics: metricsmod.Registry,
        ready: ReadySource,
        webhook: Webhook | None = None,
        *,
        max_body: int = MAX_BODY,
        dashboard: Dashboard | None = None,
        access: auth.Access | None = None,
        observe: ObserveSource | None = None,
        dryrun: DryRunSource | None = None,
    ) -> None:
        self.address = address
        self.status = status
        self.metrics = metrics
        self.ready = ready
        self.webhook = webhook
        self.max_body = max_body
        self.dashboard = dashboard
        self.access = access or auth.Access()
        self.observe = observe
        self.dryrun = dryrun
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen and serve in a daemon thread; raise ServerError when the address is taken."""
        if self._server is not None:
            raise ServerError("the HTTP server is already started")
        host, port = parse_address(self.address)
        server_class = _Server6 if ":" in host else _Server
        try:
            server = server_class((host, port), _Handler)
        except OSError as exc:
            raise ServerError(f"cannot listen on {self.address}: {exc.strerror or exc}") from exc
        server.app = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True
        )
        self._thread.start()
        log.info("serving HTTP on %s", self.url, extra={"address": self.url})

    def stop(self) -> None:
        """Stop serving and close the socket; requests in flight finish on their own threads."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise ServerError("the HTTP server is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host, _ = parse_address(self.address)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "reconciler"
    sys_version = ""
    timeout = REQUEST_TIMEOUT

    @property
    def app(self) -> HttpServer:
        return cast(_Server, self.server).app

    @property
    def route(self) -> str:
        return urlsplit(self.path).path

    # --- routing ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        route = self.route
        if route in ("/", "/ui") or route.startswith("/ui/"):
            self._dashboard()
            return
        if self.app.access.needs_token(route) and not self.app.access.allowed(self._headers()):
            self._reply(401, "a bearer token is required (Authorization: Bearer TOKEN)\n",
                        headers=auth.CHALLENGE)  # fmt: skip
            return
        if route == "/healthz":
            self._reply(200, "ok\n")
        elif route == "/readyz":
            ready = self._ready()
            self._reply(200 if ready else 503, "ready\n" if ready else "not ready\n")
        elif route == "/status":
            self._status()
        elif route == "/metrics":
            self._reply(200, self.app.metrics.expose(), metricsmod.CONTENT_TYPE)
        elif route == "/webhook":
            self._reply(405, "use POST\n", headers={"Allow": "POST"})
        elif route == "/v1/observe" and self.app.observe is not None:
            code, document = self.app.observe(parse_qs(urlsplit(self.path).query))
            self._reply(code, json.dumps(document) + "\n", "application/json")
        else:
            self._reply(404, "not found\n")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        if self.route == DRY_RUN_ROUTE and self.app.dryrun is not None:
            self._dry_run(self.app.dryrun)
            return
        if self.route != "/webhook" or self.app.webhook is None:
            allowed = self.route in PROBES or self.route == "/status"
            if allowed:
                self._reply(405, "use GET\n", headers={"Allow": "GET, HEAD"})
            else:
                self._reply(404, "not found\n")
            return
        self._webhook(self.app.webhook)

    # --- handlers -----------------------------------------------------------------------------

    def _ready(self) -> bool:
        try:
            return bool(self.app.ready())
        except Exception:
            log.exception("readiness check failed")
            return False

    def _status(self) -> None:
        try:
            body = json.dumps(dict(self.app.status()), indent=2) + "\n"
        except Exception as exc:
            log.exception("building /status failed")
            body = json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n"
            self._reply(500, body, "application/json")
            return
        self._reply(200, body, "application/json")

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return headers

    def _dashboard(self) -> None:
        if self.app.dashboard is None:
            self._reply(404, "not found\n")
            return
        try:
            answer = self.app.dashboard(self.path, self._headers())
        except Exception:
            log.exception("the dashboard failed")
            self._reply(500, "internal error\n")
            return
        self._reply(answer.code, answer.body, answer.content_type, headers=answer.headers)

    def _body(self, limit: int) -> bytes | None:
        """The request's body of at most `limit` bytes; None when refused (answered here)."""
        length_text = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or length_text is None:
            self._reply(411, "send the body with a Content-Length\n", close=True)
            return None
        try:
            length = int(length_text)
        except ValueError:
            self._reply(400, "bad Content-Length\n", close=True)
            return None
        if length < 0:
            self._reply(400, "bad Content-Length\n", close=True)
            return None
        if length > limit:
            self._reply(413, f"body larger than {limit} bytes\n", close=True)
            return None
        body = self.rfile.read(length)
        if len(body) != length:
            self._reply(400, "body shorter than its Content-Length\n", close=True)
            return None
        return body

    def _dry_run(self, dryrun: DryRunSource) -> None:
        """POST /v1/diff: with the token where one is set; JSON only (a browser's form cannot
        send it to another site without asking first)."""
        if self.app.access.needs_token(DRY_RUN_ROUTE) and not self.app.access.allowed(
            self._headers()
        ):
            self._reply(401, "a bearer token is required (Authorization: Bearer TOKEN)\n",
                        headers=auth.CHALLENGE, close=True)  # fmt: skip
            return
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            self._reply(415, "send the request as application/json\n", close=True)
            return
        body = self._body(DRY_RUN_MAX_BODY)
        if body is None:
            return
        try:
            code, document = dryrun(body)
        except Exception:
            log.exception("the dry run failed")
            code, document = 500, {"error": "internal error"}
        self._reply(code, json.dumps(document) + "\n", "application/json")

    def _webhook(self, webhook: Webhook) -> None:
        body = self._body(self.app.max_body)
        if body is None:
            return
        try:
            code, text = webhook(self._headers(), body)
        except Exception:
            log.exception("the webhook handler failed")
            self._reply(500, "internal error\n")
            return
        if not 200 <= code <= 599:
            log.error("the webhook handler returned HTTP status %s; answering 500", code)
            code, text = 500, "internal error"
        self._reply(code, text if text.endswith("\n") else text + "\n")

    # --- plumbing -----------------------------------------------------------------------------

    def _reply(
        self,
        code: int,
        body: str,
        content_type: str = "text/plain; charset=utf-8",
        *,
        headers: Mapping[str, str] | None = None,
        close: bool = False,
    ) -> None:
        bodiless = code in NO_BODY or 100 <= code < 200  # HTTP forbids a body (RFC 9110 6.4.1)
        data = b"" if bodiless else body.encode("utf-8")
        self.send_response(code)
        if not bodiless:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and data:
            self.wfile.write(data)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = code.value if isinstance(code, http.HTTPStatus) else code
        level = logging.DEBUG if self.route in PROBES and status == 200 else logging.INFO
        fields = {"client": self.client_address[0], "method": self.command,
                  "path": self.route, "status": status}  # fmt: skip
        log.log(level, "%s %s %s", self.command, self.route, status, extra=fields)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s: %s", self.client_address[0], format % args)
