"""The dashboard's render time: each page with 200 pods and 1,000 events, against the `/status`
JSON endpoint in the same run (its baseline). A real state database (a temporary directory) holds
the conditions, 1,000 events and 50 syncs; the snapshot holds 200 pods on 10 hosts. Timed twice:
the server-side answer alone (`Dashboard.respond`, `json.dumps(status.document)`) and a GET over
loopback to the real HTTP server. Target: at most 50 ms per page, server side.

    python -m bench.ui_bench [--repeat 50] [--update-readme]
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import statistics
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from bench import report
from reconciler.source import git
from reconciler.state import conditions as cond
from reconciler.state import status as statusmod
from reconciler.state import store as storemod
from reconciler.web import metrics, server
from reconciler.web.ui import app, snapshot

TITLE = "Dashboard"
PODS, EVENTS, HOSTS, DEPLOYMENTS, SERVICES, SYNCS = 200, 1000, 10, 20, 10, 50
TARGET_MS = 50.0
PAGES = ("/ui/", "/ui/hosts", "/ui/workloads", "/ui/events", "/ui/events?limit=1000")


def fill(store: storemod.Store, now: float) -> snapshot.Snapshot:
    """The store and the snapshot of a daemon running PODS pods of DEPLOYMENTS Deployments."""
    true, false = cond.ConditionStatus.TRUE, cond.ConditionStatus.FALSE
    ready = cond.ConditionType.READY
    conditions = [cond.Condition("Host", "", f"h{i}", ready, true, cond.Reason.HOST_READY)
                  for i in range(HOSTS)]  # fmt: skip
    pods, deployments = [], []
    for d in range(DEPLOYMENTS):
        name = f"app{d}"
        conditions.append(
            cond.Condition(
                "Deployment",
                "bench",
                name,
                "Progressing",
                true,
                cond.Reason.NEW_REPLICA_SET_AVAILABLE,
                "complete",
            )
        )
        deployments.append(snapshot.DeploymentRow("bench", name, 10, 10, 10, 10, True, False, ""))
        for r in range(PODS // DEPLOYMENTS):
            pod, host = f"{name}-{r}", f"h{(d + r) % HOSTS}"
            ok = (d + r) % 17 != 0
            conditions.append(
                cond.Condition(
                    "Pod",
                    "bench",
                    pod,
                    ready,
                    true if ok else false,
                    cond.Reason.SYNCED if ok else cond.Reason.CRASH_LOOP_BACK_OFF,
                    f"on {host}",
                )
            )
            pods.append(
                snapshot.PodRow(
                    "bench",
                    pod,
                    host,
                    "Running" if ok else "CrashLoopBackOff",
                    "1/1" if ok else "0/1",
                    r % 3,
                    now - 3600 - r,
                    f"Deployment/{name}",
                )
            )
    for s in range(SERVICES):
        conditions.append(cond.Condition("Service", "bench", f"svc{s}", ready, true,
                                         cond.Reason.ENDPOINTS_READY))  # fmt: skip
    store.set_conditions(conditions)
    for i in range(SYNCS):
        sync_id = store.begin_sync(f"{i:040x}", "resync")
        store.finish_sync(sync_id, cond.SyncResult.SUCCEEDED, {"create": i % 4}, [], 1.5)
    store.set_applied_revision(f"{SYNCS - 1:040x}")
    for i in range(EVENTS):
        store.record_event(cond.EventKind.NORMAL if i % 5 else cond.EventKind.WARNING,
                           f"Pod/bench/app{i % DEPLOYMENTS}-{i % 10}", "Created",
                           f"create on h{i % HOSTS}: not running")  # fmt: skip
    hosts = tuple(snapshot.HostRow(f"h{i}", f"198.18.1.{i}", True, "", PODS // HOSTS, 2000, 8000,
                                   1 << 30, 8 << 30) for i in range(HOSTS))  # fmt: skip
    services = tuple(snapshot.ServiceRow("bench", f"svc{s}", "ClusterIP", (f"{8000 + s}/TCP",),
                                         tuple(f"198.18.1.{i}:4200{i} (app{s}-{i})"
                                               for i in range(10)), ())
                     for s in range(SERVICES))  # fmt: skip
    return snapshot.Snapshot(now, f"{SYNCS - 1:040x}", tuple(pods), tuple(deployments), hosts,
                             services)  # fmt: skip


def describe(sha: str) -> git.RevisionInfo:
    moment = datetime.datetime.now(tz=datetime.UTC)
    return git.RevisionInfo(sha, sha[:7], "Bench <bench@example.com>", "a commit", moment)


def timed(call: Callable[[], object], repeat: int) -> list[tuple[float, float]]:
    """(wall, CPU of this thread) seconds of each call: the CPU time is what the page costs the
    daemon, whatever else the machine runs; the wall time grows with the machine's load."""
    call()  # warm
    found = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.thread_time()
        call()
        found.append((time.perf_counter() - wall, time.thread_time() - cpu))
    return found


