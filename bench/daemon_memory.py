"""The daemon at rest (issue 15 item 4): 10 hosts x 20 pods applied once, then the daemon of a
baseline commit and this tree's, one after the other and alternating for `--rounds`, each on the
same repository; VmRSS over a window of resyncs, the smaps_rollup split, and what each daemon
holds at the end (its modules, its threads by name, from a SIGUSR1 handler of the launcher).

Usage (root): .venv/bin/python -m bench.daemon_memory [--baseline REV] [--subnet 22] [--rounds 2]
[--variant NAME=ENV=VALUE] [--deploying] [--save FILE]. Builds its own lab (as `bench.cli_bench`);
prints the figures and the modules this tree's daemon no longer holds; rewrites nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import cli_bench, daemon_rss, report
from tests.harness import lab as labmod

DUMP = """import ctypes, json, os, signal, sys, threading, tracemalloc
def _dump(_signum, _frame):
    names = [t.name for t in threading.enumerate()]
    top = []
    if tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot()
        top = [(str(s.traceback), s.size, s.count) for s in snap.statistics("lineno")[:60]]
        top += [(str(s.traceback), s.size, s.count) for s in snap.statistics("filename")[:60]]
    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd usmblks "
                    "fsmblks uordblks fordblks keepcost".split()]
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = Info
    info = libc.mallinfo2()
    heap = {"arena": info.arena, "in_use": info.uordblks, "free": info.fordblks,
            "mmapped": info.hblkhd}
    with open(os.environ["BENCH_DUMP"], "w") as out:
        json.dump({"modules": sorted(sys.modules), "threads": names, "heap": heap,
                   "top": top}, out)
signal.signal(signal.SIGUSR1, _dump)
"""
"""Prepended to the launcher: SIGUSR1 writes the daemon's modules, threads, glibc heap (mallinfo2)
and, under PYTHONTRACEMALLOC, the largest allocation sites to $BENCH_DUMP."""


def log(message: str) -> None:
    print(f"[daemon_memory {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _pid_of(work: Path) -> int | None:
    """The daemon started with the config under `work` (its command line names it)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(work / "config.yaml") in cmdline and "daemon" in cmdline:
            return int(entry.name)
    return None


def _dumper(work: Path, dump: Path) -> Any:
    def during(_port: int) -> None:
        pid = _pid_of(work)
        if pid is None:
            return
        os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not dump.exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    return during


