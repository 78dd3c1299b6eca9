"""The daemon's probe cost and its exit-to-restart latency (issue 10), against baselines of the
same run. Part of `python -m bench.controllers_bench` (which builds the lab); here a git server
(user rcc5-git, port 2225) and `reconciler daemon` (resync every 10 s) run against it.

1. Probe cost: Deployment `idle` of N busybox httpd pods (1 container each, Recreate) on every
   host of the lab. The daemon's utime+stime (its own, /proc/PID) over a window of steady state,
   first without probes (baseline), then with the same pods carrying a readinessProbe httpGet
   every P s; the difference is the probes' share of one core, and divided by the probes run in
   the window (N x window / P), the CPU per probe.
2. Exit-to-restart: bare Pods whose container runs `sleep S; exit 1` (S staggered); from the
   host's Podman event log, `died` to the next `start` of the same container, for the first
   restart (due at once) and the second (after the 10 s back-off). Baseline, same run, same
   hosts: an unmanaged container with the same command, restarted by `podman start` on the host
   as soon as `podman wait` returns; both the `podman start` command's own time and its `died`
   to `start` in the same event log.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench import daemon_bench, manifests, rollout_bench
from bench.rollout_bench import HTTPD, PATH, log
from reconciler.model import hoststate, timestamps
from tests.harness import gitserver, proc
from tests.harness import lab as labmod

NAMESPACE = "ctl"
GIT_USER = "rcc5-git"
GIT_PORT = 2225
PROBE_TARGET = 0.05  # of one core
RESTART_TARGET = 2.0  # seconds
CRASH_BASE = 3  # seconds the first crash pod runs; pod i runs CRASH_BASE + i
CHANGES = ("create", "replace", "delete", "restart")
START_CMD = (
    "podman wait {name} >/dev/null; a=$(date +%s%N); podman start {name} >/dev/null; "
    "b=$(date +%s%N); echo $a $b"
)


# ----- manifests -------------------------------------------------------------------------------


def idle_yaml(image: str, replicas: int, period: int | None) -> str:
    """Deployment `idle`: httpd pods, with a readinessProbe every `period` s (None: no probe)."""
    main = manifests.container(
        image, HTTPD, name="httpd", ports=[{"name": "http", "containerPort": 8080}]
    )
    if period is not None:
        probe: manifests.Fields = {"httpGet": {"path": PATH, "port": 8080}, "periodSeconds": period}
        main = {**main, "readinessProbe": probe}
    document: manifests.Fields = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "idle", "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "idle"}},
            "strategy": {"type": "Recreate"},
            "template": {
                "metadata": {"labels": {"app": "idle"}},
                "spec": {"terminationGracePeriodSeconds": 1, "containers": [main]},
            },
        },
    }
    return manifests.render(document)


def crash_yaml(image: str, count: int) -> str:
    """Bare Pods crash-0.. whose container exits 1 after CRASH_BASE + i seconds."""
    return "---\n".join(
        manifests.pod_yaml(
            f"crash-{i}",
            NAMESPACE,
            manifests.container(
                image, ["sh", "-c", f"sleep {CRASH_BASE + i}; exit 1"], name="crash"
            ),
            grace_seconds=1,
        )
        for i in range(count)
    )


# ----- the daemon and its hosts ----------------------------------------------------------------


class Bench:
    def __init__(self, lab: labmod.Lab, tmp: Path, args: argparse.Namespace) -> None:
        self.lab, self.tmp, self.args = lab, tmp, args
        self.image = lab.config.image
        self.server = gitserver.start(tmp / "git", lab.config.gateway, user=GIT_USER, port=GIT_PORT)
        base = tmp / "daemon"
        base.mkdir()
        port = proc.free_port()
        self.config = base / "config.yaml"
        self.config.write_text(
            f"repository: {self.server.repository}\nbranch: main\nstate_dir: {base / 'state'}\n"
            f"resync_interval: {args.resync}\nssh_key: {lab.config.key_file}\n"
            f"known_hosts: {lab.config.known_hosts}\nlisten: 127.0.0.1:{port}\n"
            "connect_timeout: 10\n"
        )
        env = {
            **os.environ,
            "RECONCILER_SSH_KEY": str(lab.config.key_file),
            "RECONCILER_KNOWN_HOSTS": str(lab.config.known_hosts),
            "RECONCILER_CONFIG": "/dev/null",
        }
        self.work = gitserver.WorkTree(base / "work", self.server, author="bench")
        for host in lab.hosts():
            self.work.write(f"hosts/{host.name}.yaml", daemon_bench.host_yaml(host))
        self.work.write(f"{NAMESPACE}/namespace.yaml", manifests.namespace_yaml(NAMESPACE))
        self.log_file = base / "daemon.log"
        self.daemon = daemon_bench.Daemon(self.config, self.log_file, port, env)
        self.hosts = daemon_bench.Hosts(lab)
        self.placed: dict[str, str] = {}  # pod name -> host, as last listed

    async def start(self) -> None:
        sha = self.work.commit_and_push("hosts")
        self.daemon.start()
        await asyncio.to_thread(
            proc.wait_for, lambda: self.daemon.applied(sha), "the first revision applied", 300, 0.2
        )
        await self.hosts.connect()

    def close(self) -> None:
        self.hosts.close()
        if self.daemon.process is not None:
            self.daemon.stop()
        gitserver.stop(self.server)

    async def push(self, rel: str, text: str, message: str) -> str:
        self.work.write(rel, text)
        sha = self.work.commit_and_push(message)
        await asyncio.to_thread(
            proc.wait_for, lambda: self.daemon.applied(sha), f"{message} applied", 900, 0.2
        )
        return sha

    async def pods(self, prefix: str) -> dict[str, str]:
        """Pod name -> status of this namespace's pods named `prefix`..., on every host."""
        argv = [
            "podman",
            "pod",
            "ps",
            "--filter",
            f"label={hoststate.LABEL_NAMESPACE}={NAMESPACE}",
            "--format",
            "{{.Name}} {{.Status}}",
        ]
        found: dict[str, str] = {}
        outs = await asyncio.gather(
            *(self.hosts.run(i, argv) for i in range(len(self.hosts.hosts)))
        )
        for host, out in zip(self.hosts.hosts, outs, strict=True):
            for line in out.splitlines():
                name, status = line.split()[:2]
                if name.startswith(f"{NAMESPACE}_{prefix}"):
                    found[name] = status
                    self.placed[name] = host.name
        return found

    async def settle(self, prefix: str, count: int, gone: set[str]) -> dict[str, str]:
        """Wait for `count` Running pods named `prefix`..., none of `gone`, then for a sync
        after that which changed nothing (the rollout is over)."""
        for _ in range(3600):
            found = await self.pods(prefix)
            running = [n for n, s in found.items() if s == "Running" and n not in gone]
            if len(running) == count and len(found) == count:
                break
            await asyncio.sleep(1.0)
        else:
            raise TimeoutError(f"{count} {prefix} pods never ran")
        last = self._last_sync().get("id", 0)

        def quiet() -> bool:
            done = self._last_sync()
            changed = sum(done.get("counts", {}).get(k, 0) for k in CHANGES)
            return done.get("id", 0) > last and done.get("result") == "Succeeded" and not changed

        await asyncio.to_thread(proc.wait_for, quiet, "a sync that changed nothing", 300, 0.2)
        return found

    def _last_sync(self) -> dict[str, Any]:
        return dict((self.daemon.status() or {}).get("lastFinishedSync") or {})

    def cpu_window(self, seconds: float, slices: int = 3) -> dict[str, Any]:
        """The daemon's own CPU seconds over `seconds`, in `slices` equal parts."""
        t0, _, c0 = self.daemon.sample()
        log_size = self.log_file.stat().st_size
        parts: list[float] = []
        loads: list[float] = []
        previous = (t0, c0)
        for k in range(1, slices + 1):
            while time.monotonic() < t0 + seconds * k / slices:
                time.sleep(0.5)
                loads.append(os.getloadavg()[0])
            t, _, c = self.daemon.sample()
            parts.append((c - previous[1]) / (t - previous[0]))
            previous = (t, c)
        with self.log_file.open("rb") as f:
            f.seek(log_size)
            failed = f.read().decode(errors="replace").lower().count("probe failed")
        return {
            "seconds": previous[0] - t0,
            "cpu": previous[1] - c0,
            "shares": parts,
            "load": statistics.mean(loads),
            "probe_failures_logged": failed,
        }

    # ----- 1. probe cost -----------------------------------------------------------------------

    async def probe_cost(self) -> dict[str, Any]:
        args = self.args
        n, period = args.probe_pods, args.probe_period
        rel = f"{NAMESPACE}/idle.yaml"
        started = time.monotonic()
        await self.push(rel, idle_yaml(self.image, n, None), f"{n} idle pods")
        plain = await self.settle("idle-", n, set())
        log(
            f"probes: {n} pods without probes running in {time.monotonic() - started:.0f}s; "
            f"window {args.window:.0f}s"
        )
        await asyncio.sleep(2.0)
        baseline = await asyncio.to_thread(self.cpu_window, args.window)
        log(f"probes: without probes {baseline}")
        started = time.monotonic()
        await self.push(rel, idle_yaml(self.image, n, period), f"{n} idle pods with probes")
        await self.settle("idle-", n, set(plain))
        swap = time.monotonic() - started
        await asyncio.sleep(2.0 * period)  # every pod probed at least once, on its schedule
        log(f"probes: {n} pods with probes running ({swap:.0f}s); window {args.window:.0f}s")
        probed = await asyncio.to_thread(self.cpu_window, args.window)
        log(f"probes: with probes {probed}")
        floor = await self.get_floor(args.floor_gets)
        log(f"probes: floor {floor}")
        placement = collections.Counter(self.placed[name] for name in plain)
        await self.push(rel, idle_yaml(self.image, 0, period), "no idle pods")
        await self.settle("idle-", 0, set())
        return {
            "pods": n,
            "period": period,
            "hosts": len(self.hosts.hosts),
            "baseline": baseline,
            "probed": probed,
            "floor": floor,
            "swap_seconds": swap,
            "resync": args.resync,
            "placement": dict(placement),
        }

    async def get_floor(self, count: int) -> dict[str, float]:
        """CPU of this process per HTTP GET through a direct-tcpip channel of an open asyncssh
        connection to a pod's loopback probe port (what one httpGet probe must do at least);
        `count` GETs, the hosts in parallel, each host's in sequence over its pods' ports."""
        argv = [
            "podman",
            "ps",
            "--filter",
            f"label={hoststate.LABEL_NAMESPACE}={NAMESPACE}",
            "--format",
            "json",
        ]
        ports: list[list[int]] = []
        for index in range(len(self.hosts.hosts)):
            found = []
            for container in json.loads(await self.hosts.run(index, argv)):
                label = (container.get("Labels") or {}).get(hoststate.LABEL_PROBE_PORTS, "")
                found += [int(item.split("=")[1]) for item in label.split(",") if item]
            ports.append(found)
        per_host = count // len(ports)

        async def gets(index: int) -> int:
            conn, mine = self.hosts.conns[index], ports[index]
            return sum(
                [await rollout_bench.http_ok(conn, mine[k % len(mine)]) for k in range(per_host)]
            )

        cpu0, t0 = time.process_time(), time.monotonic()
        answered = sum(await asyncio.gather(*(gets(i) for i in range(len(ports)))))
        cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
        done = per_host * len(ports)
        return {"gets": done, "ok": answered, "cpu": cpu, "wall": wall, "cpu_per_get": cpu / done}

    # ----- 2. exit-to-restart ------------------------------------------------------------------

    async def events(
        self, index: int, since: float, prefix: str
    ) -> list[tuple[str, str, str, float]]:
        """(name, id, status, epoch seconds) of containers named `prefix`... on host `index`."""
        argv = [
            "podman",
            "events",
            "--stream=false",
            "--since",
            str(int(since)),
            "--filter",
            "type=container",
            "--format",
            "json",
        ]
        found = []
        for line in (await self.hosts.run(index, argv)).splitlines():
            if not line.strip():
                continue
            raw = json.loads(line)
            name = str(raw.get("Name", ""))
            when = timestamps.epoch(str(raw.get("Time", "")))
            if name.startswith(prefix) and when is not None:
                found.append((name, str(raw.get("ID", "")), str(raw.get("Status", "")), when))
        return sorted(found, key=lambda e: e[3])

    async def podman_start(self, count: int) -> list[dict[str, float]]:
        """The baseline: `podman start` on the host as soon as `podman wait` returns."""
        samples = []
        for i in range(count):
            index = i % min(3, len(self.hosts.hosts))
            name = f"base-{i}"
            await self.hosts.run(index, ["podman", "rm", "-f", "-t", "0", "--ignore", name])
            since = time.time() - 1
            await self.hosts.run(
                index,
                ["podman", "run", "-d", "--name", name, self.image, "sh", "-c", "sleep 2; exit 1"],
            )
            out = await self.hosts.run(index, ["sh", "-c", START_CMD.format(name=name)])
            a, b = (int(x) / 1e9 for x in out.split())
            events = await self.events(index, since, name)
            died = min(t for n, _, s, t in events if n == name and s == "died")
            start = min(t for n, _, s, t in events if n == name and s == "start" and t > died)
            await self.hosts.run(index, ["podman", "rm", "-f", "-t", "0", name])
            samples.append({"command": b - a, "died_to_start": start - died, "wait": a - died})
            log(
                f"restarts: baseline {i}: podman start {b - a:.3f}s, died->start "
                f"{start - died:.3f}s"
            )
        return samples

    async def restarts(self) -> dict[str, Any]:
        args = self.args
        baseline = await self.podman_start(args.start_samples)
        count = args.crash_pods
        since = time.time() - 1
        await self.push(f"{NAMESPACE}/crash.yaml", crash_yaml(self.image, count), "crash pods")
        prefix = f"{NAMESPACE}_crash-"
        per: dict[str, list[tuple[str, str, float]]] = {}
        deadline = time.monotonic() + 60 + 2 * (CRASH_BASE + count)
        while time.monotonic() < deadline:
            per = collections.defaultdict(list)
            for index in range(len(self.hosts.hosts)):
                for name, cid, status, when in await self.events(index, since, prefix):
                    per[name].append((cid, status, when))
            starts = [sum(1 for _, s, _ in evs if s == "start") for evs in per.values()]
            if len(per) == count and min(starts) >= 3:
                break
            await asyncio.sleep(2.0)
        else:
            raise TimeoutError(f"crash pods did not start 3 times each: {dict(per)}")
        first, second, ids = [], [], []
        for evs in per.values():
            died = [t for _, s, t in evs if s == "died"]
            started = [t for _, s, t in evs if s == "start"]
            first.append(min(t for t in started if t > died[0]) - died[0])
            second.append(min(t for t in started if t > died[1]) - died[1])
            ids.append(len({c for c, _, _ in evs}))
        log(f"restarts: first {first}, second {second}, container ids per pod {ids}")
        self.work.git("rm", "-q", f"{NAMESPACE}/crash.yaml")
        sha = self.work.commit_and_push("no crash pods")
        await asyncio.to_thread(
            proc.wait_for, lambda: self.daemon.applied(sha), "no crash pods applied", 300, 0.2
        )
        return {"baseline": baseline, "first": first, "second": second, "ids": ids, "pods": count}


