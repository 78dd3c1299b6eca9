"""The dashboard's routes under /ui/ (GET only): reads a `view.View`, renders a page (or, for the
refresh script's `X-Fragment: 1` request, only the part it replaces) and answers with the security
headers. `web.server` hands it every GET of `/ui/...`; the daemon builds it with its store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib import parse

from reconciler.web.ui import auth, overview, workloads
from reconciler.web.ui import html as h
from reconciler.web.ui import snapshot as snapshotmod
from reconciler.web.ui import view as viewmod

log = logging.getLogger(__name__)
HTML = "text/html; charset=utf-8"
ICON_ROUTE = "/ui/favicon.svg"
LIGHT = frozenset({"status", "records"})  # hosts and workloads: no history, no events
PAGES: dict[str, tuple[str, frozenset[str]]] = {
    "/ui/": ("Overview", frozenset({"status", "history", "records"})),
    "/ui/hosts": ("Hosts", LIGHT),
    "/ui/workloads": ("Workloads", LIGHT),
    "/ui/events": ("Events", frozenset({"events"})),  # neither /status nor records
}


@dataclass(frozen=True)
class Response:
    code: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = HTML


class Dashboard:
    """`status` gives the /status document; `store` the history, events and records (None: not
    open yet); `snapshot` the last sync's rows; `describe` a commit's author and subject."""

    def __init__(
        self,
        status: Callable[[], Mapping[str, Any]],
        store: viewmod.Source | None,
        snapshot: Callable[[], snapshotmod.Snapshot | None],
        describe: viewmod.Describe,
        access: auth.Access | None = None,
    ) -> None:
        self.status = status
        self.store = store
        self.snapshot = snapshot
        self.describe = describe
        self.access = access or auth.Access()

    def respond(self, target: str, headers: Mapping[str, str]) -> Response:
        """Answer GET `target` (path and query); `headers` with lower-case names."""
        split = parse.urlsplit(target)
        route = split.path if split.path != "/ui" else "/ui/"
        query = parse.parse_qs(split.query)
        if route == "/":
            return Response(302, "see /ui/\n", {"Location": "/ui/"}, "text/plain; charset=utf-8")
        if route == ICON_ROUTE:  # not secret: the sign-in page shows it too
            return Response(200, h.ICON, h.HEADERS, "image/svg+xml")
        if route not in PAGES:
            return self._page(
                404,
                "Not found",
                route,
                h.section(
                    "Not found", '<p>No such page. <a href="/ui/">Back to the overview</a>.</p>'
                ),
            )
        denied = self._check(route, query, headers, split.query)
        if denied is not None:
            return denied
        title, need = PAGES[route]
        wanted = (query.get("for") or [""])[0][:300]
        try:
            limit = _limit(query)
            read = viewmod.EVENTS if wanted else (limit or workloads.SHOWN_EVENTS) + 1
            found = viewmod.gather(self.status, self.store, self.snapshot(), self.describe,
                                   need=need, events=read)  # fmt: skip
            content = self.render(route, found, wanted, limit)
        except Exception:  # a bug: the page says so, the log has the traceback, never the page
            log.exception("rendering %s failed", route)
            return self._page(
                500,
                title,
                route,
                h.section(
                    "This page could not be shown",
                    "<p>The daemon could not render it; its log has the details.</p>",
                ),
            )
        if headers.get("x-fragment") == "1":
            return Response(200, content, h.HEADERS)
        tools = workloads.filter_form(wanted) if route == "/ui/events" else ""
        return Response(200, h.page(title, route, content, tools=tools), h.HEADERS)

    @staticmethod
    def render(route: str, found: viewmod.View, wanted: str = "", limit: int = 0) -> str:
        if route == "/ui/hosts":
            return overview.hosts(found)
        if route == "/ui/workloads":
            return workloads.workloads(found)
        if route == "/ui/events":
            return workloads.events(found, wanted, limit or workloads.SHOWN_EVENTS)
        return overview.overview(found)

    def _check(
        self, route: str, query: Mapping[str, list[str]], headers: Mapping[str, str], raw: str
    ) -> Response | None:
        """None when the request may read `route`; else the login page or a redirect that
        trades `?token=` for the cookie."""
        if not self.access.needs_token(route):
            return None
        offered = (query.get("token") or [""])[0]
        if offered:
            if not self.access.matches(offered):
                return self._page(401, "Sign in", route, auth.login_form(route, wrong=True),
                                  auth.CHALLENGE)  # fmt: skip
            rest = parse.urlencode([(k, v) for k, v in parse.parse_qsl(raw) if k != "token"])
            secure = headers.get("x-forwarded-proto", "").lower() == "https"
            location = route + (f"?{rest}" if rest else "")
            return Response(303, "", {"Location": location,
                                      "Set-Cookie": auth.set_cookie(offered, secure=secure),
                                      **h.HEADERS})  # fmt: skip
        if self.access.allowed(headers):
            return None
        return self._page(401, "Sign in", route, auth.login_form(route, wrong=False),
                          auth.CHALLENGE)  # fmt: skip

    @staticmethod
    def _page(
        code: int, title: str, route: str, content: str, extra: Mapping[str, str] | None = None
    ) -> Response:
        return Response(code, h.page(title, route, content), {**h.HEADERS, **(extra or {})})


def _limit(query: Mapping[str, list[str]]) -> int:
    """`?limit=N` of the events page (0: its default)."""
    text = (query.get("limit") or [""])[0]
    return max(1, min(int(text), viewmod.EVENTS)) if text.isdigit() else 0
