"""The controllers of issue 10, benchmarked: a rolling update by `reconciler apply`, the probe
cost inside the daemon, and the daemon's exit-to-restart latency, each as a ratio against a
plain-Podman (or same-daemon) baseline measured in the same run.

Run as root: `python -m bench.controllers_bench [--only rollout,probes,restarts] [--reps 3]`
(about 7 minutes in all: rollout 1, probes 5, restarts 1). Builds its own lab of 4 hosts
(bridge thbr5, 198.18.5.x, users rcc5-hN, netns c5-hN; never the shared h1..h3) and, for
the daemon parts, a git server (user rcc5-git, port 2225); removes all of it at the end
(`--keep-lab DIR` keeps the lab in DIR).
Each part rewrites its own section of bench/README.md: "Rollout" (`bench.rollout_bench`),
"Probe cost" and "Exit-to-restart latency" (`bench.probes_bench`). `--results F` re-renders
the sections from a run's JSON output without running anything (the published run:
`--results bench/controllers_results.json`). The hand-written analysis
of a run (bench/rollout_analysis.md, bench/probes_analysis.md) is appended to its section.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import probes_bench, report, rollout_bench
from tests.harness import lab as labmod

PARTS = ("rollout", "probes", "restarts")
TITLES = {
    "rollout": "Rollout",
    "probes": "Probe cost",
    "restarts": "Exit-to-restart latency",
}

HERE = Path(__file__).resolve().parent
ANALYSIS = {
    "rollout": HERE / "rollout_analysis.md",
    "probes": HERE / "probes_analysis.md",
}


def lab_config(state_dir: Path) -> labmod.LabConfig:
    return labmod.LabConfig(
        name="bench-ctl",
        state_dir=state_dir,
        bridge="thbr5",
        subnet=5,
        netns_prefix="c5-",
        user_prefix="rcc5-",
    )


def run(args: argparse.Namespace, parts: list[str], tmp: Path) -> dict[str, Any]:
    lab = labmod.Lab(lab_config(args.keep_lab or tmp / "lab"))
    results: dict[str, Any] = {}
    try:
        started = time.monotonic()
        lab.up(args.hosts)
        rollout_bench.log(f"lab of {args.hosts} hosts up in {time.monotonic() - started:.1f}s")
        if "rollout" in parts:
            results["rollout"] = rollout_bench.run(lab, tmp, args)
        if "probes" in parts or "restarts" in parts:
            results.update(probes_bench.run(lab, tmp, args, parts))
    finally:
        if args.keep_lab is None:
            lab.down()
    return results


def write(results: dict[str, Any], no_write: bool) -> None:
    machine = report.machine()
    bodies = {
        "rollout": lambda r: rollout_bench.render(r, machine),
        "probes": lambda r: probes_bench.render_probes(r, machine),
        "restarts": lambda r: probes_bench.render_restarts(r, machine),
    }
    for part in PARTS:
        if part not in results:
            continue
        body = bodies[part](results[part])
        analysis = ANALYSIS.get(part)
        if analysis is not None and analysis.exists():  # the hand-written reading of a run
            body += "\n\n" + analysis.read_text().strip()
        print(f"## {TITLES[part]}\n\n{body}\n")
        if not no_write:
            report.write_section(TITLES[part], body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3, help="rollout repetitions")
    parser.add_argument("--ideal-samples", type=int, default=6)
    parser.add_argument("--probe-pods", type=int, default=200)
    parser.add_argument("--probe-period", type=int, default=5)
    parser.add_argument("--floor-gets", type=int, default=400)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--resync", type=float, default=10.0)
    parser.add_argument("--crash-pods", type=int, default=6)
    parser.add_argument("--start-samples", type=int, default=6)
    parser.add_argument("--keep-lab", type=Path, help="lab state directory, kept at the end")
    parser.add_argument("--no-write", action="store_true", help="print, do not write README")
    parser.add_argument("--save", type=Path,
                        help="also write the results into this JSON file (merged by part)")
    parser.add_argument("--results", type=Path, help="only render the sections from this JSON")
    args = parser.parse_args()
    if args.results:
        results = json.loads(args.results.read_text())
    else:
        parts = [p for p in args.only.split(",") if p]
        unknown = set(parts) - set(PARTS)
        if unknown:
            parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; parts: {PARTS}")
        tmp = Path(tempfile.mkdtemp(prefix="ctlbench-"))
        os.chmod(tmp, 0o755)
        try:
            results = run(args, parts, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if args.save:  # merged: a run of some parts keeps the others' last results
            saved = json.loads(args.save.read_text()) if args.save.exists() else {}
            saved.update(results)
            args.save.write_text(json.dumps(saved, indent=1) + "\n")
    write(results, args.no_write)


if __name__ == "__main__":
    main()
