"""Daemon benchmarks: push-to-running against a plain `podman run` floor, and the daemon at rest.

Run as root: `python -m bench.daemon_bench [--hosts 10] [--reps 3] [--push-pods 10]
[--rest-pods 200] [--resync 10] [--window 60]`. Builds its own lab (bridge thbr4, 198.18.4.x,
users rcd4-hN, netns d4-hN) and a git server (user rcd4-git, port 2224), runs
`python -m reconciler daemon` against them, and removes all of it at the end.

1. Push-to-running: `git push` of a commit that scales Deployment `push` from 0 to N replicas;
   timed from `git push` returning until `/status` shows that revision applied with result
   Succeeded and podman on every host lists the N pods Running. Floor, same run, interleaved: the
   same number of `podman run -d` per host as the daemon placed there, sequential on each host,
   hosts in parallel, over asyncssh connections opened beforehand (same key, pinned host keys).
   Between repetitions the deployment is scaled back to 0 and the floor's containers are removed.
2. At rest: Deployment `rest` with M replicas on the hosts; once applied, the daemon's VmRSS and
   utime+stime are read from /proc over a window of several resync intervals. Baselines: the same
   daemon with 0 pods (hosts only) over the same window, and a bare `import reconciler.cli.main`.
3. Warm no-op: with those M pods running, the daemon's own duration of each periodic resync (a
   whole reconcile: revision, checkout, load and validate, observe, plan, empty apply, record),
   read from `/status`, against the issue's no-op floor measured just before it in the same
   round: one `podman ps -a --format json` per host, hosts in parallel, on open connections.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncssh

from bench import api_floor, manifests, podwatch, report
from tests.harness import daemonproc, gitserver, hostsetup, proc
from tests.harness import lab as labmod

REPO = Path(__file__).resolve().parents[1]
PYTHON = str(REPO / ".venv" / "bin" / "python")
NAMESPACE = "dbench"
MANAGED = "label=reconciler.dev/managed-by=reconciler"
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
IDLE = ["sleep", "36000"]  # --idle: no fork a second per pod (500 pods: 500 forks/s)
TICKS = os.sysconf("SC_CLK_TCK")
NOOP_TRIES = 5  # syncs a no-op round may pass over (woken by a host event, say) before failing


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def wait_for(predicate: Callable[[], Any], what: str, timeout: float, step: float = 0.1) -> Any:
    return proc.wait_for(predicate, what, timeout, step)


# ----- manifests ----------------------------------------------------------------------------


def host_yaml(host: hostsetup.Host) -> str:
    return manifests.host_yaml(host.name, host.address, host.user, cpu="16", memory="32Gi")


def deployment_yaml(
    name: str, replicas: int, image: str, command: list[str] | None = None
) -> str:
    main = manifests.container(image, COMMAND if command is None else command)
    return manifests.deployment_yaml(name, NAMESPACE, replicas, main, grace_seconds=1)


# ----- git, daemon --------------------------------------------------------------------------


def push(work: gitserver.WorkTree, message: str) -> tuple[str, float]:
    """Commit and push; the sha and the monotonic time `git push` returned."""
    sha = work.commit_and_push(message)
    return sha, time.monotonic()


class Daemon(daemonproc.DaemonProcess):
    """The daemon under measurement: when a revision is applied, and its own RSS and CPU."""

    partial: dict[int, str]
    """Syncs that ended Partial (some host not answering) while the bench waited: id -> message."""

    def applied(self, sha: str) -> dict[str, Any] | None:
        """/status once `sha` is applied with result Succeeded; a Partial sync of it is noted
        (the daemon tries again) and any other result raises."""
        status = self.status()
        if not status:
            return None
        last = status.get("lastFinishedSync") or {}
        if last.get("revision") == sha:
            if last.get("result") == "Partial":
                if last.get("id") not in self.partial:
                    said = "; ".join(str(e) for e in last.get("errors") or [])[:300]
                    self.partial[int(last.get("id", 0))] = said
                    log(f"sync {last.get('id')} Partial: {said}")
                return None
            if last.get("result") != "Succeeded":
                raise RuntimeError(f"revision {sha[:12]} finished {last.get('result')}: {last}")
            if status["revision"]["applied"] == sha:
                return status
        return None

    def log_summary(self) -> dict[str, int]:
        """What its JSON log says over the run: syncs by result, host condition changes."""
        counts: dict[str, int] = {}
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            message = str(entry.get("message", ""))
            if entry.get("result"):
                key = f"sync {entry['result']}"
            elif "(HostNotResponding)" in message:
                key = "host Unknown"
            elif "(HostLost)" in message:
                key = "host NotReady"
            else:
                continue
            counts[key] = counts.get(key, 0) + 1
        return counts

    def sample(self) -> tuple[float, int, float]:
        """(monotonic time, VmRSS bytes, utime+stime seconds of the daemon itself)."""
        assert self.process is not None
        pid = self.process.pid
        rss = 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        return time.monotonic(), rss, cpu


# ----- hosts over open SSH connections ------------------------------------------------------


class Hosts:
    def __init__(self, lab: labmod.Lab, command: list[str] | None = None) -> None:
        self.lab = lab
        self.command = COMMAND if command is None else command
        self.hosts = lab.hosts()
        self.conns: list[asyncssh.SSHClientConnection] = []
        self.sockets: Path | None = None
        self.listeners: list[asyncssh.SSHListener] = []
        self.https: list[api_floor._Http] = []

    async def connect(self) -> None:
        cfg = self.lab.config
        self.conns = list(
            await asyncio.gather(
                *(
                    asyncssh.connect(
                        h.address,
                        username=h.user,
                        client_keys=[str(cfg.key_file)],
                        known_hosts=str(cfg.known_hosts),
                        connect_timeout=20,
                    )
                    for h in self.hosts
                )
            )
        )

    def close(self) -> None:
        for http in self.https:
            http.close()
        for listener in self.listeners:
            listener.close()
        for conn in self.conns:
            conn.close()
        if self.sockets is not None:
            shutil.rmtree(self.sockets, ignore_errors=True)

    async def api_list_floor(self) -> float:
        """The daemon's own two list calls per host (`GET /pods/json` and `GET /containers/json`
        with the managed-by filter, at once on two kept-alive connections) straight to each
        host's Podman API over forwarded sockets opened beforehand, hosts in parallel."""
        if not self.https:  # opened once, not timed
            self.sockets = Path(tempfile.mkdtemp(prefix="dbench-api-"))
            paths = [str(self.sockets / f"{h.name}.sock") for h in self.hosts]
            self.listeners = list(await asyncio.gather(
                *(api_floor.forward_socket(c, p) for c, p in zip(self.conns, paths, strict=True))
            ))  # fmt: skip
            self.https = list(await asyncio.gather(
                *(api_floor._Http.open(p) for p in paths for _ in range(2))))  # fmt: skip
        filters = urllib.parse.quote(json.dumps({"label": [MANAGED.removeprefix("label=")]}))

        async def one(pods: api_floor._Http, containers: api_floor._Http) -> None:
            for status, _ in await asyncio.gather(
                pods.get(f"/pods/json?filters={filters}"),
                containers.get(f"/containers/json?all=true&filters={filters}"),
            ):
                if status != 200:
                    raise RuntimeError(f"list: HTTP {status}")

        started = time.monotonic()
        await asyncio.gather(*(one(*self.https[i : i + 2]) for i in range(0, len(self.https), 2)))
        return time.monotonic() - started

    async def run(self, index: int, argv: list[str]) -> str:
        result = await self.conns[index].run(shlex.join(argv), check=True)
        return str(result.stdout)

    async def pods(self, prefix: str) -> dict[str, list[tuple[str, str]]]:
        """host name -> [(pod name, status)] of managed pods whose name starts with prefix."""

        async def one(i: int) -> list[tuple[str, str]]:
            out = await self.run(
                i, ["podman", "pod", "ps", "--filter", MANAGED, "--format", "{{.Name}} {{.Status}}"]
            )
            found = []
            for line in out.splitlines():
                name, state = line.split()[:2]
                if name.startswith(f"{NAMESPACE}_{prefix}"):
                    found.append((name, state))
            return found

        lists = await asyncio.gather(*(one(i) for i in range(len(self.hosts))))
        return {h.name: found for h, found in zip(self.hosts, lists, strict=True)}

    async def ps_floor(self) -> float:
        """One `podman ps -a --format json` per host, hosts in parallel (the no-op floor)."""
        started = time.monotonic()
        await asyncio.gather(
            *(
                self.run(i, ["podman", "ps", "-a", "--format", "json"])
                for i in range(len(self.hosts))
            )
        )
        return time.monotonic() - started

    async def floor(self, per_host: dict[str, int], image: str, rep: int) -> float:
        """`podman run -d` per_host[h] times on each host (sequential per host, hosts parallel)."""

        async def one(i: int, count: int) -> None:
            for k in range(count):
                await self.run(
                    i, ["podman", "run", "-d", "--name", f"dfloor-{rep}-{k}", image, *self.command]
                )

        started = time.monotonic()
        await asyncio.gather(*(one(i, per_host.get(h.name, 0)) for i, h in enumerate(self.hosts)))
        elapsed = time.monotonic() - started
        # confirm, then clean up (not timed)
        for i, h in enumerate(self.hosts):
            out = await self.run(
                i, ["podman", "ps", "--filter", f"name=dfloor-{rep}-", "--format", "{{.Names}}"]
            )
            assert len(out.split()) == per_host.get(h.name, 0), (h.name, out)
        await asyncio.gather(
            *(
                self.run(
                    i,
                    [
                        "sh",
                        "-c",
                        "podman ps -aq --filter name=dfloor- | "
                        "xargs -r podman rm -f -t 0 >/dev/null",
                    ],
                )
                for i in range(len(self.hosts))
            )
        )
        return elapsed


