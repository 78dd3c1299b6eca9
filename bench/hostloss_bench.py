"""Host loss, return and drain with the daemon, on a lab of its own.

Run as root: `python -m bench.hostloss_bench [--reps 3] [--drain-pods 20]`. Builds its own lab
(bridge thbr8, 198.18.8.x, users rchl8-hN, netns hl8-hN, 3 hosts) and git server (user
rchl8-git, port 2228), runs `python -m reconciler daemon` (host_grace_seconds 10,
connect_timeout 3) and removes all of it at the end. Podman is read directly on the hosts (as
each host's user on this machine), every 0.1 s.

1. Host loss ▶ replacement running: Deployment `web`, 3 replicas, one per host; the link of a
   host with a replica goes down (`ip link set … down`); timed until the replica runs on another
   host. Floor: the grace period itself (nothing may move before it); target 15 s.
2. Return ▶ stale copy removed: the link comes back; timed until the returned host no longer
   lists the stale replica. Baseline, same run: `podman pod rm -f -t 0` of one pod on a host.
3. Drain of a host with N pods (Deployment `many`, maxUnavailable 5, maxSurge 0): timed from the
   push of `reconciler.dev/drain: "true"` until the host runs none of them and all run elsewhere.
   Ideal: ceil(N / 5) waves, a wave measured in the same run: the push of a scale-up by 5 until
   those 5 pods run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bench import report
from tests.harness import daemonproc, gitserver, hostsetup, proc
from tests.harness import lab as labmod

T = TypeVar("T")
GRACE = 10.0
TARGET = 15.0
NS = "hlbench"
MAX_UNAVAILABLE = 5


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pods(host: hostsetup.Host) -> dict[str, bool]:
    """Pod name -> running, from Podman on the host."""
    argv = hostsetup.as_user(host, "podman", "pod", "ps", "--format", "json", "--filter",
                             f"label=reconciler.dev/namespace={NS}")  # fmt: skip
    done = proc.run(argv, timeout=60)
    return {
        (item.get("Labels") or {}).get("reconciler.dev/name", "?"): item.get("Status") == "Running"
        for item in json.loads(done.stdout or "[]")
    }


def until(predicate: Callable[[], T | None], what: str, timeout: float = 180) -> float:
    """Seconds until `predicate` holds (polled every 0.1 s)."""
    started = time.monotonic()
    proc.wait_for(predicate, what, timeout, 0.1)
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
    lost: list[float] = field(default_factory=list)
    fenced: list[float] = field(default_factory=list)
    rm_floor: list[float] = field(default_factory=list)
    wave: list[float] = field(default_factory=list)
    drained_pods: int = 0
    drain: float = 0.0


def run(args: argparse.Namespace, tmp: Path) -> Results:
    lab = labmod.Lab(labmod.LabConfig(name="hlbench", state_dir=tmp / "lab", bridge="thbr8",
                                      subnet=8, netns_prefix="hl8-",
                                      user_prefix="rchl8-"))  # fmt: skip
    server = daemon = None
    out = Results()
    try:
        hosts = lab.up(3)
        by_name = {h.name: h for h in hosts}
        server = gitserver.start(tmp / "git", lab.config.gateway, user="rchl8-git", port=2228)
        work = gitserver.WorkTree(tmp / "work", server, author="bench")
        for host in hosts:
            work.write(f"hosts/{host.name}.yaml", host_yaml(host))
        work.write("app.yaml", app(lab.config.image, 3, 0))
        work.commit_and_push("web")
        port = proc.free_port()
        config = tmp / "config.yaml"
        config.write_text(
            f"repository: {server.repository}\nbranch: main\nstate_dir: {tmp / 'state'}\n"
            f"resync_interval: 4\nssh_key: {lab.config.key_file}\n"
            f"known_hosts: {lab.config.known_hosts}\nlisten: 127.0.0.1:{port}\n"
            f"connect_timeout: 3\nhost_grace_seconds: {GRACE:g}\n"
        )
        env = {**os.environ, "RECONCILER_CONFIG": "/dev/null"}
        daemon = daemonproc.DaemonProcess(config, tmp / "daemon.log", port, env)
        daemon.start()

        def web_where() -> dict[str, str] | None:
            found = {n: h.name for h in hosts for n, up in pods(h).items()
                     if n.startswith("web-") and up}  # fmt: skip
            return found if len(found) == 3 else None

        until(web_where, "web running", 120)
        lost_times, fence_times = out.lost, out.fenced
        for rep in range(args.reps):
            where = web_where()
            assert where is not None
            holding = sorted(set(where.values()))
            victim = by_name[holding[rep % len(holding)]]
            stale = next(n for n, h in where.items() if h == victim.name)
            others = [h for h in hosts if h is not victim]
            lab.kill(victim.name)
            lost_times.append(until(lambda: any(pods(h).get(stale) for h in others),  # noqa: B023
                                    "the replacement running"))  # fmt: skip
            started = time.monotonic()
            lab.revive(victim.name)
            until(lambda: stale not in pods(victim), "the stale copy removed")  # noqa: B023
            fence_times.append(time.monotonic() - started)
            log(f"rep {rep + 1}: loss ▶ running {lost_times[-1]:.1f}s, "
                f"return ▶ fenced {fence_times[-1]:.1f}s")  # fmt: skip
            until(web_where, "web running", 120)
            time.sleep(2)

        rm_floor = out.rm_floor
        host = hosts[0]
        for i in range(3):
            name = f"hlbench-floor-{i}"
            proc.run(hostsetup.as_user(host, "podman", "pod", "create", "--name", name))
            started = time.monotonic()
            proc.run(hostsetup.as_user(host, "podman", "pod", "rm", "-f", "-t", "0", name))
            rm_floor.append(time.monotonic() - started)

        many = args.drain_pods * 3
        work.write("app.yaml", app(lab.config.image, 3, many))
        work.commit_and_push(f"many: {many}")

        def count(want: int) -> Callable[[], bool]:
            return lambda: sum(1 for h in hosts for n, up in pods(h).items()
                               if n.startswith("many-") and up) >= want  # fmt: skip

        until(count(many), f"{many} pods", 300)
        waves = out.wave
        for step in range(1, 3):
            work.write("app.yaml", app(lab.config.image, 3, many + MAX_UNAVAILABLE * step))
            work.commit_and_push("scale up by maxUnavailable")
            waves.append(until(count(many + MAX_UNAVAILABLE * step), "a wave", 120))
        total = many + MAX_UNAVAILABLE * 2
        work.write("app.yaml", app(lab.config.image, 3, total))
        target = max(hosts, key=lambda h: sum(1 for n in pods(h) if n.startswith("many-")))
        on_target = sum(1 for n in pods(target) if n.startswith("many-"))
        work.write(f"hosts/{target.name}.yaml", host_yaml(target, drain=True))
        work.commit_and_push(f"drain {target.name}")
        out.drained_pods = on_target

        def drained() -> bool:
            left = [n for n in pods(target) if n.startswith("many-")]
            return not left and count(total)()

        out.drain = until(drained, "the drain", 600)
        log(f"drain of {on_target} pods: {out.drain:.1f}s")
    finally:
        if daemon is not None and daemon.running:
            daemon.stop()
        if server is not None:
            gitserver.stop(server)
        lab.down()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--drain-pods", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hlbench-") as tmp:
        out = run(args, Path(tmp))
    lost, fenced = statistics.median(out.lost), statistics.median(out.fenced)
    floor, wave = statistics.median(out.rm_floor), statistics.median(out.wave)
    waves = math.ceil(out.drained_pods / MAX_UNAVAILABLE)
    ideal = waves * wave
    rows = [
        ("host loss ▶ replacement running", lost,
         f"{lost / GRACE:.2f}x the grace period (floor); {lost / TARGET:.2f}x the 15 s target"),
        ("return ▶ stale copy removed", fenced,
         f"{fenced / floor:.1f}x one `podman pod rm -f` ({floor:.2f} s)"),
        (f"drain of {out.drained_pods} pods, maxUnavailable {MAX_UNAVAILABLE}", out.drain,
         f"{out.drain / ideal:.2f}x the ideal: {waves} waves of {wave:.1f} s (a wave: push of "
         f"+{MAX_UNAVAILABLE} replicas until they run)"),
    ]
    table = "\n".join(f"| {what} | {secs:.1f} s | {ratio} |" for what, secs, ratio in rows)
    body = f"""`python -m bench.hostloss_bench` (root): its own 3-host lab and daemon
(`host_grace_seconds: {GRACE:g}`, `connect_timeout: 3`, hosts checked every second); Podman read
directly every 0.1 s; medians of {len(out.lost)} runs (loss: {_list(out.lost)}; return:
{_list(out.fenced)}). {report.machine()}.

| what | median | ratio |
|---|---:|---:|
{table}

Target (loss ▶ running at most 15 s): {"met" if lost <= TARGET else "missed"}. For comparison,
Kubernetes re-places a lost node's pods after about 5 min 40 s by default (40 s grace, then a
300 s toleration), Nomad after 20 to 30 s.
"""
    report.write_section("Host loss, return and drain", body)
    print(body)


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.1f} s" for v in values)


if __name__ == "__main__":
    main()
