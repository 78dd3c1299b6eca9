"""What the daemon's host-health checks cost at rest: two source trees of the daemon (before and
after a change) side by side on one lab, interleaved, so their ratio is of the same run.

Run as root, holding /tmp/e2e.lock: `python -m bench.hostcheck_bench --before DIR [--after DIR]
[--hosts 30] [--pods-per-host 0] [--window 60] [--rounds 2]`. DIR is a checkout (e.g. `git
archive REV | tar -x -C DIR`, with `.venv` linked in); the daemon runs from it
(`python -m reconciler daemon` with DIR as its working directory). Builds its own lab (bridge
thbr11, 198.18.11.x, users rchc11-hN, netns hc11-hN) and git server (user rchc11-git, port
2231), removes all of it at the end; prints JSON and a summary, writes nothing.

Per round and tree: a fresh daemon (own state dir) on the same repository (the Hosts, and
`--pods-per-host` idle pods of one Deployment, made by the first daemon and adopted by the
others); once its first sync is applied and 10 s more have passed, over `--window` seconds:
its own CPU (utime+stime) and VmRSS, the CPU of every process of the lab's host users (their
Podman services, which answer the checks), and the host conditions its log reports.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import manifests, podwatch
from tests.harness import gitserver, proc
from tests.harness import lab as labmod

REPO = Path(__file__).resolve().parents[1]
NS = "hcbench"
TICKS = os.sysconf("SC_CLK_TCK")
SETTLE = 10.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> float:
    return os.getloadavg()[0]


def cpu_of(pid: int) -> float:
    """utime+stime seconds of one process (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_of_users(uids: set[int]) -> dict[int, float]:
    """pid -> utime+stime seconds of every process owned by one of `uids`."""
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid in uids:
                found[int(entry.name)] = cpu_of(int(entry.name))
        except OSError:
            continue
    return found


def status_of(pid: int) -> tuple[int, int]:
    """(VmRSS bytes, threads) of a process."""
    got = {"VmRSS": 0, "Threads": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in got:
            got[key] = int(line.split()[1]) * (1024 if key == "VmRSS" else 1)
    return got["VmRSS"], got["Threads"]


def get_status(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as answer:
            found = json.loads(answer.read())
            return found if isinstance(found, dict) else None
    except (OSError, ValueError):
        return None


def applied(port: int, sha: str) -> bool:
    status = get_status(port) or {}
    last = status.get("lastFinishedSync") or {}
    return bool(last.get("revision") == sha and last.get("result") == "Succeeded")


def conditions(log_file: Path, offset: int) -> dict[str, int]:
    """Host condition changes the daemon logged from byte `offset` of its log on."""
    counts = {"Unknown": 0, "NotReady": 0, "Ready": 0}
    with log_file.open("rb") as text:
        text.seek(offset)
        lines = text.read().decode(errors="replace").splitlines()
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = str(entry.get("message", ""))
        for word, key in (("(HostNotResponding)", "Unknown"), ("(HostLost)", "NotReady"),
                          ("(HostReady)", "Ready")):  # fmt: skip
            if word in message:
                counts[key] += 1
    return counts


def measure(tree: Path, config: Path, port: int, sha: str, uids: set[int], window: float,
            out_dir: Path, label: str) -> dict[str, Any]:  # fmt: skip
    log_file = out_dir / f"daemon-{label}.log"
    env = {**os.environ, "RECONCILER_CONFIG": "/dev/null"}
    with log_file.open("ab") as sink:
        process = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "python"), "-m", "reconciler", "daemon", "--config",
             str(config), "--log-format", "json"],
            cwd=tree, stdout=sink, stderr=sink, env=env,
        )  # fmt: skip
    try:
        started = time.monotonic()
        proc.wait_for(lambda: applied(port, sha), f"{label}: first sync applied", 600, 0.5)
        first_sync = time.monotonic() - started
        time.sleep(SETTLE)
        offset = log_file.stat().st_size
        users0, cpu0, t0 = cpu_of_users(uids), cpu_of(process.pid), time.monotonic()
        loads, rss_max = [loadavg()], 0
        while time.monotonic() - t0 < window:
            time.sleep(1.0)
            loads.append(loadavg())
            rss_max = max(rss_max, status_of(process.pid)[0])
        users1, cpu1, t1 = cpu_of_users(uids), cpu_of(process.pid), time.monotonic()
        rss, threads = status_of(process.pid)
        minutes = (t1 - t0) / 60
        hosts_cpu = sum(users1[p] - users0[p] for p in users1 if p in users0)
        return {
            "tree": str(tree), "first_sync_s": first_sync,
            "daemon_cpu_per_min": (cpu1 - cpu0) / minutes,
            "hosts_cpu_per_min": hosts_cpu / minutes,
            "rss": rss, "rss_max": max(rss_max, rss), "threads": threads,
            "load": statistics.mean(loads), "conditions": conditions(log_file, offset),
        }  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    lab = labmod.Lab(labmod.LabConfig(name="hcbench", state_dir=tmp / "lab", bridge="thbr11",
                                      subnet=11, netns_prefix="hc11-",
                                      user_prefix="rchc11-"))  # fmt: skip
    server = None
    results: dict[str, Any] = {"hosts": args.hosts, "pods_per_host": args.pods_per_host,
                               "window": args.window, "runs": []}  # fmt: skip
    try:
        log(f"lab up {args.hosts} (load {loadavg():.1f})")
        started = time.monotonic()
        hosts = lab.up(args.hosts)
        results["lab_up_s"] = time.monotonic() - started
        uids = {pwd.getpwnam(h.user).pw_uid for h in hosts}
        server = gitserver.start(tmp / "git", lab.config.gateway, user="rchc11-git", port=2231)
        work = gitserver.WorkTree(tmp / "work", server, author="bench")
        for host in hosts:
            work.write(f"hosts/{host.name}.yaml", manifests.host_yaml(
                host.name, host.address, host.user, cpu="16", memory="32Gi"))  # fmt: skip
        work.write(f"{NS}/namespace.yaml", manifests.namespace_yaml(NS))
        main = manifests.container(lab.config.image, ["sleep", "36000"])
        work.write(f"{NS}/idle.yaml", manifests.deployment_yaml(
            "idle", NS, args.hosts * args.pods_per_host, main, grace_seconds=1))  # fmt: skip
        sha = work.commit_and_push("hosts and idle pods")
        trees = [("before", args.before), ("after", args.after)]
        for rnd in range(args.rounds):
            for label, tree in trees:
                port = proc.free_port()
                config = tmp / f"config-{label}-{rnd}.yaml"
                config.write_text(
                    f"repository: {server.repository}\nbranch: main\n"
                    f"state_dir: {tmp / f'state-{label}-{rnd}'}\nresync_interval: 10\n"
                    f"ssh_key: {lab.config.key_file}\nknown_hosts: {lab.config.known_hosts}\n"
                    f"listen: 127.0.0.1:{port}\nconnect_timeout: 10\nhost_grace_seconds: 10\n"
                )
                found = measure(tree, config, port, sha, uids, args.window, tmp, f"{label}-{rnd}")
                found.update(label=label, round=rnd)
                results["runs"].append(found)
                log(f"{label} round {rnd}: {found}")
        return results
    finally:
        if server is not None:
            gitserver.stop(server)
        podwatch.clear(lab.hosts())
        lab.down()


def summary(results: dict[str, Any]) -> str:
    def median(label: str, key: str) -> float:
        return float(statistics.median(r[key] for r in results["runs"] if r["label"] == label))

    lines = [f"{results['hosts']} hosts x {results['pods_per_host']} pods, "
             f"{results['window']:g} s windows"]  # fmt: skip
    for key in ("daemon_cpu_per_min", "hosts_cpu_per_min", "rss", "threads", "load"):
        before, after = median("before", key), median("after", key)
        lines.append(f"{key}: before {before:.2f}, after {after:.2f}, "
                     f"after/before {after / before if before else float('nan'):.2f}")  # fmt: skip
    for r in results["runs"]:
        lines.append(f"{r['label']} round {r['round']}: conditions {r['conditions']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=REPO)
    parser.add_argument("--hosts", type=int, default=30)
    parser.add_argument("--pods-per-host", type=int, default=0)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hcbench-") as tmp:
        os.chmod(tmp, 0o755)
        results = run(args, Path(tmp))
    print(json.dumps(results, indent=1, default=str))
    print(summary(results))


if __name__ == "__main__":
    main()
