"""The one-shot CLI through the warm per-user agent (`reconciler apply --agent`) at 10 hosts x
20 pods (issue 15 item 3: a no-op `apply` ≤ 1.5x the `ps` floor): per repetition, the first
(cold) call that starts the agent, then rounds of the `ps` floor (`bench.apply_floor`: one
`podman ps -a --format json` per host on connections opened in the same run) each followed by a
no-op `apply -q`, `diff` and `get pods` through the warm agent and a direct no-op `apply -q`.
Every figure is a ratio to the median floor of the same run, with the load average.

Usage (root): .venv/bin/python -m bench.agent_bench [--repeat 2] [--rounds 5] [--subnet 24]
[--keep-lab DIR] [--no-write] [--shared]. Builds its own lab (`cli_bench.lab_config`: bridge
thbrN, 198.18.N.x), or with `--shared` uses h1..h3 (run it under /tmp/e2e.lock); rewrites the
section "One-shot CLI through the warm agent" of bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import apply_floor, cli_bench, report
from tests.harness import lab as labmod

TITLE = "One-shot CLI through the warm agent"
TARGET = 1.5


class AgentBench(cli_bench.Bench):
    def __init__(self, lab: labmod.Lab, tmp: Path, args: argparse.Namespace) -> None:
        super().__init__(lab, tmp, args)
        self.env["RECONCILER_AGENT_DIR"] = str(tmp / "agent")
        self.env["RECONCILER_DAEMON"] = "none"  # diff, get: no daemon of another run asked

    def timed(self, name: str, argv: list[str], expect: int = 0) -> float:
        """Run the CLI with `argv`; its wall seconds, client CPU seconds and load recorded."""
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        _, seconds = self.run([self.cli, *argv], expect=expect, label=name)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.add(name, seconds)
        self.add(f"{name}-cpu", after.ru_utime + after.ru_stime - before.ru_utime
                 - before.ru_stime)  # fmt: skip
        self.add(f"{name}-load", load)
        return seconds

    def stop_agent(self) -> None:
        subprocess.run([self.cli, "agent", "stop"], env=self.env, capture_output=True,
                       check=False)  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = subprocess.run([self.cli, "agent", "status"], env=self.env,
                                  capture_output=True, check=False)  # fmt: skip
            if done.returncode != 0:
                return
            time.sleep(0.1)
        raise RuntimeError("the agent did not stop")

    def repetition(self) -> None:
        repo = str(self.repo)
        self.stop_agent()
        self.ps()
        cold = self.timed("agent-cold", ["apply", repo, "-q", "--agent"])
        cli_bench.log(f"cold agent apply {cold:.2f}s")
        for _ in range(self.args.rounds):
            floor, _ = apply_floor.ps_all(self.targets, self.lab.config.key_file,
                                          self.lab.config.known_hosts)  # fmt: skip
            self.add("ps", floor.seconds)
            self.add("ps+connect", floor.seconds + floor.connect_seconds)
            self.add("ps-load", os.getloadavg()[0])
            warm = self.timed("agent-apply", ["apply", repo, "-q", "--agent"])
            self.add("agent-apply/ps", warm / floor.seconds)
            self.timed("agent-diff", ["diff", repo, "--agent"])
            self.timed("agent-get", ["get", "pods", "-f", repo, "--agent"])
            self.timed("direct-apply", ["apply", repo, "-q", "--no-agent"])
        cli_bench.log(f"warm agent apply {statistics.median(self.samples['agent-apply']):.2f}s, "
                      f"ps {statistics.median(self.samples['ps']):.2f}s")  # fmt: skip


ROWS = (
    ("`python -c pass`", "python"),
    ("floor: `podman ps -a --format json` per host, open connections", "ps"),
    ("the same floor with its connection set-up", "ps+connect"),
    ("no-op `apply -q` through the warm agent", "agent-apply"),
    ("`diff` through the warm agent", "agent-diff"),
    ("`get pods` through the warm agent", "agent-get"),
    ("no-op `apply -q` direct (`--no-agent`)", "direct-apply"),
    ("first call, starting the agent (a no-op `apply -q`)", "agent-cold"),
)


def render(results: dict[str, Any]) -> str:
    s = results["samples"]
    floor = statistics.median(s["ps"])
    lines = [
        f"{results['hosts']} hosts x {results['pods_per_host']} pods, {results['rounds']} "
        f"rounds x {results['repeat']} repetitions; {results['machine']}.",
        "",
        "| | median s | x `ps` floor | client CPU s | load (1 min) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, key in ROWS:
        if key not in s:
            continue
        median = statistics.median(s[key])
        cpu = f"{statistics.median(s[key + '-cpu']):.2f}" if key + "-cpu" in s else ""
        loads = s.get(key + "-load")
        load = f"{min(loads):.0f}-{max(loads):.0f}" if loads else ""
        lines.append(f"| {label} | {median:.2f} | {median / floor:.2f}x | {cpu} | {load} |")
    per_round = statistics.median(s["agent-apply/ps"])
    met = "met" if per_round <= TARGET else "not met"
    lines += ["", f"Target ≤ {TARGET}x the `ps` floor for a no-op `apply`: {met} through the warm "
              f"agent ({per_round:.2f}x, the median of each round's apply over that round's "
              f"floor); direct, {statistics.median(s['direct-apply']) / floor:.2f}x."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--pods-per-host", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--subnet", type=int, default=24)
    parser.add_argument("--keep-lab", type=Path)
    parser.add_argument("--shared", action="store_true",
                        help="the shared test hosts h1..h3 instead of a lab of its own (run it "
                        "under /tmp/e2e.lock: it removes every pod there)")  # fmt: skip
    parser.add_argument("--save", type=Path)
    parser.add_argument("--render", type=Path, nargs="+",
                        help="rewrite the README section from saved runs")  # fmt: skip
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.render:
        report.write_section(TITLE, "\n\n".join(render(json.loads(p.read_text()))
                                                for p in args.render))  # fmt: skip
        return
    args.baseline = "HEAD"  # `cli_bench.Bench` extracts a baseline tree; not used here
    tmp = Path(tempfile.mkdtemp(prefix="reconciler-agent-bench-"))
    if args.shared:
        lab, args.hosts = labmod.Lab(), min(args.hosts, 3)
    else:
        lab = labmod.Lab(cli_bench.lab_config(args.keep_lab or tmp / "lab", args.subnet))
    bench: AgentBench | None = None
    try:
        if not (args.shared and len(lab.hosts()) >= args.hosts):
            lab.up(args.hosts)
        bench = AgentBench(lab, tmp, args)
        bench.teardown()
        for _ in range(5):
            bench.add("python", bench.run([sys.executable, "-c", "pass"])[1])
        bench.first_deploy()
        for rep in range(args.repeat):
            cli_bench.log(f"repetition {rep + 1}")
            bench.repetition()
    finally:
        if bench is not None:
            bench.stop_agent()
            bench.teardown()
        if args.keep_lab is None and not args.shared:
            lab.down()
    results = {"samples": bench.samples, "hosts": args.hosts, "rounds": args.rounds,
               "pods_per_host": args.pods_per_host, "repeat": args.repeat,
               "machine": report.machine()}  # fmt: skip
    if args.save:
        args.save.write_text(json.dumps(results, indent=1) + "\n")
    print(render(results))
    if not args.no_write:
        report.write_section(TITLE, render(results))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
