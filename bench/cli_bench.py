"""The one-shot CLI at 10 hosts x 20 pods (issue 15): `reconciler --help`, a no-op `apply` and
`diff` against the `ps` floor, and a first deploy against the Podman API floor, in one run.
While this tree's daemon runs (its memory at rest measured first), `diff` (planned by the daemon,
POST /v1/diff) and `get pods` (GET /v1/observe) through it (`--daemon`) and `--direct`, each
round after its own `ps` floor. `--daemon-only`: the lab, one deploy and these rounds alone
(printed and saved, the README not rewritten). `--deploy-only`: per repetition this tree's
first deploy, the baseline's, and the API floors, with the CLI's CPU and the load (printed, saved).

Usage (root): .venv/bin/python -m bench.cli_bench [--repeat 2] [--baseline REV] [--keep-lab DIR]
Builds its own lab (bridge thbr15, 198.18.15.x, users rck15-hN, netns k15-hN; never the shared
h1..h3), writes the repository of `bench.apply_repo`, and times whole CLI processes as a user
runs them. In the same run: `python -c pass` (the interpreter's start), `reconciler --help` of
the commit REV (default HEAD~1, extracted with `git archive`) next to this tree's; the `ps`
floor of `bench.apply_floor` (one `podman ps` per host on open connections, connecting timed
apart); the API floor of `bench.api_floor` at each per-host concurrency. Rewrites the section
(with bench/cli_analysis_HOSTSxPODS.md appended; `--render F` from a saved run)
"One-shot CLI and the API floor, HOSTS x PODS" of bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import api_floor, apply_floor, apply_repo, daemon_rss, report
from tests.harness import hostsetup
from tests.harness import lab as labmod

TITLE = "One-shot CLI and the API floor"
REPO_ROOT = Path(__file__).resolve().parents[1]
NOOP_TARGET = 1.5
DEPLOY_TARGET = 1.2
RSS_TARGET_MB = 64
INCOMPLETE = 4  # the CLI's exit code when a host could not be read
LAUNCH = """import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in str(f)]
sys.path.insert(0, sys.argv.pop(1))
from reconciler.cli import main
sys.exit(main.main(sys.argv[1:]))"""
"""Runs the CLI of the tree given as first argument (the editable install's finder removed)."""
UNCUT = LAUNCH.replace("from reconciler.cli import main", """import jsonschema
from reconciler.runtime import memory
memory.Settler.settle = lambda self: None
from reconciler.cli import main""")
"""This tree's daemon without the memory cuts of issue 15 (jsonschema imported at start, nothing
given back after a sync): the daemon's "before", same code otherwise, so the same spec hashes."""


def lab_config(state_dir: Path, subnet: int = 15) -> labmod.LabConfig:
    """The lab on 198.18.SUBNET.x (bridge thbrSUBNET, netns kSUBNET-, users rckSUBNET-hN)."""
    return labmod.LabConfig(name="bench-cli", state_dir=state_dir, bridge=f"thbr{subnet}",
                            subnet=subnet, netns_prefix=f"k{subnet}-",
                            user_prefix=f"rck{subnet}-")  # fmt: skip


def log(message: str) -> None:
    print(f"[cli_bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Bench:
    def __init__(self, lab: labmod.Lab, tmp: Path, args: argparse.Namespace) -> None:
        self.lab = lab
        self.args = args
        self.hosts = lab.hosts()[: args.hosts]
        self.targets = [apply_floor.Target(h.name, h.address, h.user) for h in self.hosts]
        self.samples: dict[str, list[float]] = {}
        self.distribution: dict[str, int] = {}
        self.base = tmp / "base"
        self.base.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", args.baseline, "reconciler", "schemas"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(self.base)], input=archive.stdout, check=True)
        deployments = 10
        replicas = args.hosts * args.pods_per_host // deployments
        hosts = [(h.name, h.address, h.user) for h in self.hosts]
        self.repo = apply_repo.write(tmp / "repo", hosts, lab.config.image, deployments, replicas)
        apply_repo.commit(self.repo)
        cli = Path(sys.executable).parent / "reconciler"
        self.cli = str(cli) if cli.exists() else "reconciler"
        self.env = {**os.environ, "RECONCILER_SSH_KEY": str(lab.config.key_file),
                    "RECONCILER_KNOWN_HOSTS": str(lab.config.known_hosts)}  # fmt: skip

    def add(self, name: str, seconds: float) -> None:
        self.samples.setdefault(name, []).append(seconds)

    def run(self, cmd: list[str], expect: int = 0, label: str = "") -> tuple[str, float]:
        """Run `cmd`; with a `label`, exit 4 (a host did not answer in time) is counted under
        "LABEL-incomplete" instead of failing the run."""
        started = time.monotonic()
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=False)
        seconds = time.monotonic() - started
        if label and done.returncode == INCOMPLETE:
            self.add(f"{label}-incomplete", 1.0)
            log(f"{label}: exit 4: {done.stderr.count('HostNotResponding')} host(s) not answering")
        elif done.returncode != expect:
            raise RuntimeError(f"{cmd}: exit {done.returncode}\n{done.stdout[-2000:]}"
                               f"\n{done.stderr[-2000:]}")  # fmt: skip
        return done.stdout, seconds

    def teardown(self) -> None:
        script = "podman pod rm -af -t 0 >/dev/null; podman rm -af -t 0 >/dev/null; podman ps -aq"

        def clean(host: hostsetup.Host) -> str:
            return self.lab.ssh(host, "sh", "-c", script, timeout=600).stdout.strip()

        with ThreadPoolExecutor(max_workers=len(self.hosts)) as pool:
            left = [out for out in pool.map(clean, self.hosts) if out]
        if left:
            raise RuntimeError(f"teardown left containers: {left}")

    def startup(self) -> None:
        python = sys.executable
        for _ in range(self.args.help_rounds):
            self.add("python", self.run([python, "-c", "pass"])[1])
            self.add("help", self.run([self.cli, "--help"])[1])
            self.add("help-launch", self.run([python, "-c", LAUNCH, str(REPO_ROOT), "--help"])[1])
            self.add("help-base", self.run([python, "-c", LAUNCH, str(self.base), "--help"])[1])
            self.add("apply-help", self.run([self.cli, "apply", "--help"])[1])

    def ps(self) -> dict[str, list[dict[str, Any]]]:
        timed, listing = apply_floor.ps_all(self.targets, self.lab.config.key_file,
                                            self.lab.config.known_hosts)  # fmt: skip
        self.add("ps", timed.seconds)
        self.add("ps+connect", timed.seconds + timed.connect_seconds)
        self.add("connect", timed.connect_seconds)
        return listing

    def first_deploy(self, label: str = "deploy", tree: Path | None = None) -> None:
        """A first deploy by this tree's CLI (by the baseline's when `tree`), timed, with its
        CPU seconds (user + system) and the load average (1 min) at its start."""
        cmd = [self.cli] if tree is None else [sys.executable, "-c", LAUNCH, str(tree)]
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out, seconds = self.run([*cmd, "apply", str(self.repo), "-q"])
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        total = self.args.hosts * self.args.pods_per_host
        match = re.search(r"(\d+) created, .* (\d+) failed", out)
        if not match or int(match.group(1)) != total or int(match.group(2)) != 0:
            raise RuntimeError(f"first apply did not create {total} pods:\n{out}")
        self.add(label, seconds)
        self.add(f"{label}-cpu", after.ru_utime + after.ru_stime - before.ru_utime
                 - before.ru_stime)  # fmt: skip
        self.add(f"{label}-load", load)
        if tree is not None:
            log(f"{label} {seconds:.2f}s")
            return
        listing = self.ps()
        self.distribution = {h: sum(1 for c in entries if not c.get("IsInfra"))
                             for h, entries in listing.items()}  # fmt: skip
        log(f"first deploy {seconds:.2f}s {self.distribution}")

    def noop_rounds(self) -> None:
        for _ in range(self.args.noop_rounds):
            self.ps()
            apply = [self.cli, "apply", str(self.repo), "-q"]
            self.add("noop-apply", self.run(apply, label="noop-apply")[1])
            self.add("diff", self.run([self.cli, "diff", str(self.repo)], label="diff")[1])
            if not self.args.skip_base_apply:  # needs the same spec hashes as this tree
                base = [sys.executable, "-c", LAUNCH, str(self.base), "apply", str(self.repo),
                        "-q"]  # fmt: skip
                self.add("noop-apply-base", self.run(base, label="noop-apply-base")[1])
        log(f"no-op apply {statistics.median(self.samples['noop-apply']):.2f}s, "
            f"ps {statistics.median(self.samples['ps']):.2f}s")  # fmt: skip

    def daemon_at_rest(self, tmp: Path) -> None:
        for label, tree in (("daemon-base", self.base), ("daemon", None)):
            launch = daemon_rss.launcher(tree, LAUNCH)
            if label == "daemon-base" and self.args.daemon_before == "uncut":
                launch = [sys.executable, "-c", UNCUT, str(REPO_ROOT)]
            during = self.through_daemon if tree is None else None
            found = daemon_rss.measure(launch, self.repo, self.lab, tmp / label,
                                       self.args.daemon_window, self.args.resync,
                                       during)  # fmt: skip
            for key, value in found.items():
                self.add(f"{label}-{key}", value)
            log(f"{label}: RSS {found['rss_end'] / 2**20:.1f} MB (max "
                f"{found['rss_max'] / 2**20:.1f})")  # fmt: skip

    def through_daemon(self, port: int) -> None:
        """`diff` and `get pods` asking the daemon at `port`, and `--direct`, after the floor."""
        where = ["--daemon", f"127.0.0.1:{port}"]
        told = subprocess.run([self.cli, "diff", str(self.repo), *where, "-v"], env=self.env,
                              capture_output=True, text=True, check=False).stderr  # fmt: skip
        log("diff -v: " + " | ".join(line for line in told.splitlines() if "plan" in line))
        for _ in range(self.args.noop_rounds):
            timed, _ = apply_floor.ps_all(self.targets, self.lab.config.key_file,
                                          self.lab.config.known_hosts)  # fmt: skip
            self.add("ps-daemon", timed.seconds)
            self.add("ps-daemon+connect", timed.seconds + timed.connect_seconds)
            diff = [self.cli, "diff", str(self.repo)]
            get = [self.cli, "get", "pods", "-f", str(self.repo)]
            self.add("diff-daemon", self.run([*diff, *where], label="diff-daemon")[1])
            self.add("get-daemon", self.run([*get, *where], label="get-daemon")[1])
            self.add("diff-direct", self.run([*diff, "--direct"], label="diff-direct")[1])
            self.add("get-direct", self.run([*get, "--direct"], label="get-direct")[1])
        log(f"diff through the daemon {statistics.median(self.samples['diff-daemon']):.2f}s, "
            f"ps {statistics.median(self.samples['ps-daemon']):.2f}s")  # fmt: skip

    def daemon_rounds(self, tmp: Path) -> None:
        """This tree's daemon only: its RSS once applied, then `through_daemon`."""
        found = daemon_rss.measure(daemon_rss.launcher(None, LAUNCH), self.repo, self.lab,
                                   tmp / "daemon", self.args.daemon_window, self.args.resync,
                                   self.through_daemon)  # fmt: skip
        for key, value in found.items():
            self.add(f"daemon-{key}", value)

    def deploy_rounds(self) -> None:
        """`--deploy-only`: per repetition this tree's first deploy, the baseline's, then the
        API floor at each concurrency, each on empty hosts, one after the other (same load)."""
        for rep in range(self.args.repeat):
            log(f"repetition {rep + 1}")
            self.first_deploy()
            self.teardown()
            if not self.args.skip_base_apply:
                self.first_deploy("deploy-base", self.base)
                self.teardown()
            self.api_floors()

    def api_floors(self) -> None:
        for concurrency in self.args.concurrency:
            self.add(f"api-{concurrency}-load", os.getloadavg()[0])
            timed = api_floor.deploy(self.targets, self.distribution, self.lab.config.image,
                                     self.lab.config.key_file, self.lab.config.known_hosts,
                                     concurrency)  # fmt: skip
            self.add(f"api-{concurrency}", timed.seconds)
            self.add(f"api-{concurrency}+connect", timed.seconds + timed.connect_seconds)
            log(f"API floor x{concurrency}: {timed.seconds:.2f}s")
            self.teardown()


def harness_memory(hosts: list[hostsetup.Host]) -> tuple[float, int]:
    """(PSS bytes, process count) of the lab's hosts: each host's sshd and every process of its
    user (Podman's API service, the pause process, conmon and the containers)."""
    uids = {host.uid for host in hosts}
    sshds = {host.sshd_pid for host in hosts}
    total, count = 0, 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            uid = entry.stat().st_uid
            if uid not in uids and int(entry.name) not in sshds:
                continue
            rollup = (entry / "smaps_rollup").read_text()
        except OSError:
            continue
        total += sum(int(line.split()[1]) * 1024 for line in rollup.splitlines()
                     if line.startswith("Pss:"))  # fmt: skip
        count += 1
    return float(total), count


def analysis(results: dict[str, Any]) -> str:
    """The hand-written reading of a published run, bench/cli_analysis_HOSTSxPODS.md."""
    path = Path(__file__).resolve().parent / (
        f"cli_analysis_{results['hosts']}x{results['pods_per_host']}.md")  # fmt: skip
    return path.read_text() if path.exists() else ""


def title(results: dict[str, Any]) -> str:
    return f"{TITLE}, {results['hosts']} x {results['pods_per_host']}"


def render(results: dict[str, Any]) -> str:
    s: dict[str, list[float]] = results["samples"]
    m = {name: statistics.median(values) for name, values in s.items()}
    apis = {k: v for k, v in m.items() if re.fullmatch(r"api-\d+", k)}
    best = min(apis, key=lambda k: apis[k])
    api = m[best]
    ps, noop, diff = m["ps"], m["noop-apply"], m["diff"]
    rows = [
        ("`python -c pass` (interpreter start)", "python", "python"),
        ("`reconciler --help`, before (commit " + results["baseline"] + ")", "help-base", "python"),
        ("`reconciler --help`, now", "help-launch", "python"),
        ("`reconciler --help`, now, console script", "help", "python"),
        ("`reconciler apply --help` (start-up and the apply command's imports)", "apply-help",
         "python"),
        ("floor: `podman ps -a --format json` per host, on open connections", "ps", "ps"),
        ("same, with opening the connections", "ps+connect", "ps"),
        *((("`reconciler apply -q`, no-op, before", "noop-apply-base", "ps"),)
          if "noop-apply-base" in m else ()),
        ("**`reconciler apply -q`, no-op**", "noop-apply", "ps"),
        ("**`reconciler diff`, no change**", "diff", "ps"),
        *((f"API floor, {k[4:]} pod(s) at a time per host", k, best) for k in sorted(
            apis, key=lambda k: int(k[4:]))),
        ("**`reconciler apply -q`, first deploy**", "deploy", best),
    ]  # fmt: skip
    if "diff-daemon" in m:
        rows += [
            ("floor: `podman ps` per host, open connections (the rounds below)", "ps-daemon",
             "ps-daemon"),
            ("same, with opening the connections", "ps-daemon+connect", "ps-daemon"),
            ("**`reconciler diff`, no change, planned by the daemon** (`--daemon`)", "diff-daemon",
             "ps-daemon"),
            ("**`reconciler get pods`, through the daemon**", "get-daemon", "ps-daemon"),
            ("`reconciler diff --direct`, no change", "diff-direct", "ps-daemon"),
            ("`reconciler get pods --direct`", "get-direct", "ps-daemon"),
        ]  # fmt: skip
    lines = ["| what | median | ratio | to |", "|---|---|---|---|"]
    for label, name, base in rows:
        lines.append(f"| {label} | {m[name]:.3f} s | {m[name] / m[base]:.2f}x | {base} |")
    start, imports = m["python"], m["apply-help"] - m["python"]
    rest = noop - m["apply-help"] - m["connect"]
    pods = results["hosts"] * results["pods_per_host"]
    daemon = ""
    if "harness-pss" in s:
        daemon = (
            f"The lab itself ({results['hosts']} hosts: sshd, Podman's API service and pause "
            f"process per host, proportional set size): {m['harness-pss'] / 2**20:.0f} MB "
            f"without pods, {m['harness-pss-pods'] / 2**20:.0f} MB with the {pods} pods "
            "running.\n\n"
        )
    if "daemon-rss_end" in s:
        mb = {k: m[f"{k}-rss_end"] / 2**20 for k in ("daemon-base", "daemon")}
        peak = {k: m[f"{k}-rss_max"] / 2**20 for k in ("daemon-base", "daemon")}
        daemon += (
            f"The daemon at rest with these {pods} pods (VmRSS once it applied the repository, "
            f"then over {results.get('daemon_window', 30):.0f} s of resyncs every "
            f"{results.get('resync', 10):.0f} s): before "
            f"{BEFORE.get(results.get('daemon_before', 'baseline'), '')}"
            f"{mb['daemon-base']:.1f} MB (peak "
            f"{peak['daemon-base']:.1f}), now {mb['daemon']:.1f} MB (peak {peak['daemon']:.1f}), "
            f"{mb['daemon'] / mb['daemon-base']:.2f}x; target ≤ {RSS_TARGET_MB} MB: "
            f"{'met' if max(mb['daemon'], peak['daemon']) <= RSS_TARGET_MB else '**not met**'}."
        )
        if "daemon-rss_anonymous" in m:
            daemon += (
                f" Of this tree's daemon at the end of the window: "
                f"{m['daemon-rss_anonymous'] / 2**20:.1f} MB anonymous (heap, stacks), "
                f"{m['daemon-rss_file'] / 2**20:.1f} MB file-backed (the interpreter, shared "
                f"libraries, extension modules), {m['daemon-threads']:.0f} threads."
            )
    if "diff-daemon" in m:
        through = max(m["diff-daemon"], m["get-daemon"]) / m["ps-daemon"]
        daemon += (
            f"\n\nThrough the daemon (target ≤ {NOOP_TARGET}x the `ps` floor of the same rounds): "
            f"`diff` {m['diff-daemon'] / m['ps-daemon']:.2f}x, `get pods` "
            f"{m['get-daemon'] / m['ps-daemon']:.2f}x: "
            f"{'met' if through <= NOOP_TARGET else '**not met**'}; directly, "
            f"{m['diff-direct'] / m['ps-daemon']:.2f}x and {m['get-direct'] / m['ps-daemon']:.2f}x."
        )
    stragglers = [f"{name[: -len('-incomplete')]} {len(v)} time(s)" for name, v in s.items()
                  if name.endswith("-incomplete")]  # fmt: skip
    if stragglers:
        daemon += (
            "\n\nRuns that ended with exit 4 (a host did not answer within the connect "
            "timeout; timed all the same): " + ", ".join(stragglers) + "."
        )
    return "\n\n".join([
        f"Machine: {results['machine']}. {results['hosts']} hosts x {results['pods_per_host']} "
        f"pods ({pods} pods), medians of {len(s['noop-apply'])} no-op and {len(s['deploy'])} "
        "deploy runs; whole processes as a user runs them. `python -m bench.cli_bench`.",
        "\n".join(lines),
        f"No-op target ≤ {NOOP_TARGET}x the `ps` floor: "
        f"{'met' if max(noop, diff) / ps <= NOOP_TARGET else '**not met**'} "
        f"(apply {noop / ps:.2f}x, diff {diff / ps:.2f}x; {noop / m['ps+connect']:.2f}x and "
        f"{diff / m['ps+connect']:.2f}x the floor with its connection set-up). Where a no-op "
        f"apply's {noop:.2f} s go: interpreter start {start:.2f} s, imports and parser "
        f"{imports:.2f} s, opening {results['hosts']} SSH connections about {m['connect']:.2f} s "
        f"(the floor's own), the rest {rest:.2f} s (loading the manifests, scheduling, reading "
        "each host, planning).",
        f"First-deploy target ≤ {DEPLOY_TARGET}x the API floor (best per-host concurrency: "
        f"{best[4:]}): {'met' if m['deploy'] / api <= DEPLOY_TARGET else '**not met**'} "
        f"({m['deploy'] / api:.2f}x; {m['deploy'] / m[best + '+connect']:.2f}x the floor with "
        "its connection set-up, which the whole command pays too).",
        daemon,
    ])


def render_deploy(results: dict[str, Any]) -> str:
    """The first-deploy rows of a `--deploy-only` run, each to the best API floor of the run."""
    s: dict[str, list[float]] = results["samples"]
    m = {name: statistics.median(v) for name, v in s.items()}
    apis = {k: v for k, v in m.items() if re.fullmatch(r"api-\d+", k)}
    best = min(apis, key=lambda k: apis[k])
    pods = results["hosts"] * results["pods_per_host"]
    lines = ["| what | median | ratio to " + best + " | CPU of the CLI process | load (1 min) |",
             "|---|---|---|---|---|"]  # fmt: skip
    rows = [*((f"API floor, {k[4:]} pod(s) at a time per host", k) for k in sorted(
        apis, key=lambda k: int(k[4:]))),
        (f"`reconciler apply -q`, first deploy, before (commit {results['baseline']})",
         "deploy-base"), ("**`reconciler apply -q`, first deploy, now**", "deploy")]  # fmt: skip
    for label, name in rows:
        if name not in m:
            continue
        cpu = f"{m[name + '-cpu']:.2f} s ({m[name + '-cpu'] / pods * 1000:.1f} ms/pod)" if (
            name + "-cpu" in m) else ""  # fmt: skip
        load = f"{m[name + '-load']:.1f}" if name + "-load" in m else ""
        lines.append(f"| {label} | {m[name]:.3f} s | {m[name] / m[best]:.2f}x | {cpu} | {load} |")
    each = ", ".join(f"{a / b:.2f}x" for a, b in zip(s["deploy"], s[best], strict=False))
    verdict = "met" if m["deploy"] / m[best] <= DEPLOY_TARGET else "**not met**"
    return (f"{results['machine']}; {results['hosts']} hosts x {results['pods_per_host']} pods, "
            f"medians of {len(s['deploy'])} repetitions.\n\n" + "\n".join(lines) + "\n\n"
            f"First-deploy target ≤ {DEPLOY_TARGET}x the API floor (best per-host concurrency "
            f"{best[4:]}): {verdict} ({m['deploy'] / m[best]:.2f}x; per repetition {each}).")


def render_daemon(results: dict[str, Any]) -> str:
    """The rows through the daemon of a `--daemon-only` run, each to the same rounds' floor."""
    m = {name: statistics.median(v) for name, v in results["samples"].items()}
    rows = [("`python -c pass`", "python"), ("floor: `podman ps` per host, open connections",
            "ps-daemon"), ("same, with opening the connections", "ps-daemon+connect"),
            ("`reconciler diff`, planned by the daemon", "diff-daemon"),
            ("`reconciler get pods`, through the daemon", "get-daemon"),
            ("`reconciler diff --direct`", "diff-direct"),
            ("`reconciler get pods --direct`", "get-direct")]  # fmt: skip
    lines = ["| what | median | ratio to ps-daemon |", "|---|---|---|"]
    lines += [f"| {label} | {m[name]:.3f} s | {m[name] / m['ps-daemon']:.2f}x |"
              for label, name in rows if name in m]  # fmt: skip
    n = len(results["samples"].get("diff-daemon", []))
    return f"{results['machine']}; {n} rounds.\n\n" + "\n".join(lines)


BEFORE = {"uncut": "(this tree with jsonschema imported at start and nothing given back after "
                   "a sync) ", "baseline": ""}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--pods-per-host", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--noop-rounds", type=int, default=3)
    parser.add_argument("--help-rounds", type=int, default=8)
    parser.add_argument("--concurrency", type=lambda v: [int(x) for x in v.split(",")],
                        default=[1, 2, 4, 8])  # fmt: skip
    parser.add_argument("--baseline", default="HEAD~1")
    parser.add_argument("--daemon-window", type=float, default=30.0, help="0: no daemon part")
    parser.add_argument("--resync", type=float, default=10.0)
    parser.add_argument("--keep-lab", type=Path)
    parser.add_argument("--skip-base-apply", action="store_true",
                        help="no no-op apply of the baseline (its spec hashes differ)")  # fmt: skip
    parser.add_argument("--daemon-before", choices=("uncut", "baseline"), default="uncut",
                        help="the daemon's before: this tree uncut, or the baseline")  # fmt: skip
    parser.add_argument("--daemon-only", action="store_true",
                        help="a deploy and the rounds through the daemon only")  # fmt: skip
    parser.add_argument("--deploy-only", action="store_true",
                        help="first deploys (this tree's, the baseline's) and the API floors "
                        "only, interleaved; printed and saved, the README not rewritten")
    parser.add_argument("--subnet", type=int, default=15,
                        help="the lab on 198.18.N.x (two runs at once: two N)")  # fmt: skip
    parser.add_argument("--save", type=Path)
    parser.add_argument("--render", type=Path, help="rewrite the README section from a saved run")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.render:
        saved = json.loads(args.render.read_text())
        report.write_section(title(saved), render(saved) + "\n\n" + analysis(saved))
        return
    tmp = Path(tempfile.mkdtemp(prefix="reconciler-cli-bench-"))
    lab = labmod.Lab(lab_config(args.keep_lab or tmp / "lab", args.subnet))
    try:
        started = time.monotonic()
        lab.up(args.hosts)
        log(f"lab of {args.hosts} up in {time.monotonic() - started:.1f}s")
        bench = Bench(lab, tmp, args)
        bench.teardown()
        pss, processes = harness_memory(bench.hosts)
        bench.add("harness-pss", pss)
        log(f"harness: {pss / 2**20:.0f} MB PSS in {processes} processes")
        if args.deploy_only:
            bench.deploy_rounds()
        elif args.daemon_only:
            for _ in range(args.help_rounds):
                bench.add("python", bench.run([sys.executable, "-c", "pass"])[1])
            bench.first_deploy()
            bench.daemon_rounds(tmp / "daemons")
            bench.teardown()
        else:
            bench.startup()
        for rep in range(0 if args.daemon_only or args.deploy_only else args.repeat):
            log(f"repetition {rep + 1}")
            bench.first_deploy()
            bench.noop_rounds()
            if rep == 0:
                bench.add("harness-pss-pods", harness_memory(bench.hosts)[0])
            if rep == 0 and args.daemon_window > 0:
                bench.daemon_at_rest(tmp / "daemons")
            bench.teardown()
            bench.api_floors()
    finally:
        if args.keep_lab is None:
            lab.down()
    results = {"samples": bench.samples, "distribution": bench.distribution, "hosts": args.hosts,
               "pods_per_host": args.pods_per_host, "baseline": args.baseline,
               "daemon_window": args.daemon_window, "resync": args.resync,
               "daemon_before": args.daemon_before,
               "machine": report.machine()}  # fmt: skip
    if args.save:
        args.save.write_text(json.dumps(results, indent=1) + "\n")
    if args.deploy_only:
        print(render_deploy(results))
        shutil.rmtree(tmp, ignore_errors=True)
        return
    if args.daemon_only:
        print(render_daemon(results))
        shutil.rmtree(tmp, ignore_errors=True)
        return
    print(render(results))
    if not args.no_write:
        report.write_section(title(results), render(results) + "\n\n" + analysis(results))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
