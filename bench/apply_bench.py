"""First deploy and no-op of `reconciler apply` on 10 real hosts x 20 pods, against podman floors.

Usage (root): .venv/bin/python -m bench.apply_bench [--repeat 3] [--noop-rounds 3] [--save F]
       .venv/bin/python -m bench.apply_bench --render F   (rewrite the README section from F)
About 25 minutes. The README section is the rendered figures plus bench/apply_analysis.md, the
hand-written analysis of one run (update it when the figures change).

Builds its own test lab (bridge thbr3, hosts 198.18.3.11.., users rcb3-hN; not the default lab),
writes a generated git repository (10 Hosts, 10 Deployments x 20 busybox replicas) and times the
whole `reconciler apply -q` command as a subprocess, as a user sees it. In the same run:

- deploy floor (issue): plain `podman run -d` for each of a host's pods, sequentially, over one
  open SSH connection per host, hosts in parallel; as many pods per host as the product placed.
  The product makes a podman pod per pod (without an infra container when the pod has a single
  container, as here), so the same objects made with the podman CLI are floors too:
  `podman pod create --infra=false` + `podman run --pod` (what the product makes); and, to show
  what an infra container costs, the same with it and `podman run --pod new:NAME` (one call).
- no-op floor (issue): one `podman ps -a --format json` per host in parallel on open
  connections; also with the connections' setup included, as the CLI opens them every run.

Every figure is a median over repetitions (the no-op ones over repeat x noop-rounds samples);
every deploy starts from hosts without any container. The order of the deploy variants rotates
between repetitions, so slow drift of the machine does not favour one. `CPU` is the machine's
busy CPU time during the measurement (the hosts run on this machine, so that is all the work,
the reconciler's and Podman's). `bench.apply_phases` breaks a no-op apply into its steps.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bench import apply_floor, apply_repo, report
from tests.harness import hostsetup
from tests.harness import lab as labmod

TITLE = "Deploy and no-op"
REPO_ROOT = Path(__file__).resolve().parents[1]
DEPLOY_TARGET = 1.1
NOOP_TARGET = 1.5
PRODUCT = "product"
MANAGED_BY = "reconciler.dev/managed-by"


def lab_config(state_dir: Path) -> labmod.LabConfig:
    return labmod.LabConfig(
        name="bench-apply", state_dir=state_dir, bridge="thbr3", subnet=3,
        netns_prefix="b3-", user_prefix="rcb3-", registry_port=5000,
    )  # fmt: skip


# ----- measuring ---------------------------------------------------------------------------------


def cpu_busy() -> float:
    """Seconds of busy CPU (user, nice, system, irq, softirq) of the whole machine so far."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


