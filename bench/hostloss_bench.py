"""Host loss, return and drain with the daemon, on a lab of its own.

Run as root: `python -m bench.hostloss_bench [--hosts 3] [--pods-per-host 1] [--reps 3]
[--drain-pods 20]`. Builds its own lab (bridge thbr8, 198.18.8.x, users rchl8-hN, netns hl8-hN)
and git server (user rchl8-git, port 2228), runs `python -m reconciler daemon`
(host_grace_seconds 10, connect_timeout 3) and removes all of it at the end. Podman is read
directly on the hosts (each host's API socket, `bench.podwatch`), every 0.1 s (`--poll`; waits
that are not measured every 2 s at least: 50 hosts read every 0.1 s are 500 requests a second).

1. Host loss ▶ replacements running: Deployment `web`, hosts x pods-per-host replicas; the link
   of a host with replicas goes down (`ip link set … down`); timed until every one of its pods
   runs on another host (and until the first does). Floor: the grace period itself (nothing may
   move before it); target 15 s.
2. Return ▶ stale copies removed: the link comes back; timed until the returned host no longer
   lists any of them. Baseline, same run: `podman pod rm -f -t 0` of one pod on a host.
3. Drain of a host (Deployment `many`, drain-pods per host, maxUnavailable 5, maxSurge 0):
   timed from the push of `reconciler.dev/drain: "true"` until the host runs none of them and
   all run elsewhere. Ideal: ceil(N / 5) waves, a wave measured in the same run: the push of a
   scale-up by 5 until those 5 pods run. The section is "Host loss, return and drain" for the
   default 3 x 1 lab, "Host loss, H x P" otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

from bench import podwatch, report
from tests.harness import daemonproc, gitserver, hostsetup, proc
from tests.harness import lab as labmod

T = TypeVar("T")
GRACE = 10.0
TARGET = 15.0
NS = "hlbench"
MAX_UNAVAILABLE = 5


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def until(
    predicate: Callable[[], T | None], what: str, timeout: float = 180, step: float = 0.1
) -> float:
    """Seconds until `predicate` holds (polled every `step` seconds)."""
    started = time.monotonic()
    proc.wait_for(predicate, what, timeout, step)
    return time.monotonic() - started


def host_yaml(host: hostsetup.Host, drain: bool = False) -> str:
    note = '  annotations: {reconciler.dev/drain: "true"}\n' if drain else ""
    return (f"apiVersion: reconciler.dev/v1alpha1\nkind: Host\nmetadata:\n  name: {host.name}\n"
            f"{note}spec:\n  address: {host.address}\n  ssh: {{user: {host.user}}}\n"
            "  capacity: {cpu: \"16\", memory: 16Gi}\n")  # fmt: skip


def app(image: str, web: int, many: int) -> str:
    deployment = """---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}}}
spec:
  replicas: {replicas}
  strategy: {{rollingUpdate: {{maxUnavailable: {mu}, maxSurge: 0}}}}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - {{name: main, image: "{image}", command: [sleep, "36000"],
            resources: {{requests: {{cpu: 10m, memory: 8Mi}}}}}}
