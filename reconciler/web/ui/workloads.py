"""The dashboard's workloads and events pages, rendered from a `view.View` (pure: no I/O).

Workloads: Deployments with rollout progress (updated/ready/available of desired), HPAs, Services
with their endpoints, Jobs and CronJobs when there are some, and every pod (host, status,
restarts, age). Events: newest first, filtered by object with `?for=Kind/name`.
"""

from __future__ import annotations

from urllib import parse

from reconciler.web.ui import html as h
from reconciler.web.ui import overview
from reconciler.web.ui import view as viewmod

SHOWN_EVENTS = 200  # newest events on the page unless `?limit=` asks for more


def workloads(view: viewmod.View) -> str:
    if view.problem or view.empty:
        return overview.empty_state(view)
    parts = [_deployments(view), _autoscalers(view), _services(view)]
    if view.jobs or view.cron_jobs:
        parts.append(_jobs(view))
    parts.append(_pods(view))
    return "".join(parts)


def _events_link(obj: str) -> str:
    return f'<a href="/ui/events?for={h.esc(_quote(obj))}">{h.esc(obj.rsplit("/", 1)[-1])}</a>'


def _quote(text: str) -> str:
    return parse.quote(text, safe="/")


def _deployments(view: viewmod.View) -> str:
    conditions = {
        (d.get("namespace"), d.get("name")): d for d in view.status.get("deployments") or []
    }
    rows = []
    counted = {(d.namespace, d.name): d for d in view.snapshot.deployments} if view.snapshot else {}
    for key in sorted(set(conditions) | set(counted), key=lambda k: (str(k[0]), str(k[1]))):
        namespace, name = str(key[0]), str(key[1])
        progressing = (conditions.get(key) or {}).get("progressing") or {}
        counts = counted.get((namespace, name))
        if counts is not None:
            word = "Stuck" if counts.failed else "Complete" if counts.complete else "Progressing"
            numbers = [
                f"{counts.ready}/{counts.desired}",
                str(counts.updated),
                str(counts.available),
            ]
            bar = (f'<progress max="{max(counts.desired, 1)}" value="{counts.updated}" '
                   f'aria-label="updated of desired"></progress>')  # fmt: skip
        else:
            word, numbers, bar = "Unknown", ["?", "?", "?"], ""
        message = progressing.get("message") or (counts.message if counts else "")
        rows.append([h.esc(namespace), _events_link(f"Deployment/{namespace}/{name}"),
                     *[h.esc(n) for n in numbers], bar + h.badge(word),
                     h.esc(progressing.get("reason", "")),
                     f'<span class="wrap">{h.esc(message)}</span>'])  # fmt: skip
    head = ("Namespace", "Deployment", "Ready", "Up-to-date", "Available", "Rollout", "Reason",
            "Message")  # fmt: skip
    return h.section(
        "Deployments", h.table(head, rows, empty="No Deployment.", label="deployments")
    )


def _autoscalers(view: viewmod.View) -> str:
    rows = [[h.esc(r.namespace), h.esc(r.name), h.esc(f"Deployment/{r.target}"), h.esc(r.targets),
             h.esc(r.replicas), h.esc(r.running),
             h.when(r.last_scale, view.now) if r.last_scale else '<span class="muted">never</span>']
            for r in sorted(view.autoscalers, key=lambda r: r.key)]  # fmt: skip
    head = ("Namespace", "HPA", "Target", "Metrics", "Replicas", "Running", "Last scale")
    return h.section(
        "Horizontal pod autoscalers",
        h.table(head, rows, empty="No HorizontalPodAutoscaler.", label="hpa"),
    )


def _services(view: viewmod.View) -> str:
    ready = {(c.get("namespace"), c.get("name")): c for c in view.status.get("services") or []}
    rows = []
    for s in view.snapshot.services if view.snapshot else ():
        condition = ready.get((s.namespace, s.name)) or {}
        word = "Ready" if condition.get("status") == "True" else (
            "NotReady" if condition else "Unknown")  # fmt: skip
        endpoints = "<br>".join(h.esc(e) for e in s.ready) or '<span class="muted">none</span>'
        waiting = "<br>".join(h.esc(e) for e in s.not_ready) or '<span class="muted">none</span>'
        rows.append([h.esc(s.namespace), h.esc(s.name), h.esc(s.type), h.esc(", ".join(s.ports)),
                     h.badge(word), endpoints, waiting])  # fmt: skip
    head = ("Namespace", "Service", "Type", "Ports", "Status", "Endpoints", "Not ready")
    return h.section("Services", h.table(head, rows, empty="No Service.", label="services"))


