"""A slow host must not slow the others (issue 15, item 2): one host behind a slow link.

Run as root: `python -m bench.slowhost_bench [--hosts 4] [--per-host 5] [--delay 0.1]
[--reps 3]`. Builds its own lab (bridge thbr9, 198.18.9.x, users rcs9-hN, netns s9-hN); the
last host's sshd is also reached through `bench.delayproxy` in its namespace (port 2222, every
chunk delayed `--delay` s each way: no `tc netem` in this kernel). Two conditions, interleaved:
every Host manifest at port 22 (baseline), or the last one at 2222 (slow). Each repetition runs
a one-shot `reconciler apply` of a Deployment of `hosts x per-host` pods from nothing, and
polls every host over connections of its own (direct, port 22) for the time each host's pods
are all Running; then a no-op `apply`, then removes the pods.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import daemon_bench as dbench
from bench import manifests, report
from tests.harness import hostsetup
from tests.harness import lab as labmod

NAMESPACE = dbench.NAMESPACE
PYTHON = dbench.PYTHON
SLOW_PORT = 2222


def write_repo(path: Path, lab: labmod.Lab, slow: bool, replicas: int) -> None:
    hosts = lab.hosts()
    for host in hosts:
        port = SLOW_PORT if slow and host is hosts[-1] else 22
        text = manifests.host_yaml(host.name, host.address, host.user, port, cpu="16",
                                   memory="32Gi")  # fmt: skip
        (path / "hosts").mkdir(parents=True, exist_ok=True)
        (path / "hosts" / f"{host.name}.yaml").write_text(text)
    (path / "app.yaml").write_text(
        manifests.namespace_yaml(NAMESPACE) + "---\n"
        + dbench.deployment_yaml("spread", replicas, lab.config.image)
    )  # fmt: skip


def known_hosts(lab: labmod.Lab, out: Path) -> None:
    """The lab's pinned keys, and the last host's again under `[address]:2222`."""
    last = lab.hosts()[-1]
    key = hostsetup.host_key(lab.config.state_dir / last.name).with_suffix(".pub").read_text()
    kind, blob = key.split()[:2]
    extra = f"[{last.address}]:{SLOW_PORT} {kind} {blob}\n"
    out.write_text(lab.config.known_hosts.read_text() + extra)


def apply(repo: Path, env: dict[str, str]) -> float:
    started = time.monotonic()
    done = subprocess.run(
        [PYTHON, "-m", "reconciler", "apply", "-q", "--allow-mass-prune", str(repo)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"apply exit {done.returncode}: {done.stdout}{done.stderr}")
    return time.monotonic() - started


async def deploy(hosts: dbench.Hosts, repo: Path, env: dict[str, str]) -> dict[str, Any]:
    """One first deploy: the apply's time and, per host, when its pods were all Running."""
    samples: list[tuple[float, dict[str, int]]] = []
    started = time.monotonic()
    task = asyncio.create_task(asyncio.to_thread(apply, repo, env))
    while True:
        found = await hosts.pods("spread-")
        counts = {h: sum(1 for _, s in v if s == "Running") for h, v in found.items()}
        samples.append((time.monotonic() - started, counts))
        if task.done():
            break
        await asyncio.sleep(0.1)
    total = await task
    final = samples[-1][1]
    ready = {h: next(t for t, c in samples if c[h] == final[h]) for h in final}
    return {"apply": total, "ready": ready, "pods": final}


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"load": [dbench.loadavg()], "reps": []}
    lab = labmod.Lab(labmod.LabConfig(
        name="slowbench", state_dir=tmp / "lab", bridge="thbr9", subnet=9,
        netns_prefix="s9-", user_prefix="rcs9-",
    ))  # fmt: skip
    proxy = None
    hosts = None
    try:
        lab.up(args.hosts)
        last = lab.hosts()[-1]
        proxy = subprocess.Popen(
            ["ip", "netns", "exec", last.netns, PYTHON, "-m", "bench.delayproxy", last.address,
             str(SLOW_PORT), last.address, "22", str(args.delay)],
            cwd=dbench.REPO,
        )  # fmt: skip
        pinned = tmp / "known_hosts"
        known_hosts(lab, pinned)
        env = {**os.environ, "RECONCILER_SSH_KEY": str(lab.config.key_file),
               "RECONCILER_KNOWN_HOSTS": str(pinned), "RECONCILER_CONFIG": "/dev/null",
               "RECONCILER_STATE_DIR": str(tmp / "state")}  # fmt: skip
        replicas = args.hosts * args.per_host
        repos = {}
        for slow in (False, True):
            repos[slow] = tmp / f"repo-{'slow' if slow else 'base'}"
            write_repo(repos[slow], lab, slow, replicas)
            write_repo(tmp / f"empty-{slow}", lab, slow, 0)
        hosts = dbench.Hosts(lab)
        await hosts.connect()
        for rep in range(args.reps):
            for slow in ((False, True) if rep % 2 == 0 else (True, False)):
                one = await deploy(hosts, repos[slow], env)
                one["noop"] = [await asyncio.to_thread(apply, repos[slow], env) for _ in range(3)]
                one["slow"] = slow
                await asyncio.to_thread(apply, tmp / f"empty-{slow}", env)
                results["reps"].append(one)
                dbench.log(f"rep {rep} slow={slow}: {one}")
        results["load"].append(dbench.loadavg())
        results["slow_host"] = last.name
        return results
    finally:
        if hosts is not None:
            hosts.close()
        if proxy is not None:
            proxy.terminate()
            proxy.wait(10)
        lab.down()