def median(samples: list[tuple[float, float]], which: int) -> float:
    return statistics.median(s[which] for s in samples)


def get(port: int, path: str) -> Callable[[], object]:
    def fetch() -> bytes:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", path)
        body = connection.getresponse().read()
        connection.close()
        return body

    return fetch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, storemod.Store(storemod.path_in(Path(tmp))) as store:
        taken = fill(store, time.time())

        def document() -> dict[str, object]:
            return statusmod.document(store)

        def page_of(path: str) -> Callable[[], object]:
            return lambda: dashboard.respond(path, {})

        dashboard = app.Dashboard(document, store, lambda: taken, describe)
        http = server.HttpServer("127.0.0.1:0", document, metrics.Registry(), lambda: True,
                                 dashboard=dashboard.respond)  # fmt: skip
        http.start()
        try:
            rows = [("`/status` (JSON), baseline",
                     timed(lambda: json.dumps(document(), indent=2), args.repeat),
                     timed(get(http.port, "/status"), args.repeat),
                     len(json.dumps(document(), indent=2)))]  # fmt: skip
            for page in PAGES:
                size = len(dashboard.respond(page, {}).body)
                rows.append((f"`{page}`", timed(page_of(page), args.repeat),
                             timed(get(http.port, page), args.repeat), size))  # fmt: skip
        finally:
            http.stop()
    base = median(rows[0][1], 1)
    worst = max(median(r[1], 1) for r in rows[1 : len(PAGES)]) * 1000
    lines = [
        "| what | bytes | server CPU | ratio to `/status` | server wall (p95) | GET, loopback |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for what, inner, outer, size in rows:
        p95 = sorted(s[0] for s in inner)[int(0.95 * (len(inner) - 1))]
        lines.append(f"| {what} | {size:,} | {median(inner, 1) * 1000:.1f} ms | "
                     f"{median(inner, 1) / base:.2f}x | {median(inner, 0) * 1000:.1f} ms "
                     f"({p95 * 1000:.1f} ms) | {median(outer, 0) * 1000:.1f} ms |")  # fmt: skip
    met = "met" if worst <= TARGET_MS else "NOT met"
    setup = (
        f"`python -m bench.ui_bench`: a state database with {PODS} pod conditions, {EVENTS:,} "
        f"events and {SYNCS} syncs; a snapshot of {PODS} pods on {HOSTS} hosts, {DEPLOYMENTS} "
        f"Deployments, {SERVICES} Services. Server: the page built from the database and the "
        "snapshot in the daemon's process (what one GET costs the daemon: the CPU time of the "
        "thread, and the wall time, which the machine's load inflates); GET: the same through "
        "the real HTTP server over loopback, a new connection each time. The baseline is the "
        "`/status` JSON document built and encoded in the same run."
    )
    outcome = (
        f"Target (each page at most {TARGET_MS:.0f} ms server side, CPU): {met} (slowest page "
        f"{worst:.1f} ms; the events page shows the newest 200 by default, all 1,000 only on "
        f"request: the last row, outside the target). Medians of {args.repeat} runs; load "
        f"average {os.getloadavg()[0]:.1f} at the end. Machine: {report.machine()}."
    )
    body = "\n".join([textwrap.fill(setup, 100), "", *lines, "", textwrap.fill(outcome, 100)])
    print(f"## {TITLE}\n\n{body}")
    if args.update_readme:
        report.write_section(TITLE, body)


if __name__ == "__main__":
    main()