def _jobs(view: viewmod.View) -> str:
    rows = []
    for j in sorted(view.jobs, key=lambda j: (j.namespace, j.name)):
        word = str(j.outcome) if j.outcome else "Running"
        rows.append([h.esc(j.namespace), h.esc(j.name), h.badge(word),
                     h.esc(f"{len(j.succeeded)} succeeded, {len(j.failed)} failed"),
                     h.when(j.started, view.now), h.when(j.finished, view.now),
                     f'<span class="wrap">{h.esc(j.message)}</span>'])  # fmt: skip
    jobs = h.table(("Namespace", "Job", "Status", "Pods", "Started", "Finished", "Message"), rows,
                   empty="No Job.", label="jobs")  # fmt: skip
    crons = [
        [
            h.esc(c.namespace),
            h.esc(c.name),
            h.when(c.last_schedule, view.now) if c.last_schedule else "never",
            h.esc(len(c.runs)),
        ]
        for c in sorted(view.cron_jobs, key=lambda c: (c.namespace, c.name))
    ]
    cron_table = h.table(("Namespace", "CronJob", "Last schedule", "Jobs kept"), crons,
                         empty="No CronJob.", label="cronjobs")  # fmt: skip
    return h.section("Jobs", jobs) + h.section("CronJobs", cron_table)


def _pods(view: viewmod.View) -> str:
    if view.snapshot is None:
        return h.section("Pods", '<p class="empty">The pods are listed after the daemon\'s next '
                                 "sync.</p>")  # fmt: skip
    rows = [[h.esc(p.namespace), _events_link(f"Pod/{p.namespace}/{p.name}"), h.esc(p.ready),
             h.badge(p.status), h.esc(p.restarts), h.esc(p.host or "—"),
             h.when(p.created, view.now, suffix=""), h.esc(p.owner or "—"),
             f'<span class="wrap">{h.esc(p.message)}</span>']
            for p in view.snapshot.pods]  # fmt: skip
    head = ("Namespace", "Pod", "Ready", "Status", "Restarts", "Host", "Age", "Owner", "Message")
    seen = f'<p class="muted">As seen by the sync {h.when(view.snapshot.taken, view.now)}.</p>'
    return h.section(
        f"Pods ({len(view.snapshot.pods)})",
        seen + h.table(head, rows, empty="No pod runs.", label="pods"),
        anchor="pods",
    )


def matches(obj: str, wanted: str) -> bool:
    """Does the event object `Kind/namespace/name` (or `Kind/name`) match the filter `wanted`:
    the same object, `Kind/name` in any namespace, or a prefix ending at a `/`
    (`Pod/shop` is every pod of namespace shop, `Pod` every pod)."""
    wanted = wanted.strip().strip("/")
    if not wanted or obj == wanted or obj.startswith(wanted + "/"):
        return True
    parts = obj.split("/")
    return len(parts) == 3 and f"{parts[0]}/{parts[2]}" == wanted


def filter_form(wanted: str) -> str:
    return ('<form class="filter" method="get" action="/ui/events" role="search">'
            '<label for="for">Object</label>'
            f'<input id="for" name="for" value="{h.esc(wanted)}" '
            'placeholder="Deployment/web, Pod/shop/web-0, Host/h1">'
            '<button type="submit">Filter</button>'
            + ('<a href="/ui/events">clear</a>' if wanted else "") + "</form>")  # fmt: skip


def events(view: viewmod.View, wanted: str = "", limit: int = SHOWN_EVENTS) -> str:
    """The newest `limit` events that match `wanted` (a link shows them all)."""
    if view.problem:
        return overview.empty_state(view)
    chosen = [e for e in view.events if matches(e.object, wanted)]
    badges = {kind: h.badge(str(kind)) for kind in {e.kind for e in chosen}}
    links: dict[str, str] = {}  # objects repeat: each link is built once
    for e in chosen[:limit]:
        if e.object not in links:
            links[e.object] = (f'<a href="/ui/events?for={h.esc(_quote(e.object))}">'
                               f"{h.esc(e.object)}</a>")  # fmt: skip
    rows = [[h.when(e.time, view.now), badges[e.kind], links[e.object], h.esc(e.reason),
             f'<span class="wrap">{h.esc(e.message)}</span>'] for e in chosen[:limit]]  # fmt: skip
    title = f"Events of {wanted}" if wanted else "Events"
    if wanted:
        note = f"{len(rows)} of the {len(chosen)} events of {wanted} ({len(view.events)} kept)"
    else:
        note = f"The newest {len(rows)} events"
    more = ""
    if len(chosen) > limit:
        query = parse.urlencode({**({"for": wanted} if wanted else {}), "limit": viewmod.EVENTS})
        more = f' <a href="/ui/events?{h.esc(query)}">Show up to {viewmod.EVENTS}</a>'
    head = f'<p class="muted">{h.esc(note)}, newest first.{more}</p>'
    return h.section(title, head + h.table(("Time", "Type", "Object", "Reason", "Message"), rows,
                                           empty="No event.", label="events"))  # fmt: skip