"""
    return (f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}}}\n"
            + deployment.format(name="web", ns=NS, replicas=web, mu=1, image=image)
            + deployment.format(name="many", ns=NS, replicas=many, mu=MAX_UNAVAILABLE,
                                image=image))  # fmt: skip


@dataclass
class Results:
    hosts: int = 3
    pods_per_host: int = 1
    connect_timeout: float = 3.0
    step: int = 0
    poll: float = 0.1
    deploy: float = 0.0
    lost_first: list[float] = field(default_factory=list)
    lost: list[float] = field(default_factory=list)
    moved: list[int] = field(default_factory=list)
    fenced: list[float] = field(default_factory=list)
    rm_floor: list[float] = field(default_factory=list)
    wave: list[float] = field(default_factory=list)
    drained_pods: int = 0
    drain: float = 0.0
    load: list[str] = field(default_factory=list)
    rest: dict[str, float] = field(default_factory=dict)
    noop: list[float] = field(default_factory=list)
    noop_floor: list[float] = field(default_factory=list)
    conditions: dict[str, int] = field(default_factory=dict)  # the daemon's log, whole run


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(args: argparse.Namespace, tmp: Path) -> Results:
    lab = labmod.Lab(labmod.LabConfig(name="hlbench", state_dir=tmp / "lab", bridge="thbr8",
                                      subnet=8, netns_prefix="hl8-",
                                      user_prefix="rchl8-"))  # fmt: skip
    server = daemon = watcher = None
    replicas = args.hosts * args.pods_per_host
    out = Results(hosts=args.hosts, pods_per_host=args.pods_per_host,
                  connect_timeout=args.connect_timeout, step=args.step, poll=args.poll,
                  load=[loadavg()])  # fmt: skip
    try:
        log(f"lab up {args.hosts} (load {loadavg()})")
        hosts = lab.up(args.hosts)
        by_name = {h.name: h for h in hosts}
        watcher = podwatch.Watcher(hosts, f"reconciler.dev/namespace={NS}")
        server = gitserver.start(tmp / "git", lab.config.gateway, user="rchl8-git", port=2228)
        work = gitserver.WorkTree(tmp / "work", server, author="bench")
        for host in hosts:
            work.write(f"hosts/{host.name}.yaml", host_yaml(host))
        initial = min(args.step or replicas, replicas)
        work.write("app.yaml", app(lab.config.image, initial, 0))
        work.commit_and_push("web")
        port = proc.free_port()
        config = tmp / "config.yaml"
        config.write_text(
            f"repository: {server.repository}\nbranch: main\nstate_dir: {tmp / 'state'}\n"
            f"resync_interval: 4\nssh_key: {lab.config.key_file}\n"
            f"known_hosts: {lab.config.known_hosts}\nlisten: 127.0.0.1:{port}\n"
            f"connect_timeout: {args.connect_timeout:g}\nhost_grace_seconds: {GRACE:g}\n"
        )
        env = {**os.environ, "RECONCILER_CONFIG": "/dev/null"}
        daemon = daemonproc.DaemonProcess(config, tmp / "daemon.log", port, env)
        log(f"lab up; daemon starts (load {loadavg()})")
        daemon.start()
        poll = watcher.poll

        def running(prefix: str) -> dict[str, str]:
            """Running pod name -> host, of the pods whose name starts with prefix."""
            return {n: host for host, found in poll().items() for n, up in found.items()
                    if n.startswith(prefix) and up}  # fmt: skip

        def running_on(prefix: str) -> dict[str, set[str]]:
            """Running pod name -> every host running a pod of that name: a lost host's stale
            copy and its replacement have the same name (a mapping to one host hid the
            replacement whenever the lost host came later in the reading than its new host:
            a 30-host run once waited 300 s for replacements that ran 3 s after the grace)."""
            found: dict[str, set[str]] = {}
            for host, pods in poll().items():
                for n, up in pods.items():
                    if n.startswith(prefix) and up:
                        found.setdefault(n, set()).add(host)
            return found

        def web_where() -> dict[str, str] | None:
            found = running("web-")
            return found if len(found) == replicas else None

        slow = max(args.poll, 2.0)  # waits that are not measured: poll the hosts less
        started = time.monotonic()
        for size in [*range(initial, replicas, args.step or replicas), replicas]:
            if size != initial:  # --step: the fleet grown that many pods a push
                work.write("app.yaml", app(lab.config.image, size, 0))
                work.commit_and_push(f"web: {size}")

            def grown(n: int = size) -> bool:
                return len(running("web-")) >= n

            until(grown, f"{size} web pods running", 120 + 2 * size, slow)
            log(f"{size} web pods running (load {loadavg()})")
        until(web_where, f"{replicas} web pods running", 120, slow)
        out.deploy = time.monotonic() - started
        log(f"{replicas} web pods running {out.deploy:.1f}s after the daemon started")
        if args.rest_window:
            at_rest(daemon, watcher, args.rest_window, out)
            log(f"at rest: {out.rest}, no-op resyncs {out.noop}, floors {out.noop_floor}")
        for rep in range(args.reps):
            where = web_where() or {}
            holding = sorted(set(where.values()), key=lambda n: int(n[1:]))
            victim = by_name[holding[rep % len(holding)]]
            stale = {n for n, h in where.items() if h == victim.name}
            out.moved.append(len(stale))
            lab.kill(victim.name)
            started = time.monotonic()
            first: list[float] = []

            def moved(
                names: set[str] = stale,
                victim: str = victim.name,
                first: list[float] = first,
                started: float = started,
            ) -> bool:
                elsewhere = {n for n, on in running_on("web-").items() if on - {victim}} & names
                if elsewhere and not first:
                    first.append(time.monotonic() - started)
                return elsewhere == names

            out.lost.append(until(moved, "the replacements running", 300, args.poll))
            out.lost_first.append(first[0] if first else out.lost[-1])
            started = time.monotonic()
            lab.revive(victim.name)
            label = f"reconciler.dev/namespace={NS}"
            until(lambda: not stale & set(podwatch.pods(victim, label)),  # noqa: B023
                  "the stale copies removed", 300, args.poll)  # fmt: skip
            out.fenced.append(time.monotonic() - started)
            out.load.append(loadavg())
            log(f"rep {rep + 1}: {len(stale)} pods of {victim.name}: loss ▶ first running "
                f"{out.lost_first[-1]:.1f}s, all running {out.lost[-1]:.1f}s, return ▶ fenced "
                f"{out.fenced[-1]:.1f}s (load {loadavg()})")  # fmt: skip
            until(web_where, "web running", 300, slow)
            time.sleep(2)

        host = hosts[0]
        for i in range(3):
            name = f"hlbench-floor-{i}"
            proc.run(hostsetup.as_user(host, "podman", "pod", "create", "--name", name))
            started = time.monotonic()
            proc.run(hostsetup.as_user(host, "podman", "pod", "rm", "-f", "-t", "0", name))
            out.rm_floor.append(time.monotonic() - started)
        if args.drain_pods:
            drain(args, lab, work, hosts, running, out)
    finally:
        if watcher is not None:
            watcher.close()
        if daemon is not None and daemon.running:
            daemon.stop()
        if daemon is not None and daemon.log.exists():
            out.conditions = conditions(daemon.log)
            if args.keep_log:
                shutil.copy(daemon.log, args.keep_log)
        if server is not None:
            gitserver.stop(server)
        podwatch.clear(lab.hosts())  # in parallel: the lab's teardown is one host at a time
        lab.down()
    return out


def conditions(log_file: Path) -> dict[str, int]:
    """Host condition changes (`host h3: Unknown (HostNotResponding): ...`, one line each),
    starved ticks and syncs by result, as the daemon's JSON log reports them."""
    counts: dict[str, int] = {}
    for line in log_file.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = str(entry.get("message", ""))
        change = re.match(r"host \S+: (Ready|Unknown|NotReady) \((\w+)\)", message)
        key = f"host {change[1]} ({change[2]})" if change else ""
        key = "daemon starved" if "this process was starved" in message else key
        if key:
            counts[key] = counts.get(key, 0) + 1
        if entry.get("result"):
            key = f"sync {entry['result']}"
            counts[key] = counts.get(key, 0) + 1
    return counts