def run_one(bench: cli_bench.Bench, label: str, tree: Path, work: Path,
            env: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    dump = work.with_suffix(".json")
    launch = daemon_rss.launcher(tree, DUMP + cli_bench.LAUNCH)
    saved = dict(os.environ)
    os.environ.update({**env, "BENCH_DUMP": str(dump)})
    try:
        found: dict[str, Any] = dict(daemon_rss.measure(
            launch, bench.repo, bench.lab, work, bench.args.daemon_window, bench.args.resync,
            _dumper(work, dump),
        ))  # fmt: skip
    finally:
        os.environ.clear()
        os.environ.update(saved)
    held = json.loads(dump.read_text()) if dump.exists() else {"modules": [], "threads": []}
    found["modules"] = held["modules"]
    found["heap"] = held.get("heap", {})
    found["top"] = held.get("top", [])
    found["threads_by_name"] = dict(Counter(
        name.rstrip("0123456789_-") or name for name in held["threads"]
    ))  # fmt: skip
    log(f"{label}: RSS {found['rss_end'] / 2**20:.1f} MB (max {found['rss_max'] / 2**20:.1f}), "
        f"anonymous {found['rss_anonymous'] / 2**20:.1f}, file {found['rss_file'] / 2**20:.1f}, "
        f"{found['threads']:.0f} threads, {len(found['modules'])} modules, glibc heap "
        f"{ {k: round(v / 2**20, 1) for k, v in found['heap'].items()} }")  # fmt: skip
    for where, size, count in found["top"]:
        log(f"  {size / 2**20:6.2f} MB {count:7d} {where}")
    return found


def summary(results: dict[str, Any]) -> str:
    lines = [f"{results['hosts']} hosts x {results['pods_per_host']} pods, window "
             f"{results['daemon_window']:.0f} s, resync {results['resync']:.0f} s; "
             f"{results['machine']}"]  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = results["runs"]
    for label, found in runs.items():
        end = statistics.median(f["rss_end"] for f in found) / 2**20
        peak = max(f["rss_max"] for f in found) / 2**20
        anon = statistics.median(f["rss_anonymous"] for f in found) / 2**20
        file = statistics.median(f["rss_file"] for f in found) / 2**20
        rounds = ", ".join(f"{f['rss_end'] / 2**20:.1f}" for f in found)
        last = found[-1]
        lines.append(f"{label}: at rest {end:.1f} MB (peak {peak:.1f}; rounds {rounds}), "
                     f"anonymous {anon:.1f}, file-backed {file:.1f}, {last['threads']:.0f} "
                     f"threads {last['threads_by_name']}, "
                     f"{len(last['modules'])} modules")  # fmt: skip
    for base, now in (("base", "now"), ("base-deploying", "now-deploying")):
        if base not in runs or now not in runs:
            continue
        gone = sorted(set(runs[base][-1]["modules"]) - set(runs[now][-1]["modules"]))
        added = sorted(set(runs[now][-1]["modules"]) - set(runs[base][-1]["modules"]))
        lines.append(f"modules held by {base} only ({len(gone)}): {' '.join(gone)}")
        lines.append(f"modules held by {now} only ({len(added)}): {' '.join(added)}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--pods-per-host", type=int, default=20)
    parser.add_argument("--baseline", default="HEAD~1")
    parser.add_argument("--daemon-window", type=float, default=30.0)
    parser.add_argument("--resync", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--subnet", type=int, default=22)
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME=VAR=VALUE: this tree again with VAR=VALUE set")  # fmt: skip
    parser.add_argument("--deploying", action="store_true",
                        help="also both daemons placing the pods themselves (none running)")
    parser.add_argument("--deploying-only", action="store_true", help="--deploying's alone")
    parser.add_argument("--save", type=Path)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="reconciler-daemon-memory-"))
    lab = labmod.Lab(cli_bench.lab_config(tmp / "lab", args.subnet))
    runs: dict[str, list[dict[str, Any]]] = {}
    try:
        lab.up(args.hosts)
        bench = cli_bench.Bench(lab, tmp, args)
        for tree in (bench.base, cli_bench.REPO_ROOT):  # as installed: no compiling at start
            subprocess.run([sys.executable, "-m", "compileall", "-q", "-o", "0", "-o", "2",
                            str(tree / "reconciler")], check=True,
                           env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""})  # fmt: skip
        bench.teardown()
        bench.first_deploy()
        daemons: list[tuple[str, Path, dict[str, str]]] = [
            ("base", bench.base, {}), ("now", cli_bench.REPO_ROOT, {})]  # fmt: skip
        for variant in args.variant:
            name, _, setting = variant.partition("=")
            var, _, value = setting.partition("=")
            daemons.append((name, cli_bench.REPO_ROOT, {var: value}))
        if args.deploying:  # numpy (the scheduler's) stays loaded once a pod was placed
            daemons.append(("base-deploying", bench.base, {}))
            daemons.append(("now-deploying", cli_bench.REPO_ROOT, {}))
        if args.deploying_only:
            daemons = [d for d in daemons if d[0].endswith("-deploying")]
        for index in range(args.rounds):
            for label, tree, env in daemons:
                work = tmp / "daemons" / f"{label}-{index}"
                if label.endswith("-deploying"):
                    bench.teardown()
                runs.setdefault(label, []).append(run_one(bench, label, tree, work, env))
        bench.teardown()
    finally:
        lab.down()
    results = {"runs": runs, "hosts": args.hosts, "pods_per_host": args.pods_per_host,
               "baseline": args.baseline, "daemon_window": args.daemon_window,
               "resync": args.resync, "machine": report.machine(),
               "load": os.getloadavg()}  # fmt: skip
    if args.save:
        args.save.write_text(json.dumps(results, indent=1) + "\n")
    print(summary(results))


if __name__ == "__main__":
    main()