def verdict(slowed: float, others: float) -> str:
    """What the ratios say: the slow host's own (did the delay show?) and the others'."""
    if slowed < 1.2:
        return (f"What this says: nothing yet. The slow host itself was not measurably slower "
                f"({slowed:.2f}x): at this machine's load the delay is lost in the noise; run "
                "again on a quieter machine or with a larger `--delay`.")  # fmt: skip
    waits = "do not wait for it" if others < 1.1 else f"are slowed too ({others:.2f}x)"
    return (f"What this says: the slow host took {slowed:.2f}x its baseline and the other hosts "
            f"{waits}; a one-shot `apply` as a whole, and so each of the daemon's passes, ends "
            "when the slowest host is done (last rows).")  # fmt: skip


def write(args: argparse.Namespace, r: dict[str, Any]) -> str:
    slow_host = r["slow_host"]

    def figures(slow: bool) -> dict[str, float]:
        reps = [x for x in r["reps"] if x["slow"] is slow]
        fast = [max(t for h, t in x["ready"].items() if h != slow_host) for x in reps]
        return {
            "fast": statistics.median(fast),
            "slow": statistics.median(x["ready"][slow_host] for x in reps),
            "apply": statistics.median(x["apply"] for x in reps),
            "noop": statistics.median(t for x in reps for t in x["noop"]),
        }

    base, slow = figures(False), figures(True)
    rows = [("the other hosts' pods all Running (the last of them)", "fast"),
            (f"{slow_host}'s pods all Running", "slow"), ("`apply` first deploy, whole", "apply"),
            ("`apply` no-op, whole", "noop")]  # fmt: skip
    lines = [
        f"`python -m bench.slowhost_bench` (root): its own lab of {args.hosts} hosts; "
        f"{slow_host} is reached either directly (baseline) or through a proxy in its network "
        f"namespace that delays every chunk {args.delay:g} s each way (+{2 * args.delay:g} s a "
        "round trip; no `tc netem` in this kernel). One-shot `reconciler apply` of "
        f"{args.hosts * args.per_host} pods ({args.per_host} a host) from nothing, the two "
        f"conditions interleaved, {args.reps} repetitions each; the time each host's pods are all "
        "Running is read by polling every host (own connections, port 22) every 0.1 s.",
        "",
        f"| what | baseline (no slow host) | {slow_host} slow | ratio slow / baseline |",
        "|---|---:|---:|---:|",
        *(f"| {label} | {base[k]:.2f} s | {slow[k]:.2f} s | {slow[k] / base[k]:.2f}x |"
          for label, k in rows),
        "",
        verdict(slow["slow"] / base["slow"], slow["fast"] / base["fast"]),
        "",
        f"Machine: {report.machine()}. Load average (1/5/15 min): {'; '.join(r['load'])} "
        "(start; end). Other work shared the machine during the run.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--per-host", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--reps", type=int, default=3)
    report.lab_main(parser, run, write, "A slow host", "slowbench-")


if __name__ == "__main__":
    main()