def at_rest(
    daemon: daemonproc.DaemonProcess, watcher: podwatch.Watcher, window: float, out: Results
) -> None:
    """The daemon at rest with the fleet running: its VmRSS, threads and CPU from /proc over
    `window` seconds, and the duration of each periodic resync that changed nothing (from
    /status), each against a floor read right after it: every host's pods listed once over its
    Podman socket, hosts in parallel (`podwatch`, no SSH: a floor below the daemon's path)."""
    assert daemon.process is not None
    pid = daemon.process.pid

    def sample() -> tuple[int, int, float]:
        fields = dict(line.split(":", 1) for line in
                      Path(f"/proc/{pid}/status").read_text().splitlines())  # fmt: skip
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(ticks[11]) + int(ticks[12])) / os.sysconf("SC_CLK_TCK")
        return int(fields["VmRSS"].split()[0]) * 1024, int(fields["Threads"]), cpu

    started = time.monotonic()
    rss0, _, cpu0 = sample()
    rss_max, seen = rss0, ((daemon.status() or {}).get("lastFinishedSync") or {}).get("id", 0)
    while time.monotonic() - started < window:
        last = (daemon.status() or {}).get("lastFinishedSync") or {}
        if last.get("id", 0) > seen:
            seen = last["id"]
            changed = sum(last.get("counts", {}).get(k, 0) for k in ("create", "replace", "delete"))
            if (
                last.get("trigger") == "resync"
                and last.get("result") == "Succeeded"
                and not changed
            ):
                begun = time.monotonic()  # the floor, right after that resync
                watcher.poll()
                out.noop_floor.append(time.monotonic() - begun)
                out.noop.append(float(last["durationSeconds"]))
        rss_max = max(rss_max, sample()[0])
        time.sleep(1.0)
    rss, threads, cpu = sample()
    minutes = (time.monotonic() - started) / 60
    out.rest = {"rss_end": rss, "rss_max": max(rss_max, rss), "threads": threads,
                "cpu_per_min": (cpu - cpu0) / minutes, "seconds": minutes * 60}  # fmt: skip