# ----- the benchmark ------------------------------------------------------------------------


def fmt_mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def bare_import_rss() -> int:
    code = (
        "import reconciler.cli.main\n"
        "for l in open('/proc/self/status'):\n"
        "    l.startswith('VmRSS:') and print(int(l.split()[1]) * 1024)\n"
    )
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def at_rest(daemon: Daemon, window: float, resync: float) -> dict[str, float]:
    t0, rss0, cpu0 = daemon.sample()
    rss_max = rss0
    loads = [os.getloadavg()[0]]
    while time.monotonic() - t0 < window:
        time.sleep(1.0)
        _, rss, _ = daemon.sample()
        rss_max = max(rss_max, rss)
        loads.append(os.getloadavg()[0])
    t1, rss1, cpu1 = daemon.sample()
    minutes = (t1 - t0) / 60
    cpu = cpu1 - cpu0
    return {
        "seconds": t1 - t0,
        "rss_end": rss1,
        "rss_max": max(rss_max, rss1),
        "cpu": cpu,
        "cpu_per_min": cpu / minutes,
        "cpu_per_resync": cpu / ((t1 - t0) / resync),
        "load": statistics.mean(loads),
    }


async def noop_resyncs(daemon: Daemon, hosts: Hosts, rounds: int) -> dict[str, list[float]]:
    """Per round: the ps floor, then the next periodic resync's own duration (a no-op)."""
    floors: list[float] = []
    apis: list[float] = []
    syncs: list[float] = []
    for index in range(rounds):
        last = ((daemon.status() or {}).get("lastFinishedSync") or {}).get("id", 0)
        floors.append(await hosts.ps_floor())
        apis.append(await hosts.api_list_floor())

        def next_sync(after: int) -> dict[str, Any] | None:
            done = (daemon.status() or {}).get("lastFinishedSync") or {}
            return done if done.get("id", 0) > after else None

        for _ in range(NOOP_TRIES):  # a sync woken by a host event is not the periodic no-op
            done = await asyncio.to_thread(
                wait_for, functools.partial(next_sync, last), "the next resync", 600, 0.05
            )
            changed = sum(done["counts"].get(k, 0) for k in ("create", "replace", "delete"))
            if done["result"] == "Succeeded" and done["trigger"] == "resync" and not changed:
                break
            log(f"sync {done['id']} ({done['trigger']}, {done['result']}) is not a periodic "
                "no-op resync: waiting for the next")  # fmt: skip
            last = int(done["id"])
        else:
            raise RuntimeError(f"resync {done['id']} was not a no-op: {done}")
        syncs.append(float(done["durationSeconds"]))
        log(f"no-op round {index}: ps floor {floors[-1]:.3f}s, API list floor {apis[-1]:.3f}s, "
            f"resync {syncs[-1]:.3f}s")  # fmt: skip
    return {"floor": floors, "api": apis, "resync": syncs}


