"""The dashboard's pages rendered from fakes of the status document, the store and a snapshot:
what each page must show, every hostile value escaped, the empty and unreadable states."""

from __future__ import annotations

import html.parser
import sqlite3
from pathlib import Path

import pytest

from reconciler.source import git
from reconciler.state import status as statusmod
from reconciler.state import store as storemod
from reconciler.web.ui import app, auth, overview, view, workloads
from reconciler.web.ui import html as h
from tests.web import uifakes

PAGES = ("/ui/", "/ui/hosts", "/ui/workloads", "/ui/events")


def _dashboard(store: uifakes.FakeStore | None = None, *, refused: bool = True) -> app.Dashboard:
    return app.Dashboard(
        lambda: uifakes.status_document(refused=refused),
        store if store is not None else uifakes.FakeStore(),
        uifakes.snap,
        uifakes.describe,
    )


def _get(dashboard: app.Dashboard, target: str) -> app.Response:
    return dashboard.respond(target, {})


class _Tags(html.parser.HTMLParser):
    """Every start tag and attribute of a page, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _tags(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


@pytest.mark.parametrize("route", PAGES)
def test_every_page_escapes_hostile_values(route: str) -> None:
    answer = _get(_dashboard(), route)
    assert answer.code == 200
    tags = _tags(answer.body)
    assert [t for t, _ in tags].count("script") == 1  # ours only, at the end
    assert not any(t == "img" for t, _ in tags)
    assert not any(name.startswith("on") for _, attrs in tags for name, _ in attrs)
    assert "<script>alert" not in answer.body


def test_the_hostile_text_is_shown_as_text() -> None:
    body = _get(_dashboard(), "/ui/").body
    assert h.esc(uifakes.HOSTILE) in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body


def test_overview_names_the_running_commit_and_the_refused_one_with_file_and_line() -> None:
    body = _get(_dashboard(), "/ui/").body
    assert uifakes.GOOD[:12] in body and "scale web to 3" in body and "Ann &lt;ann@" in body
    assert uifakes.BAD[:12] in body and ">Refused<" in body
    assert "shop/web.yaml:12: spec.replicas:" in body
    assert "#7" in body and "#6" in body and "0.42 s" in body and "3 create" in body
    assert 'class="b bad">NotReady<' in body  # colour and word


def test_overview_of_an_applied_revision_says_applied() -> None:
    body = _get(_dashboard(refused=False), "/ui/").body
    assert ">Applied<" in body and ">Refused<" not in body


def test_times_are_relative_with_the_absolute_time_as_title() -> None:
    text = h.when(uifakes.NOW - 300, uifakes.NOW)
    assert text.startswith('<time datetime="2027-01-15T07:55:00Z" title="2027-01-15 07:55:00 UTC"')
    assert ">5m ago</time>" in text
    assert h.parse_time("2027-01-15 07:55:00.123456789 +0000 UTC") == uifakes.NOW - 300 + 0.123456
    assert h.when("", uifakes.NOW).endswith("—</span>") and h.parse_time("garbage") is None


def test_hosts_page_shows_readiness_reason_requests_and_balancer() -> None:
    body = _get(_dashboard(), "/ui/hosts").body
    assert "HostLost" in body and ">NotReady<" in body and ">Running<" in body
    assert "500m / 2 (25%)" in body or "500m / 2000m (25%)" in body
    assert "198.18.0.11" in body


def test_workloads_page_shows_rollout_services_hpa_and_pods() -> None:
    body = _get(_dashboard(), "/ui/workloads").body
    assert "<td>2/3</td><td>3</td><td>2</td>" in body  # ready/desired, up-to-date, available
    assert "198.18.0.11:42001 (web-0)" in body and "8000:30080/TCP" in body
    assert "cpu: 40%/50%" in body
    assert "Pods (3)" in body and ">CrashLoopBackOff<" in body and "<td>5</td>" in body
    assert 'href="/ui/events?for=Pod/shop/web-0"' in body


def test_events_newest_first_and_filtered_by_object() -> None:
    dashboard = _dashboard(uifakes.FakeStore(events=9))
    body = _get(dashboard, "/ui/events").body
    assert body.index("event 0 ") < body.index("event 1 ") < body.index("event 8 ")
    only = _get(dashboard, "/ui/events?for=Deployment/web").body
    assert "event 0 " in only and "event 3 " in only and "event 1 " not in only
    assert "3 of the 3 events of Deployment/web (9 kept)" in only
    assert 'value="Deployment/web"' in only


def test_event_filter_rules() -> None:
    assert workloads.matches("Pod/shop/web-0", "Pod/shop/web-0")
    assert workloads.matches("Pod/shop/web-0", "Pod/web-0")
    assert workloads.matches("Pod/shop/web-0", "Pod/shop")
    assert workloads.matches("Pod/shop/web-0", "")
    assert not workloads.matches("Pod/shop/web-0", "Pod/shop/web")
    assert not workloads.matches("Pod/shop/web-10", "Pod/web-1")


def test_a_hostile_filter_is_escaped() -> None:
    body = _get(_dashboard(), '/ui/events?for="><script>alert(1)</script>').body
    assert [t for t, _ in _tags(body)].count("script") == 1


def test_no_sync_yet_shows_an_empty_state() -> None:
    empty = app.Dashboard(lambda: {"lastSync": None}, uifakes.FakeStore(events=0, syncs=False),
                          lambda: None, uifakes.describe)  # fmt: skip
    for route in PAGES[:3]:
        answer = _get(empty, route)
        assert answer.code == 200 and "Nothing to show yet" in answer.body, route
    assert "No event." in _get(empty, "/ui/events").body


def test_an_unreadable_store_shows_why_not_a_traceback() -> None:
    broken = uifakes.FakeStore(fail=sqlite3.OperationalError("database is locked"))
    for route in PAGES:
        answer = _get(_dashboard(broken), route)
        assert answer.code == 200, route
        assert "cannot be read yet: database is locked" in answer.body
        assert "Traceback" not in answer.body


def test_a_rendering_bug_gives_a_500_page_without_details(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(found: view.View) -> str:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(overview, "overview", boom)
    answer = _get(_dashboard(), "/ui/")
    assert answer.code == 500 and "secret internals" not in answer.body


def test_a_real_empty_state_database(tmp_path: Path) -> None:
    with storemod.Store(storemod.path_in(tmp_path)) as store:
        dashboard = app.Dashboard(lambda: statusmod.document(store), store, lambda: None,
                                  view.Describer(None))  # fmt: skip
        for route in PAGES:
            answer = _get(dashboard, route)
            assert answer.code == 200 and "Traceback" not in answer.body, route
        assert "Nothing to show yet" in _get(dashboard, "/ui/").body


def test_fragment_is_the_content_only_and_unknown_pages_are_404() -> None:
    dashboard = _dashboard()
    part = dashboard.respond("/ui/hosts", {"x-fragment": "1"})
    assert part.code == 200 and "<html" not in part.body and "<section>" in part.body
    assert _get(dashboard, "/ui/nope").code == 404
    assert _get(dashboard, "/").code == 302


def test_security_headers_allow_only_our_own_script_and_style() -> None:
    headers = _get(_dashboard(), "/ui/").headers
    csp = headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'sha256-" in csp and "default-src 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_describer_remembers_commits_and_survives_errors() -> None:
    calls: list[str] = []

    def source(sha: str) -> git.RevisionInfo:
        calls.append(sha)
        if sha == "bad":
            raise RuntimeError("no such commit")
        info = uifakes.describe(sha)
        assert info is not None
        return info

    describer = view.Describer(source)
    assert describer(uifakes.GOOD) is not None and describer(uifakes.GOOD) is not None
    assert describer("bad") is None and describer("bad") is None
    assert calls == [uifakes.GOOD, "bad"]


def test_the_events_page_shows_the_newest_200_unless_asked_for_more() -> None:
    dashboard = _dashboard(uifakes.FakeStore(events=250))
    body = _get(dashboard, "/ui/events").body
    assert "The newest 200 events" in body and body.count("<tr>") == 201
    assert 'href="/ui/events?limit=1000">Show up to 1000' in body
    every = _get(dashboard, "/ui/events?limit=1000").body
    assert every.count("<tr>") == 251 and "Show up to" not in every


def test_the_icon_needs_no_token_and_is_svg() -> None:
    locked = app.Dashboard(uifakes.status_document, uifakes.FakeStore(), uifakes.snap,
                           uifakes.describe, auth.Access("t" * 20))  # fmt: skip
    icon = locked.respond(app.ICON_ROUTE, {})
    assert icon.code == 200 and icon.content_type == "image/svg+xml"
    assert icon.body.startswith("<svg") and locked.respond("/ui/", {}).code == 401


@pytest.mark.parametrize(("word", "tone"), [
    ("Running", h.Tone.OK), ("CrashLoopBackOff", h.Tone.BAD), ("ImagePullBackOff", h.Tone.BAD),
    ("Pending", h.Tone.WARN), ("Unknown", h.Tone.WARN), ("SomethingNew", h.Tone.NONE),
])  # fmt: skip
def test_every_badge_carries_its_word_and_a_colour(word: str, tone: h.Tone) -> None:
    assert h.badge(word) == f'<span class="b {tone}">{word}</span>'