def drain(args: argparse.Namespace, lab: labmod.Lab, work: gitserver.WorkTree,
          hosts: list[hostsetup.Host], running: Callable[[str], dict[str, str]],
          out: Results) -> None:  # fmt: skip
    """Drain of the host with most of Deployment `many`'s pods, against waves of a scale-up."""
    web = args.hosts * args.pods_per_host
    many = args.drain_pods * args.hosts
    work.write("app.yaml", app(lab.config.image, web, many))
    work.commit_and_push(f"many: {many}")

    def count(want: int) -> Callable[[], bool]:
        return lambda: len(running("many-")) >= want

    until(count(many), f"{many} pods", 300)
    for step in range(1, 3):
        work.write("app.yaml", app(lab.config.image, web, many + MAX_UNAVAILABLE * step))
        work.commit_and_push("scale up by maxUnavailable")
        out.wave.append(until(count(many + MAX_UNAVAILABLE * step), "a wave", 120))
    total = many + MAX_UNAVAILABLE * 2
    work.write("app.yaml", app(lab.config.image, web, total))
    placed = running("many-")
    target = max(hosts, key=lambda h: sum(1 for where in placed.values() if where == h.name))
    on_target = sum(1 for where in placed.values() if where == target.name)
    work.write(f"hosts/{target.name}.yaml", host_yaml(target, drain=True))
    work.commit_and_push(f"drain {target.name}")
    out.drained_pods = on_target

    def drained() -> bool:
        now = running("many-")
        return target.name not in now.values() and len(now) >= total

    out.drain = until(drained, "the drain", 600)
    log(f"drain of {on_target} pods: {out.drain:.1f}s")


def section_title(out: Results) -> str:
    if (out.hosts, out.pods_per_host) == (3, 1):
        return "Host loss, return and drain"
    return f"Host loss, {out.hosts} x {out.pods_per_host}"