async def converge_zero(
    daemon: Daemon, work: gitserver.WorkTree, hosts: Hosts, image: str, name: str
) -> None:
    work.write(f"{NAMESPACE}/{name}.yaml", deployment_yaml(name, 0, image, hosts.command))
    sha, _ = push(work, f"scale {name} to 0")
    await asyncio.to_thread(wait_for, lambda: daemon.applied(sha), f"{name} at 0", 600, 0.2)
    for _ in range(600):
        pods = await hosts.pods(f"{name}-")
        if not any(pods.values()):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{name} pods still present")


async def push_to_running(
    daemon: Daemon, work: gitserver.WorkTree, hosts: Hosts, image: str, pods: int, rep: int
) -> tuple[float, float, dict[str, int], float]:
    """Returns (seconds to Succeeded, seconds to podman-confirmed running, placement, sync s)."""
    work.write(f"{NAMESPACE}/push.yaml", deployment_yaml("push", pods, image, hosts.command))
    sha, pushed = push(work, f"rep {rep}: scale push to {pods}")
    status = await asyncio.to_thread(
        wait_for, lambda: daemon.applied(sha), f"rep {rep} applied", 600, 0.05
    )
    succeeded = time.monotonic() - pushed
    while True:
        found = await hosts.pods("push-")
        total = sum(len(v) for v in found.values())
        running = sum(1 for v in found.values() for _, s in v if s == "Running")
        if total == pods and running == pods:
            break
        await asyncio.sleep(0.05)
    confirmed = time.monotonic() - pushed
    last = status["lastFinishedSync"]
    sync_s = float(last.get("durationSeconds") or last.get("duration") or 0.0)
    return succeeded, confirmed, {h: len(v) for h, v in found.items()}, sync_s


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"load": [loadavg()]}
    lab = labmod.Lab(
        labmod.LabConfig(
            name="dbench",
            state_dir=tmp / "lab",
            bridge="thbr4",
            subnet=4,
            netns_prefix="d4-",
            user_prefix="rcd4-",
        )
    )
    server = None
    daemon = None
    hosts = None
    try:
        log(f"lab up {args.hosts} (load {loadavg()})")
        started = time.monotonic()
        lab.up(args.hosts)
        log(f"lab up in {time.monotonic() - started:.1f}s")
        server = gitserver.start(tmp / "git", lab.config.gateway, user="rcd4-git", port=2224)
        image = lab.config.image
        command = IDLE if args.idle else COMMAND
        base = tmp / "daemon"
        base.mkdir()
        port = proc.free_port()
        config = base / "config.yaml"
        config.write_text(
            f"repository: {server.repository}\nbranch: main\nstate_dir: {base / 'state'}\n"
            f"resync_interval: {args.resync}\nssh_key: {lab.config.key_file}\n"
            f"known_hosts: {lab.config.known_hosts}\nlisten: 127.0.0.1:{port}\n"
            f"connect_timeout: 10\nhost_grace_seconds: {args.grace:g}\n"
        )
        env = {**os.environ, "RECONCILER_SSH_KEY": str(lab.config.key_file),
               "RECONCILER_KNOWN_HOSTS": str(lab.config.known_hosts),
               "RECONCILER_CONFIG": "/dev/null"}  # fmt: skip
        work = gitserver.WorkTree(base / "work", server, author="bench")
        for host in lab.hosts():
            work.write(f"hosts/{host.name}.yaml", host_yaml(host))
        work.write(f"{NAMESPACE}/namespace.yaml", manifests.namespace_yaml(NAMESPACE))
        work.write(f"{NAMESPACE}/push.yaml", deployment_yaml("push", 0, image, command))
        sha, _ = push(work, "hosts and an empty deployment")
        daemon = Daemon(config, base / "daemon.log", port, env)
        daemon.partial = {}
        daemon.start()
        wait_for(lambda: daemon.applied(sha), "the first revision applied", 600, 0.2)
        log("daemon up, first revision applied")
        hosts = Hosts(lab, command)
        await hosts.connect()
        results["bare_rss"] = bare_import_rss()

        # 1. push-to-running, interleaved with the floor
        product, confirmed, floors, placements, syncs = [], [], [], [], []
        for rep in range(args.reps):
            s, c, placed, sync_s = await push_to_running(
                daemon, work, hosts, image, args.push_pods, rep
            )
            product.append(s)
            confirmed.append(c)
            placements.append(placed)
            syncs.append(sync_s)
            floor = await hosts.floor(placed, image, rep)
            floors.append(floor)
            results["load"].append(loadavg())
            log(f"rep {rep}: product {s:.2f}s (podman-confirmed {c:.2f}s), floor {floor:.2f}s,"
                f" placed {placed}, load {loadavg()}")  # fmt: skip
            await converge_zero(daemon, work, hosts, image, "push")
        results["push"] = {
            "product": product, "confirmed": confirmed, "floor": floors,
            "placements": placements, "syncs": syncs,
        }  # fmt: skip

        # 2. at rest: 0 pods first (baseline), then rest_pods
        if args.rest_pods:
            log(f"at rest with 0 pods: {args.window:.0f}s window")
            results["rest0"] = at_rest(daemon, args.window, args.resync)
            log(f"rest0 {results['rest0']}")
            steps = range(args.rest_step, args.rest_pods, args.rest_step) if args.rest_step else ()
            for replicas in steps:  # --rest-step: the fleet grown in pushes of that many pods
                work.write(
                    f"{NAMESPACE}/rest.yaml", deployment_yaml("rest", replicas, image, command)
                )
                step_sha, _ = push(work, f"rest: {replicas} pods")
                await asyncio.to_thread(
                    wait_for, functools.partial(daemon.applied, step_sha), f"rest at {replicas}",
                    args.apply_timeout, 0.5,
                )  # fmt: skip
                log(f"rest at {replicas} pods applied (load {loadavg()})")
            work.write(
                f"{NAMESPACE}/rest.yaml", deployment_yaml("rest", args.rest_pods, image, command)
            )
            sha, pushed = push(work, f"rest: {args.rest_pods} pods")
            try:
                await asyncio.to_thread(
                    wait_for, lambda: daemon.applied(sha), "the rest pods applied",
                    args.apply_timeout, 0.5,
                )  # fmt: skip
            except proc.HarnessError:  # never converged: what the daemon says, then stop
                status = daemon.status() or {}
                results["rest_unconverged"] = {
                    "seconds": args.apply_timeout,
                    "hosts": {k: v for k, v in (status.get("hosts") or {}).items()
                              if k != "items"},
                    "last": status.get("lastFinishedSync"),
                }  # fmt: skip
                log(f"not converged: {results['rest_unconverged']}")
                results["load"].append(loadavg())
                return results
            results["rest_apply_s"] = time.monotonic() - pushed
            found = await hosts.pods("rest-")
            running = sum(1 for v in found.values() for _, s in v if s == "Running")
            results["rest_running"] = running
            results["rest_placement"] = {h: len(v) for h, v in found.items()}
            log(f"{running} rest pods running after {results['rest_apply_s']:.0f}s; waiting one "
                "resync before the window")  # fmt: skip
            time.sleep(args.resync)
            results["rest"] = at_rest(daemon, args.window, args.resync)
            results["rest_status"] = {
                k: (daemon.status() or {}).get(k) for k in ("objects", "condition")
            }
            log(f"rest {results['rest']}")
            results["noop"] = await noop_resyncs(daemon, hosts, args.noop_rounds)
        results["load"].append(loadavg())
        return results
    finally:
        if hosts is not None:
            hosts.close()
        if daemon is not None:
            daemon.stop()
            results["daemon_log"] = daemon.log_summary()
            results["partial_waited"] = len(daemon.partial)
            if args.keep_log:
                shutil.copy(daemon.log, args.keep_log)
        if server is not None:
            gitserver.stop(server)
        podwatch.clear(lab.hosts())  # in parallel: the lab's teardown is one host at a time
        lab.down()