async def _run(
    lab: labmod.Lab, tmp: Path, args: argparse.Namespace, parts: list[str]
) -> dict[str, Any]:
    bench = Bench(lab, tmp, args)
    results: dict[str, Any] = {}
    try:
        await bench.start()
        if "probes" in parts:
            results["probes"] = await bench.probe_cost()
        if "restarts" in parts:
            results["restarts"] = await bench.restarts()
    finally:
        bench.close()
    return results


def run(lab: labmod.Lab, tmp: Path, args: argparse.Namespace, parts: list[str]) -> dict[str, Any]:
    return asyncio.run(_run(lab, tmp, args, parts))


# ----- the sections ----------------------------------------------------------------------------


def _pct(share: float) -> str:
    return f"{share * 100:.2f}%"


def render_probes(r: dict[str, Any], machine: str) -> str:
    base, probed = r["baseline"], r["probed"]
    share0 = base["cpu"] / base["seconds"]
    share1 = probed["cpu"] / probed["seconds"]
    extra = share1 - share0
    probes = r["pods"] * probed["seconds"] / r["period"]
    per_probe = max(0.0, probed["cpu"] - share0 * probed["seconds"]) / probes
    placement = ", ".join(
        f"{h} {n}" for h, n in sorted(r["placement"].items(), key=lambda hn: int(hn[0][1:]))
    )
    ok = extra <= PROBE_TARGET
    floor = r["floor"]
    rate = r["pods"] / r["period"]
    budget = PROBE_TARGET / rate
    lines = [
        "`python -m bench.controllers_bench --only probes` (root): the benchmark's own lab of "
        f"{r['hosts']} hosts (bridge thbr5), a git server and `reconciler daemon` (resync every "
        f"{r['resync']:.0f} s). Deployment `idle` of {r['pods']} busybox `httpd` pods, one "
        f"container each (per host: {placement}). The daemon's own utime+stime from /proc/PID "
        f"over {probed['seconds']:.0f} s of steady state (after its rollout was over and a sync "
        "changed nothing), in three equal slices. Baseline, same daemon process, same run, just "
        f"before: the same {r['pods']} pods without probes. Then the template gains a "
        f"readinessProbe httpGet `{PATH}` every {r['period']} s (Recreate: "
        f"{r['swap_seconds']:.0f} s until the new pods ran), and the window is measured again.",
        "",
        "| what | CPU s in window | share of one core | slices | ratio to no probes |",
        "|---|---:|---:|---|---:|",
        f"| baseline: daemon, {r['pods']} pods, no probes | {base['cpu']:.2f} | {_pct(share0)} | "
        f"{', '.join(_pct(s) for s in base['shares'])} | 1.00x |",
        f"| daemon, {r['pods']} pods, readinessProbe every {r['period']} s | {probed['cpu']:.2f} | "
        f"{_pct(share1)} | {', '.join(_pct(s) for s in probed['shares'])} | "
        f"{share1 / max(share0, 1e-9):.2f}x |",
        f"| **the probes' share (difference)** | {probed['cpu'] - share0 * probed['seconds']:.2f} "
        f"| **{_pct(extra)}** | | |",
        "",
        f"Target (probes ≤ {_pct(PROBE_TARGET)} of one core): {'met' if ok else '**NOT met**'} "
        f"({_pct(extra)}); the budget at {rate:.0f} probes/s is {budget * 1000:.2f} ms of CPU "
        f"per probe. Probes run in the window: {probes:.0f} ({r['pods']} pods x "
        f"{probed['seconds']:.0f} s / {r['period']} s, from the schedule; failed probes logged "
        f"in the window: {probed['probe_failures_logged']}).",
        "",
        "| what | CPU per probe | ratio to floor |",
        "|---|---:|---:|",
        f"| floor: the same GET through a direct-tcpip channel of an open asyncssh connection, "
        f"from a bare Python process ({floor['gets']} GETs, {floor['ok']} answered 200) | "
        f"{floor['cpu_per_get'] * 1000:.2f} ms | 1.00x |",
        f"| daemon: one httpGet probe (the probes' CPU / probes run) | {per_probe * 1000:.2f} ms "
        f"| {per_probe / floor['cpu_per_get']:.2f}x |",
        "",
        "An httpGet probe is an HTTP GET through the host's SSH connection (a direct-tcpip "
        "channel to the pod's loopback probe port): the floor is what opening and closing that "
        "channel and one request cost in Python with asyncssh alone; the rest is the prober "
        "(scheduling, a worker thread per probe handing the coroutine to the executor's event "
        "loop, results, readiness).",
        "",
        f"Machine: {machine}; mean 1-min load in the windows {base['load']:.1f} (no probes) and "
        f"{probed['load']:.1f} (probes). The hosts' own work (Podman, rootlessport, httpd) is "
        "not the daemon's and is not counted.",
    ]
    return "\n".join(lines)