def write(out: Results) -> str:
    lost, fenced = statistics.median(out.lost), statistics.median(out.fenced)
    first = statistics.median(out.lost_first)
    floor = statistics.median(out.rm_floor)
    moved = statistics.median(out.moved)
    rows = [
        (
            f"host loss ▶ all its pods running elsewhere ({moved:g} pods)",
            lost,
            f"{lost / GRACE:.2f}x the grace period (floor); {lost / TARGET:.2f}x the 15 s target",
        ),
        ("host loss ▶ the first of them running elsewhere", first, f"{first / GRACE:.2f}x"),
        (
            "return ▶ stale copies removed",
            fenced,
            f"{fenced / floor:.1f}x one `podman pod rm -f` ({floor:.2f} s)",
        ),
    ]
    if out.drain:
        wave = statistics.median(out.wave)
        waves = math.ceil(out.drained_pods / MAX_UNAVAILABLE)
        rows.append(
            (f"drain of {out.drained_pods} pods, maxUnavailable {MAX_UNAVAILABLE}", out.drain,
             f"{out.drain / (waves * wave):.2f}x the ideal: {waves} waves of {wave:.1f} s (a "
             f"wave: push of +{MAX_UNAVAILABLE} replicas until they run)")
        )  # fmt: skip
    table = "\n".join(f"| {what} | {secs:.1f} s | {ratio} |" for what, secs, ratio in rows)
    fleet = out.hosts * out.pods_per_host
    grown = f", grown {out.step} pods a push" if out.step else ""
    command = (
        f"python -m bench.hostloss_bench --hosts {out.hosts} --pods-per-host {out.pods_per_host}"
    )
    return f"""`{command}`
(root): its own lab of {out.hosts} hosts and daemon (`host_grace_seconds: {GRACE:g}`,
`connect_timeout: {out.connect_timeout:g}`, hosts pinged every second); Deployment `web` of
{fleet} pods ({out.pods_per_host} a host; all running {out.deploy:.0f} s after the daemon
started{grown}); a host's link goes down, then comes back. Podman read directly on every host
(its API socket) every {out.poll:g} s; medians of {len(out.lost)} runs (loss: {_list(out.lost)};
return: {_list(out.fenced)}). {report.machine()}.

| what | median | ratio |
|---|---:|---:|
{table}

{rest_text(out)}Target (loss ▶ running at most 15 s): {"met" if lost <= TARGET else "not met"}.
For comparison, Kubernetes re-places a lost node's pods after about 5 min 40 s by default (40 s
grace, then a 300 s toleration), Nomad after 20 to 30 s. Load average (1/5/15 min):
{"; ".join(out.load)} (start; after each run).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--pods-per-host", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--drain-pods", type=int, default=20, help="per host; 0: no drain")
    parser.add_argument("--connect-timeout", type=float, default=3.0)
    parser.add_argument("--rest-window", type=float, default=0.0, help="seconds; 0: not measured")
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between two reads")
    parser.add_argument("--step", type=int, default=0, help="grow the fleet by N pods a push")
    parser.add_argument("--keep-log", type=Path, help="copy the daemon's log here at the end")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--results", type=Path, help="rewrite the section from this JSON output")
    args = parser.parse_args()
    if args.results:
        out = Results(**json.loads(args.results.read_text()))
    else:
        with tempfile.TemporaryDirectory(prefix="hlbench-") as tmp:
            os.chmod(tmp, 0o755)
            out = run(args, Path(tmp))
        print(json.dumps(asdict(out), indent=1))
    body = write(out)
    print(body)
    if not args.no_write:
        report.write_section(section_title(out), body)


RSS_TARGET = 150e6  # issue 15: the daemon at rest at 50 x 10
NOOP_TARGET = 1.0  # issue 15: a no-op at 50 x 10, seconds


def rest_text(out: Results) -> str:
    """The daemon at rest with the fleet running (`--rest-window`), or nothing."""
    if not out.rest:
        return ""
    rest = out.rest
    text = (
        f"The daemon at rest with the {out.hosts * out.pods_per_host} pods running, before the "
        f"first loss ({rest['seconds']:.0f} s window, resync every 4 s): VmRSS "
        f"{rest['rss_end'] / 1e6:.1f} MB (max {rest['rss_max'] / 1e6:.1f} MB), "
        f"{rest['threads']:.0f} threads, {rest['cpu_per_min']:.1f} CPU s/min; target ≤ 150 MB "
        f"at 50 x 10: {'met' if rest['rss_max'] <= RSS_TARGET else 'NOT met'}. "
    )
    if out.noop:
        noop, floor = statistics.median(out.noop), statistics.median(out.noop_floor)
        text += (
            f"Its periodic resyncs that changed nothing ({len(out.noop)}): median {noop:.2f} s "
            f"({_list(out.noop)}), {noop / floor:.2f}x the floor of the same rounds (every "
            f"host's pods listed once on its Podman socket, hosts in parallel, no SSH: "
            f"median {floor:.2f} s); target no-op ≤ 1 s at 50 x 10: "
            f"{'met' if noop <= NOOP_TARGET else 'NOT met'}. "
        )
    else:
        text += "No periodic resync in the window changed nothing and succeeded. "
    return text + "\n\n"


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.1f} s" for v in values)


if __name__ == "__main__":
    main()
