"""The dashboard's overview and hosts pages, rendered from a `view.View` (pure: no I/O).

Overview: the reconciler's Ready condition, the revision that runs (commit, author, message,
when), the newest revision and whether it was refused (its file:line errors), the last syncs.
Hosts: readiness with reason and since when, pods, requests against capacity, load balancer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.model import quantity
from reconciler.web.ui import html as h
from reconciler.web.ui import view as viewmod

REFUSED = {"Invalid": "Refused", "Blocked": "Held"}


def empty_state(view: viewmod.View) -> str:
    """What a page shows before the first sync (or while the state database is not readable)."""
    why = view.problem or "The daemon has not finished a sync yet."
    return h.section("Nothing to show yet", f'<p class="empty">{h.esc(why)}</p>'
                     "<p>This page updates itself; the first sync usually takes a few seconds."
                     "</p>")  # fmt: skip


def overview(view: viewmod.View) -> str:
    if view.problem or view.empty:
        return empty_state(view)
    doc = view.status
    condition = doc.get("condition") or {}
    ready = "Ready" if doc.get("ready") else "NotReady"
    hosts = doc.get("hosts") or {}
    lbs = doc.get("loadBalancers") or {}
    pods = view.snapshot.pods if view.snapshot is not None else ()
    running = sum(1 for p in pods if p.status == "Running")
    deployments = doc.get("deployments") or []
    cards = (
        '<div class="cards">'
        f'<div class="card"><div class="muted">Reconciler</div><div class="n">{h.badge(ready)}'
        f'</div><div class="muted">{h.esc(condition.get("reason", ""))}</div></div>'
        + _card("Hosts ready", f"{hosts.get('ready', 0)}/{hosts.get('total', 0)}")
        + _card("Pods running", f"{running}/{len(pods)}" if view.snapshot else "—")
        + _card("Deployments", str(len(deployments)))
        + _card("Load balancers", f"{lbs.get('running', 0)}/{lbs.get('total', 0)}")
        + "</div>"
    )
    message = condition.get("message") or ""
    head = h.section("Status", f"<p>{h.badge(ready)} <strong>{h.esc(condition.get('reason', ''))}"
                     f"</strong> {h.esc(message)}</p>")  # fmt: skip
    return cards + head + _revisions(view) + _syncs(view) + _unhealthy(doc)


def _card(label: str, value: str) -> str:
    return (
        f'<div class="card"><div class="muted">{h.esc(label)}</div>'
        f'<div class="n">{h.esc(value)}</div></div>'
    )


def _commit(view: viewmod.View, sha: str | None) -> str:
    if not sha:
        return '<p class="empty">No revision applied yet.</p>'
    info = view.revisions.get(sha)
    rows = [("Commit", f"<code>{h.esc(sha[:12])}</code>")]
    if info is not None:
        rows += [("Message", h.esc(info.subject)), ("Author", h.esc(info.author)),
                 ("Committed", h.when(info.committed_at.timestamp(), view.now))]  # fmt: skip
    return '<dl class="kv">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _revisions(view: viewmod.View) -> str:
    doc = view.status
    applied = (doc.get("revision") or {}).get("applied")
    applied_at = (doc.get("revision") or {}).get("appliedAt")
    running = _commit(view, applied)
    if applied:
        running += f'<p class="muted">Applied {h.when(applied_at, view.now)}</p>'
    finished = doc.get("lastFinishedSync") or {}
    newest = (doc.get("lastSync") or {}).get("revision") or finished.get("revision")
    result = str(finished.get("result") or "")
    if newest and newest == applied and result not in REFUSED:
        state = h.badge("Applied")
    elif finished.get("revision") == newest and result in REFUSED:
        state = h.badge(REFUSED[result], h.Tone.BAD if result == "Invalid" else h.Tone.WARN)
    else:
        state = h.badge("Progressing")
    errors = list(doc.get("errors") or []) if result in REFUSED else []
    listed = "".join(f"<li>{h.esc(e)}</li>" for e in errors)
    if newest and newest == applied and result not in REFUSED:
        newest_html = f'<p>{state} <span class="muted">the running revision is the newest</span>'
        newest_html += "</p>"
    else:
        newest_html = f"<p>{state}</p>" + _commit(view, newest)
    if listed:
        newest_html += f'<ul class="errors" aria-label="errors">{listed}</ul>'
    return ('<div class="pair">' + h.section("Running revision", running, anchor="running")
            + h.section("Newest revision", newest_html, anchor="newest") + "</div>")  # fmt: skip


def _counts(counts: Mapping[str, Any]) -> str:
    shown = [f"{v} {k}" for k, v in counts.items() if v and k != "unchanged"]
    return h.esc(", ".join(shown) or "no change")


def _syncs(view: viewmod.View) -> str:
    rows = []
    for sync in view.history:
        errors = list(sync.get("errors") or [])
        first = h.esc(errors[0]) if errors else ""
        if len(errors) > 1:
            first += h.esc(f" (+{len(errors) - 1} more)")
        rows.append([
            h.esc(f"#{sync.get('id', '')}"), f"<code>{h.short(sync.get('revision'))}</code>",
            h.esc(sync.get("trigger", "")), h.when(sync.get("started"), view.now),
            h.seconds(sync.get("durationSeconds")), h.badge(str(sync.get("result") or "")),
            _counts(sync.get("counts") or {}), f'<span class="wrap">{first}</span>',
        ])  # fmt: skip
    head = ("Sync", "Revision", "Trigger", "Started", "Duration", "Result", "Changes", "Errors")
    return h.section("Last syncs", h.table(head, rows, empty="No sync recorded yet.",
                                           label="last syncs"))  # fmt: skip


def _unhealthy(doc: Mapping[str, Any]) -> str:
    items = doc.get("unhealthy") or []
    rows = [[h.esc(c.get("kind", "")), h.esc(_name(c)), h.badge(str(c.get("status", ""))),
             h.esc(c.get("reason", "")), f'<span class="wrap">{h.esc(c.get("message", ""))}</span>']
            for c in items]  # fmt: skip
    return h.section(
        "Not ready",
        h.table(
            ("Kind", "Name", "Status", "Reason", "Message"),
            rows,
            empty="Every object is Ready.",
            label="not ready",
        ),
    )


def _name(c: Mapping[str, Any]) -> str:
    namespace, name = c.get("namespace") or "", c.get("name") or ""
    return f"{namespace}/{name}" if namespace else str(name)


def hosts(view: viewmod.View) -> str:
    if view.problem or view.empty:
        return empty_state(view)
    doc = view.status
    conditions = {c.get("name"): c for c in (doc.get("hosts") or {}).get("items") or []}
    balancers = {c.get("name"): c for c in (doc.get("loadBalancers") or {}).get("items") or []}
    snap = {r.name: r for r in view.snapshot.hosts} if view.snapshot is not None else {}
    names = sorted(set(conditions) | set(snap) | set(view.host_health))
    rows = []
    for name in names:
        health = view.host_health.get(str(name))
        seen = snap.get(str(name))
        condition = conditions.get(name) or {}
        since: str | float | None
        if health is not None:
            word, reason, since, message = (str(health.status), str(health.reason), health.since,
                                            health.message)  # fmt: skip
        else:
            word = "Ready" if condition.get("status") == "True" else "NotReady"
            if not condition:
                word = "Unknown"
            reason, since = condition.get("reason", ""), condition.get("lastTransitionTime")
            message = condition.get("message", "")
        lb = balancers.get(name)
        lb_word = ("Running" if lb.get("status") == "True" else "Down") if lb else "None"
        rows.append([
            h.esc(name), h.badge(word), h.esc(reason), h.when(since, view.now),
            h.esc(seen.address if seen else ""), h.esc(seen.pods if seen else "?"),
            _usage(seen.cpu_requested, seen.cpu_capacity, quantity.format_millicores) if seen
            else "—",
            _usage(seen.memory_requested, seen.memory_capacity, quantity.format_bytes) if seen
            else "—",
            h.badge(lb_word, h.Tone.NONE if lb_word == "None" else None),
            f'<span class="wrap">{h.esc(message or (seen.error if seen else ""))}</span>',
        ])  # fmt: skip
    head = ("Host", "Status", "Reason", "Since", "Address", "Pods", "CPU requested",
            "Memory requested", "Load balancer", "Message")  # fmt: skip
    return h.section("Hosts", h.table(head, rows, empty="No host is declared.", label="hosts"))


def _usage(used: int, capacity: int, fmt: Any) -> str:
    if not capacity:
        return h.esc(f"{fmt(used)} (no capacity set)")
    percent = min(100, round(100 * used / capacity))
    return (
        f'<meter min="0" max="100" value="{percent}" aria-hidden="true"></meter> '
        f"{h.esc(fmt(used))} / {h.esc(fmt(capacity))} ({percent}%)"
    )