NOOP_TARGET = 1.5
NOOP_SECONDS = 1.0


def noop_section(args: argparse.Namespace, r: dict[str, Any]) -> list[str]:
    noop = r["noop"]
    floor, sync = statistics.median(noop["floor"]), statistics.median(noop["resync"])
    ratios = [s / f for s, f in zip(noop["resync"], noop["floor"], strict=True)]
    ratio = sync / floor
    return [
        f"### Warm no-op ({args.rest_pods} pods running, the daemon's periodic resync)",
        "",
        "The issue's no-op target (≤ 1.5x one `podman ps -a --format json` per host in parallel) "
        "measured on the daemon, the long-lived process that runs it every resync interval: "
        "the duration the daemon records for its own resync (resolve the revision, check it "
        "out, load and validate the manifests, observe every host, plan, apply nothing, record "
        "the sync), read from `/status`. Floor, same round, just before: one `podman ps -a "
        "--format json` per host, hosts in parallel, on open asyncssh connections. "
        f"{len(ratios)} rounds; each resync found nothing to do.",
        "",
        "| what | median | all rounds | ratio to floor |",
        "|---|---:|---|---:|",
        f"| baseline: floor (`podman ps -a --format json` per host, open SSH) | {floor:.3f} s | "
        f"{', '.join(f'{x:.2f}' for x in noop['floor'])} | 1.00x |",
        *(
            [
                f"| API list floor (the daemon's two list calls per host, straight to Podman's "
                f"API over forwarded sockets) | {statistics.median(noop['api']):.3f} s | "
                f"{', '.join(f'{x:.2f}' for x in noop['api'])} | "
                f"{statistics.median(noop['api']) / floor:.2f}x |"
            ]
            if noop.get("api")
            else []
        ),
        f"| daemon resync, no-op (whole reconcile) | {sync:.3f} s | "
        f"{', '.join(f'{x:.2f}' for x in noop['resync'])} | {ratio:.2f}x |",
        "",
        f"Target ≤ {NOOP_TARGET}x: {'met' if ratio <= NOOP_TARGET else 'not met'} "
        f"({ratio:.2f}x of the medians; per-round ratios "
        f"{', '.join(f'{x:.2f}x' for x in ratios)}).",
        *(
            [
                "",
                f"Issue 15's no-op target at 50 x 10 (≤ {NOOP_SECONDS:g} s): "
                f"{'met' if sync <= NOOP_SECONDS else 'NOT met'} by the daemon's resync "
                f"({sync:.2f} s median, slowest {max(noop['resync']):.2f} s)"
                + (
                    f"; {sync / statistics.median(noop['api']):.2f}x its API list floor, "
                    f"which alone takes {statistics.median(noop['api']):.2f} s here."
                    if noop.get("api")
                    else "."
                ),
            ]
            if args.hosts >= 50
            else []
        ),
    ]