def render_restarts(r: dict[str, Any], machine: str) -> str:
    base = r["baseline"]
    command = [s["command"] for s in base]
    loop = [s["died_to_start"] for s in base]
    first, second = r["first"], r["second"]
    med_c, med_l = statistics.median(command), statistics.median(loop)
    med_1, med_2 = statistics.median(first), statistics.median(second)

    def row(label: str, values: list[float], ratios: bool = True) -> str:
        med = statistics.median(values)
        cells = f"{med / med_c:.2f}x | {med / med_l:.2f}x" if ratios else "(back-off) | "
        return f"| {label} | {med:.2f} s | {', '.join(f'{v:.2f}' for v in values)} | {cells} |"

    ok = med_1 <= RESTART_TARGET
    replaced = sum(1 for n in r["ids"] if n != 1)
    lines = [
        "`python -m bench.controllers_bench --only restarts` (root): the same lab and daemon as "
        f'"Probe cost". {r["pods"]} bare Pods, each one container running '
        f"`sh -c 'sleep S; exit 1'` (S = {CRASH_BASE}..{CRASH_BASE + r['pods'] - 1} s, so the "
        "exits are spread out), restartPolicy Always. Times are from each host's Podman event "
        "log (one clock): a container's `died` event to its next `start` event. Baselines, same "
        "run, same hosts, just before: an unmanaged container with the same command, started "
        "again by `podman start` on the host as soon as `podman wait` returns: the `podman "
        "start` command's own time, and that loop's `died` to `start` in the same event log. "
        "(Kubernetes itself is no baseline here: the kubelet is not on these hosts, and its "
        "crash back-off starts at 10 s.)",
        "",
        "| what | median | all | ratio to `podman start` | ratio to wait+start loop |",
        "|---|---:|---|---:|---:|",
        row("baseline: `podman start` on the host (command time)", command),
        row("baseline: `podman wait` + `podman start` loop on the host, died → start", loop),
        row("**daemon: first restart, died → start**", first),
        row("daemon: second restart, died → start (10 s back-off)", second, ratios=False),
        "",
        f"Target (first restart ≤ {RESTART_TARGET:.0f} s after the exit): "
        f"{'met' if ok else '**NOT met**'} ({med_1:.2f} s, {med_1 / med_c:.2f}x `podman start`). "
        f"The second restart came {med_2:.2f} s after its exit: the 10 s back-off plus "
        f"{med_2 - 10:.2f} s. Containers restarted in place (same container id): "
        f"{r['pods'] - replaced} of {r['pods']}.",
        "",
        f"Machine: {machine}.",
    ]
    return "\n".join(lines)