class Results:
    """Samples by name: (wall seconds, machine busy CPU seconds meanwhile; NaN if not taken)."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        data = data or {}
        self.samples: dict[str, list[list[float]]] = data.get("samples", {})
        self.extra: dict[str, list[float]] = data.get("extra", {})
        self.distribution: dict[str, int] = data.get("distribution", {})
        self.phases: list[dict[str, float]] = data.get("phases", [])
        self.args: dict[str, int] = data.get("args", {})

    def to_json(self) -> dict[str, Any]:
        return {"samples": self.samples, "extra": self.extra, "args": self.args,
                "distribution": self.distribution, "phases": self.phases}  # fmt: skip

    def add(self, name: str, seconds: float, cpu: float = float("nan")) -> None:
        self.samples.setdefault(name, []).append([seconds, cpu])

    def note(self, name: str, value: float) -> None:
        self.extra.setdefault(name, []).append(value)

    def median(self, name: str) -> float:
        return statistics.median(s[0] for s in self.samples[name])

    def median_cpu(self, name: str) -> float:
        return statistics.median(s[1] for s in self.samples[name])

    def count(self, name: str) -> int:
        return len(self.samples[name])


T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    cpu0, t0 = cpu_busy(), time.monotonic()
    value = fn()
    return value, time.monotonic() - t0, cpu_busy() - cpu0


# ----- the bench ---------------------------------------------------------------------------------


class Bench:
    def __init__(self, lab: labmod.Lab, repo: Path, hosts: int, args: argparse.Namespace) -> None:
        self.lab = lab
        self.repo = repo
        self.args = args
        self.hosts = lab.hosts()[:hosts]
        self.targets = [apply_floor.Target(h.name, h.address, h.user) for h in self.hosts]
        self.results = Results()
        self.results.args = {k: getattr(args, k) for k in ("repeat", "noop_rounds", "hosts",
                                                           "pods_per_host")}  # fmt: skip
        cli = Path(sys.executable).parent / "reconciler"
        self.cli = str(cli) if cli.exists() else (shutil.which("reconciler") or "reconciler")
        self.env = {
            **os.environ,
            "RECONCILER_SSH_KEY": str(lab.config.key_file),
            "RECONCILER_KNOWN_HOSTS": str(lab.config.known_hosts),
            "PYTHONPATH": str(REPO_ROOT),
        }

    # ----- helpers ---------------------------------------------------------------------------

    def teardown(self) -> None:
        """Remove every pod and container on the bench hosts, and check none is left."""
        script = "podman pod rm -af -t 0 >/dev/null; podman rm -af -t 0 >/dev/null; podman ps -aq"

        def clean(host: hostsetup.Host) -> str:
            return self.lab.ssh(host, "sh", "-c", script, timeout=600).stdout.strip()

        with ThreadPoolExecutor(max_workers=len(self.hosts)) as pool:
            left = [out for out in pool.map(clean, self.hosts) if out]
        if left:
            raise RuntimeError(f"teardown left containers: {left}")

    def cli_run(self, *argv: str, expect: int = 0) -> tuple[str, float, float]:
        cmd = [self.cli, *argv]
        cpu0, t0 = cpu_busy(), time.monotonic()
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=False)
        seconds, cpu = time.monotonic() - t0, cpu_busy() - cpu0
        if done.returncode != expect:
            raise RuntimeError(
                f"{' '.join(cmd)}: exit {done.returncode} (expected {expect})\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done.stdout, seconds, cpu

    def ps(self) -> tuple[apply_floor.Timed, dict[str, list[dict[str, Any]]]]:
        key, known = self.lab.config.key_file, self.lab.config.known_hosts
        return apply_floor.ps_all(self.targets, key, known)

    # ----- steps -----------------------------------------------------------------------------

    def product_deploy(self) -> None:
        out, seconds, cpu = self.cli_run("apply", str(self.repo), "-q")
        match = re.search(r"in ([0-9.]+)s: (\d+) created, .* (\d+) failed", out)
        total = self.args.hosts * self.args.pods_per_host
        if not match or int(match.group(2)) != total or int(match.group(3)) != 0:
            raise RuntimeError(f"first apply did not create {total} pods:\n{out}")
        self.results.add(PRODUCT, seconds, cpu)
        self.results.note("converge", float(match.group(1)))
        _timed, listing = self.ps()
        found = {
            host: sum(
                1
                for c in entries
                if not c.get("IsInfra") and (c.get("Labels") or {}).get(MANAGED_BY)
            )
            for host, entries in listing.items()
        }
        if sum(found.values()) != total:
            raise RuntimeError(f"expected {total} app containers, found {found}")
        if self.results.distribution and found != self.results.distribution:
            print(f"  note: placement changed: {self.results.distribution} -> {found}", flush=True)
        self.results.distribution = found
        print(f"  product deploy {seconds:.1f}s (converge {match.group(1)}s), {found}", flush=True)
        for _ in range(self.args.noop_rounds):
            self.noop_round()
        self.results.phases.append(self.phase_run())

    def noop_round(self) -> None:
        (floor, _listing), seconds, cpu = timed(self.ps)
        self.results.add("ps", floor.seconds)
        self.results.add("ps+connect", floor.seconds + floor.connect_seconds, cpu)
        out, seconds, cpu = self.cli_run("apply", str(self.repo), "-q")
        if " 0 created, 0 replaced, 0 deleted, 0 failed" not in out:
            raise RuntimeError(f"the second apply was not a no-op:\n{out}")
        self.results.add("noop-apply", seconds, cpu)
        _out, diff_seconds, diff_cpu = self.cli_run("diff", str(self.repo), expect=0)
        self.results.add("diff", diff_seconds, diff_cpu)
        print(f"  no-op: ps {floor.seconds:.2f}s (+connect {floor.connect_seconds:.2f}s), "
              f"apply {seconds:.2f}s, diff {diff_seconds:.2f}s", flush=True)  # fmt: skip

    def phase_run(self) -> dict[str, float]:
        cmd = [sys.executable, "-m", "bench.apply_phases", str(self.repo)]
        t0 = time.monotonic()
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=True,
                              cwd=REPO_ROOT)  # fmt: skip
        wall = time.monotonic() - t0
        data = json.loads(done.stdout.strip().splitlines()[-1])
        phases: dict[str, float] = data["phases"]
        phases["wall"] = wall
        return phases

    def floor_deploy(self, mode: str) -> None:
        key, known = self.lab.config.key_file, self.lab.config.known_hosts
        image = self.lab.config.image
        counts = self.results.distribution
        cpu0 = cpu_busy()
        result = apply_floor.deploy(self.targets, counts, image, key, known, mode)
        cpu = cpu_busy() - cpu0
        self.results.add(mode, result.seconds, cpu)
        self.results.add(f"{mode}+connect", result.seconds + result.connect_seconds)
        print(f"  floor {mode}: {result.seconds:.1f}s (+connect {result.connect_seconds:.2f}s)",
              flush=True)  # fmt: skip

    def repetition(self, index: int) -> None:
        order = [PRODUCT, *apply_floor.MODES]
        if not self.results.distribution:  # the floors need the product's placement first
            index = 0
        order = order[index % len(order) :] + order[: index % len(order)]
        print(f"repetition {index + 1}: {', '.join(order)}", flush=True)
        for step in order:
            self.teardown()
            if step == PRODUCT:
                self.product_deploy()
            else:
                self.floor_deploy(step)
        self.teardown()


# ----- report ------------------------------------------------------------------------------------


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def _cpu(results: Results, name: str) -> str:
    value = results.median_cpu(name)
    return "" if value != value else f"{value:.1f} s"  # NaN: not measured


def _ratios(r: Results, name: str, floor: str) -> list[float]:
    """Sample i of `name` over sample i of `floor` (taken in the same repetition / round)."""
    return [a[0] / b[0] for a, b in zip(r.samples[name], r.samples[floor], strict=True)]


def paired(r: Results, name: str, floor: str) -> str:
    return ", ".join(f"{v:.2f}x" for v in _ratios(r, name, floor))


def paired_median(r: Results, name: str, floor: str) -> float:
    return statistics.median(_ratios(r, name, floor))


def para(text: str) -> str:
    """One Markdown paragraph, wrapped at 100 columns."""
    return textwrap.fill(" ".join(text.split()), width=100, break_on_hyphens=False)


def table(header: str, rows: list[str]) -> str:
    columns = header.count("|") - 1
    align = "|---|" + "---:|" * (columns - 1)
    return "\n".join([header, align, *rows])


def render(r: Results) -> str:
    args = argparse.Namespace(**r.args)
    floor, same = r.median("run"), r.median("pod-noinfra")
    product = r.median(PRODUCT)
    converge = statistics.median(r.extra["converge"])
    total = sum(r.distribution.values())
    dist = ", ".join(f"{h} {n}" for h, n in r.distribution.items())
    per_host = "/".join(str(n) for n in sorted(set(r.distribution.values())))
    ps, ps_conn = r.median("ps"), r.median("ps+connect")
    noop, diff = r.median("noop-apply"), r.median("diff")

    def deploy_row(label: str, name: str) -> str:
        if name not in r.samples:  # results saved before that floor existed
            return f"| {label} | not measured | | | |"
        value = r.median(name)
        return (f"| {label} | {_fmt(value)} | {value / floor:.2f}x | {value / same:.2f}x "
                f"| {_cpu(r, name)} |")  # fmt: skip

    def noop_row(label: str, name: str) -> str:
        value = r.median(name)
        return (f"| {label} | {_fmt(value)} | {value / ps:.2f}x | {value / ps_conn:.2f}x "
                f"| {_cpu(r, name)} |")  # fmt: skip

    deploy_rows = [
        ("floor (issue): `podman run -d` per pod, on open connections", "run"),
        ("same, including opening the 10 connections", "run+connect"),
        ("same objects as the product: `podman pod create --infra=false` + `run --pod`",
         "pod-noinfra"),
        ("with an infra container: `podman pod create` + `podman run -d --pod`", "pod"),
        ("with an infra container: `podman run -d --pod new:NAME` (one call)", "pod-new"),
        ("**`reconciler apply -q`, first deploy (whole command)**", PRODUCT),
    ]
    deploy = table(
        "| what | median | ratio to `podman run` floor | ratio to same-objects floor | CPU |",
        [deploy_row(label, name) for label, name in deploy_rows]
        + [
            f"| of which converge (apply's own figure: the podman work) | {_fmt(converge)} "
            f"| {converge / floor:.2f}x | {converge / same:.2f}x | |"
        ],
    )
    noop_rows = [
        ("floor (issue): `podman ps -a --format json` per host, on open connections", "ps"),
        ("same, including opening the 10 connections", "ps+connect"),
        ("**`reconciler apply -q`, no-op (whole command)**", "noop-apply"),
        ("**`reconciler diff`, exit 0 (whole command)**", "diff"),
    ]
    noop_table = table(
        "| what | median | ratio to `ps` floor | ratio to `ps` floor with connect | CPU |",
        [noop_row(label, name) for label, name in noop_rows],
    )
    phases = {k: statistics.median(p[k] for p in r.phases) for k in r.phases[0]}
    phases["startup"] = phases["wall"] - phases["total"]
    phase_table = table(
        "| step | median |",
        [
            f"| {label} | {_fmt(phases[key])} |"
            for label, key in (
                ("interpreter start and exit", "startup"),
                ("imports (every command module is imported to build the parser)", "imports"),
                (f"load and validate {args.hosts + 11} manifests, git revision", "load"),
                ("connect: SSH + forwarded Podman socket + ping, hosts in parallel", "connect"),
                ("(extra step, only reads) the two list calls of observe alone", "lists"),
                ("observe: the two list calls (what the planner needs; no inspects)", "observe"),
                ("plan", "plan"),
                ("close connections", "close"),
                ("whole process (wall)", "wall"),
            )
        ],
    )
    deploy_ok = product / floor <= DEPLOY_TARGET
    noop_ok = max(noop, diff) / ps <= NOOP_TARGET
    blocks = [
        para(f"""`python -m bench.apply_bench` (root): {args.hosts} test hosts of the benchmark's
        own lab (each a network namespace with sshd and rootless Podman 4.3, all on this one
        machine), a generated git repository of {args.hosts} Hosts and 10 Deployments x
        {args.pods_per_host} replicas (busybox `sleep 3600`, one label, one env var,
        IfNotPresent, image already on the hosts). The product is timed as a user sees it: the
        whole `reconciler apply -q` / `reconciler diff` process. Floors run from the benchmark's
        process over asyncssh, one connection per host (same key, pinned host keys), each
        command one exec channel; hosts in parallel, each host's commands in sequence. Every
        deploy starts from hosts without containers; the order of the deploy variants rotates
        between repetitions. Deploy figures are medians of {args.repeat} runs, no-op figures of
        {r.count("noop-apply")} ({args.repeat} x {args.noop_rounds}). CPU = busy CPU seconds of
        the whole machine during the measurement (the hosts included). Machine:
        {report.machine()}."""),
        para(f"""Placement by the scheduler: {total} pods, {per_host} per host ({dist}). The floors
        run the same number of pods per host."""),
        f"### First deploy ({total} pods)",
        deploy,
        para(f"""Target ≤ {DEPLOY_TARGET}x the `podman run` floor: {
            "met" if deploy_ok else "**NOT met**"
        } ({product / floor:.2f}x; per repetition, against the floor of the same
        repetition: {paired(r, PRODUCT, "run")}). Against the podman CLI making the same objects
        (a pod without infra container plus its container, per pod): {product / same:.2f}x."""),
        f"### No-op on the same state ({total} pods running)",
        noop_table,
        para(f"""Target ≤ {NOOP_TARGET}x the `ps` floor: {"met" if noop_ok else "**NOT met**"}
        (apply {noop / ps:.2f}x, diff {diff / ps:.2f}x; with the floor's connection setup
        counted: {noop / ps_conn:.2f}x, {diff / ps_conn:.2f}x). Each no-op round ran the floor,
        then apply, then diff; the medians of the per-round ratios are
        {paired_median(r, "noop-apply", "ps"):.2f}x (apply) and
        {paired_median(r, "diff", "ps"):.2f}x (diff)."""),
        para(f"""Where a no-op apply spends its time (`python -m bench.apply_phases`: the CLI's
        steps in one process, timed one by one; medians of {len(r.phases)}):"""),
        phase_table,
    ]
    return "\n\n".join(blocks) + "\n"


ANALYSIS_FILE = Path(__file__).resolve().parent / "apply_analysis.md"


def publish(results: Results, write_readme: bool) -> None:
    body = render(results)
    if ANALYSIS_FILE.exists():  # the hand-written analysis of the figures
        body += "\n" + ANALYSIS_FILE.read_text()
    if write_readme:
        report.write_section(TITLE, body)
    print(body)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--noop-rounds", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--pods-per-host", type=int, default=20)
    parser.add_argument("--state-dir", type=Path, default=None, help="lab state (default: temp)")
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab up at the end")
    parser.add_argument("--no-readme", action="store_true", help="print, do not write README")
    parser.add_argument("--save", type=Path, help="also write the raw samples to this JSON file")
    parser.add_argument("--render", type=Path, help="only render the section from a --save file")
    args = parser.parse_args()
    if args.render:
        publish(Results(json.loads(args.render.read_text())), not args.no_readme)
        return
    tmp = Path(tempfile.mkdtemp(prefix="reconciler-apply-bench-"))
    lab = labmod.Lab(lab_config(args.state_dir or tmp / "lab"))
    try:
        started = time.monotonic()
        lab.up(args.hosts)
        print(f"lab up in {time.monotonic() - started:.1f}s", flush=True)
        hosts = [(h.name, h.address, h.user) for h in lab.hosts()[: args.hosts]]
        repo = apply_repo.write(tmp / "repo", hosts, lab.config.image, 10, args.pods_per_host)
        apply_repo.commit(repo)
        bench = Bench(lab, repo, args.hosts, args)
        bench.cli_run("validate", str(repo))
        bench.teardown()
        for index in range(args.repeat):
            bench.repetition(index)
        if args.save:
            args.save.write_text(json.dumps(bench.results.to_json(), indent=1) + "\n")
        publish(bench.results, not args.no_readme)
    finally:
        if not args.keep_lab:
            lab.down()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