def per_host(counts: dict[str, int]) -> str:
    """Pods per host in host order, or "N on each of the H hosts" when all hold the same."""
    values = [counts[h] for h in sorted(counts, key=lambda n: int(n[1:]))]
    if len(values) > 10 and len(set(values)) == 1:
        return f"{values[0]} on each of the {len(values)} hosts"
    return ", ".join(str(v) for v in values)


def write(args: argparse.Namespace, r: dict[str, Any]) -> str:
    push = r["push"]
    med_p = statistics.median(push["product"])
    med_c = statistics.median(push["confirmed"])
    med_f = statistics.median(push["floor"])
    diff = med_p - med_f
    reps = len(push["product"])
    placed = push["placements"][0]
    spread = per_host(placed)
    lines = [
        f"`python -m bench.daemon_bench` (root): its own lab of {args.hosts} hosts (rootless "
        "Podman behind sshd in network namespaces on this machine), a git server over SSH, and "
        f"`reconciler daemon` (resync every {args.resync:g} s"
        + (f", host_grace_seconds {args.grace:g}" if args.grace != 10 else "")
        + ") watching it."
        + (" Every pod runs `sleep 36000` (`--idle`)." if args.idle else ""),
        "",
        f"### Push-to-running ({args.push_pods} new pods)",
        "",
        f"A `git push` scales a busybox Deployment from 0 to {args.push_pods} replicas; timed from "
        "`git push` returning until `/status` shows that revision applied with result Succeeded "
        "(then podman on every host is asked to confirm every pod Running). Floor, same run, "
        "interleaved: as many `podman run -d` per host as the daemon placed there (per host: "
        f"{spread}), one after another on each host, hosts in parallel, over asyncssh "
        "connections opened beforehand (same key, pinned host keys). Medians of "
        f"{reps} repetitions; the deployment is scaled back to 0 between them.",
        "",
        "| what | median | all runs | ratio to floor |",
        "|---|---:|---|---:|",
        f"| baseline: floor (`podman run -d`, open SSH) | {med_f:.2f} s | "
        f"{', '.join(f'{x:.2f}' for x in push['floor'])} | 1.00x |",
        f"| push → `/status` Succeeded | {med_p:.2f} s | "
        f"{', '.join(f'{x:.2f}' for x in push['product'])} | {med_p / med_f:.2f}x |",
        f"| push → podman confirms all Running | {med_c:.2f} s | "
        f"{', '.join(f'{x:.2f}' for x in push['confirmed'])} | {med_c / med_f:.2f}x |",
        "",
        f"Product - floor: {diff:+.2f} s (median). Target (≤ floor + 1 s): "
        f"{'met' if diff <= 1.0 else 'not met'}. The product's time includes noticing the push, "
        "reading and validating the repository, scheduling, a podman pod (without an infra "
        "container, since each has one container) per replica rather than a bare container, "
        "and recording the sync; the floor only the `podman run` calls.",
    ]
    if "rest" in r:
        rest, rest0 = r["rest"], r["rest0"]
        rp = r["rest_placement"]
        rs = per_host(rp)
        lines += [
            "",
            f"### At rest ({args.rest_pods} pods on {args.hosts} hosts)",
            "",
            f"Deployment `rest` with {args.rest_pods} replicas ({r['rest_running']} Running; per "
            f"host {rs}; applied {r['rest_apply_s']:.0f} s after the push"
            + (
                f" of the last {args.rest_step} pods: the fleet was grown {args.rest_step} pods a "
                "push, each push applied before the next"
                if args.rest_step
                else ""
            )
            + "). After one more resync, "
            f"the daemon's VmRSS and utime+stime (its own, from /proc/PID) over a "
            f"{rest['seconds']:.0f} s window (~{rest['seconds'] / args.resync:.0f} resyncs). "
            "Baselines: the same daemon process earlier in the run with the same hosts and 0 pods, "
            "same window; and a bare `python -c 'import reconciler.cli.main'`.",
            "",
            "| what | RSS (end / max) | ratio to 0-pod RSS | CPU s/min | CPU s/resync | "
            "ratio to 0-pod CPU |",
            "|---|---:|---:|---:|---:|---:|",
            f"| baseline: bare `import reconciler.cli.main` | {fmt_mb(r['bare_rss'])} | "
            f"{r['bare_rss'] / rest0['rss_end']:.2f}x | n/a | n/a | n/a |",
            f"| baseline: daemon, 0 pods | {fmt_mb(rest0['rss_end'])} / "
            f"{fmt_mb(rest0['rss_max'])} | 1.00x | {rest0['cpu_per_min']:.2f} | "
            f"{rest0['cpu_per_resync']:.3f} | 1.00x |",
            f"| daemon, {args.rest_pods} pods | {fmt_mb(rest['rss_end'])} / "
            f"{fmt_mb(rest['rss_max'])} | {rest['rss_end'] / rest0['rss_end']:.2f}x | "
            f"{rest['cpu_per_min']:.2f} | {rest['cpu_per_resync']:.3f} | "
            f"{rest['cpu_per_min'] / max(rest0['cpu_per_min'], 1e-9):.2f}x |",
            "",
            f"Target RSS ≤ {fmt_mb(rss_target(args.hosts))}: "
            f"{'met' if rest['rss_max'] <= rss_target(args.hosts) else 'NOT met'} "
            f"({fmt_mb(rest['rss_max'])} max). CPU is a fraction of one core: "
            f"{rest['cpu_per_min'] / 60 * 100:.1f}% averaged over the window (resyncs included). "
            "One window per run: RSS was sampled every second and the figure is the largest "
            "seen; a longer window would show whether it still grows."
            + (
                ""
                if args.idle
                else " Each busybox pod forks `sleep 1` every second, so the "
                f"{args.rest_pods}-pod window's load includes this run's own pods."
            ),
        ]
    if "noop" in r:
        lines += ["", *noop_section(args, r)]
    if "rest_unconverged" in r:
        stuck, rest0 = r["rest_unconverged"], r["rest0"]
        last = stuck.get("last") or {}
        lines += [
            "",
            f"### At rest ({args.rest_pods} pods on {args.hosts} hosts): not reached",
            "",
            f"The push of Deployment `rest` ({args.rest_pods} replicas) was not applied with "
            f"result Succeeded within {stuck['seconds']:.0f} s: hosts Ready at the end "
            f"{(stuck.get('hosts') or {}).get('ready', '?')} of "
            f"{(stuck.get('hosts') or {}).get('total', '?')}; the last sync {last.get('result')} "
            f"({last.get('counts')}). With 0 pods, the same daemon: VmRSS "
            f"{fmt_mb(rest0['rss_end'])} (max {fmt_mb(rest0['rss_max'])}), "
            f"{rest0['cpu_per_min']:.2f} CPU s/min over {rest0['seconds']:.0f} s.",
        ]
    if "daemon_log" in r:
        counts = r["daemon_log"]
        syncs = ", ".join(
            f"{n} {k.split()[1]}" for k, n in sorted(counts.items()) if k[:5] == "sync "
        )
        lines += [
            "",
            f"Over the whole run the daemon's log shows syncs {syncs or 'none'}; hosts gone "
            f"Unknown {counts.get('host Unknown', 0)} times and NotReady "
            f"{counts.get('host NotReady', 0)} times (no host was cut off in this benchmark); "
            f"{r.get('partial_waited', 0)} Partial syncs of a revision the benchmark waited for.",
        ]
    loads = r["load"]
    lines += [
        "",
        f"Machine: {report.machine()}. Load average (1/5/15 min) during the run: "
        f"{'; '.join(loads)} (start; after each push repetition; end)"
        + (
            f"; mean 1-min load in the rest windows {r['rest0']['load']:.1f} (0 pods) and "
            f"{r['rest']['load']:.1f} ({args.rest_pods} pods)"
            if "rest" in r
            else ""
        )
        + ". Other engineers' tests and benchmarks share this machine; with load far above the "
        "core count, every absolute figure here (product and floor alike) is inflated, and CPU "
        "seconds include time lost to contention.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--push-pods", type=int, default=10)
    parser.add_argument("--rest-pods", type=int, default=200)
    parser.add_argument("--resync", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--noop-rounds", type=int, default=5)
    parser.add_argument("--apply-timeout", type=float, default=900.0)
    parser.add_argument("--rest-step", type=int, default=0, help="grow the rest fleet by N a push")
    parser.add_argument("--idle", action="store_true", help="pods run `sleep 36000`")
    parser.add_argument("--grace", type=float, default=10.0, help="host_grace_seconds")
    parser.add_argument("--keep-log", type=Path, help="copy the daemon's log here at the end")
    known, _ = parser.parse_known_args()
    report.lab_main(parser, run, write, section_title(known), "dbench-")


def section_title(args: argparse.Namespace) -> str:
    """The README section: "Daemon" for the default 10-host lab, else "Daemon, H x P" (P pods a
    host at rest)."""
    if args.hosts == 10:
        return "Daemon"
    return f"Daemon, {args.hosts} x {args.rest_pods // max(args.hosts, 1)}"


def rss_target(hosts: int) -> float:
    """Issue 15: the daemon at rest ≤ 150 MB at 50 x 10; this section's 100 MB below that."""
    return 150e6 if hosts >= 50 else 100e6


if __name__ == "__main__":
    main()
