"""Services (issue 11), benchmarked against baselines measured in the same run.

Run as root: `python -m bench.services_bench [--requests 4000] [--concurrency 8] [--reps 3]`
(about 3 minutes). Builds its own lab of 3 hosts (bridge thbr6, 198.18.6.x, users rcs6-hN, netns
s6-hN; never the shared h1..h3), applies a Deployment of 3 busybox httpd pods (each page names
its pod) behind a Service on port 28000, and measures:

1. Through the Service vs straight to a pod: the same load generator (`ab` from Debian's
   apache2-utils, fresh connection per request, `-c` in flight) against host 1's Service port
   and against one pod's published host port. Reported: throughput ratio (target >= 0.8x
   direct) and added p99 latency (target <= 1 ms), from `ab -e`'s percentile table.
2. Pod Ready ▶ in rotation on every host: the Deployment is scaled 3 -> 4 by `reconciler apply`;
   a watcher polls the new pod's own port (Ready = its page answers) and each host's Service
   port (in rotation = an answer names the new pod), 50 times a second. Target <= 1 s.
The section "Services" of bench/README.md is rewritten with the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import manifests, report
from tests.harness import hostsetup, loadgen
from tests.harness import lab as labmod

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "svc-bench"
PORT = 28000  # port name http: balanced per request (HAProxy mode http)
TCP_PORT = 28001  # the same pods, balanced per connection (mode tcp)
SERVE = (
    "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"
)
POLL = 0.02
TITLE = "Services"
ANALYSIS = Path(__file__).resolve().parent / "services_analysis.md"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def lab_config(state_dir: Path) -> labmod.LabConfig:
    return labmod.LabConfig(name="bench-svc", state_dir=state_dir, bridge="thbr6", subnet=6,
                            netns_prefix="s6-", user_prefix="rcs6-")  # fmt: skip


def app_yaml(image: str, replicas: int) -> str:
    main = dict(manifests.container(image, ["sh", "-c", SERVE], name="httpd",
                                    ports=[{"name": "http", "containerPort": 8080}]))  # fmt: skip
    main["readinessProbe"] = {"httpGet": {"path": "/index.html", "port": "http"},
                              "periodSeconds": 1}  # fmt: skip
    deployment: manifests.Fields = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "echo", "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "echo"}},
            "template": {"metadata": {"labels": {"app": "echo"}},
                         "spec": {"terminationGracePeriodSeconds": 1, "containers": [main]}},
        },
    }  # fmt: skip
    service: manifests.Fields = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "echo", "namespace": NAMESPACE},
        "spec": {"selector": {"app": "echo"},
                 "ports": [{"name": "http", "port": PORT, "targetPort": "http"},
                           {"name": "tcp", "port": TCP_PORT, "targetPort": "http"}]},
    }  # fmt: skip
    return "---\n".join([manifests.namespace_yaml(NAMESPACE), manifests.render(deployment),
                         manifests.render(service)])  # fmt: skip


def write_repo(path: Path, hosts: Sequence[hostsetup.Host], image: str, replicas: int) -> None:
    (path / "hosts").mkdir(parents=True, exist_ok=True)
    for host in hosts:
        text = manifests.host_yaml(host.name, host.address, host.user, cpu="16", memory="32Gi")
        (path / "hosts" / f"{host.name}.yaml").write_text(text)
    (path / "app.yaml").write_text(app_yaml(image, replicas))


def apply(lab: labmod.Lab, repo: Path) -> float:
    env = {**os.environ, "RECONCILER_SSH_KEY": str(lab.config.key_file),
           "RECONCILER_KNOWN_HOSTS": str(lab.config.known_hosts),
           "RECONCILER_CONFIG": "/dev/null"}  # fmt: skip
    started = time.monotonic()
    command = [sys.executable, "-m", "reconciler", "apply", "-q", "--allow-mass-prune", str(repo)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"apply exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return time.monotonic() - started


def pods(lab: labmod.Lab) -> dict[str, tuple[str, int]]:
    """Pod name -> (host address, published host port of 8080), from each host's Podman."""
    found: dict[str, tuple[str, int]] = {}
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "pod", "ps", "--format", "json", "--filter",
                         f"label=reconciler.dev/namespace={NAMESPACE}")  # fmt: skip
        for pod in json.loads(listed.stdout or "[]"):
            labels = pod["Labels"]
            label = labels.get("reconciler.dev/pod-ports", "")
            ports = dict(item.split("=") for item in label.split(",") if "=" in item)
            if "8080" in ports:
                found[labels["reconciler.dev/name"]] = (host.address, int(ports["8080"]))
    return found


def ab(url: str, requests: int, concurrency: int, tmp: Path) -> dict[str, float]:
    """`ab` against `url`: requests/s and the p50/p99 latency in ms (from its -e table)."""
    table = tmp / "ab.csv"
    command = ["ab", "-q", "-n", str(requests), "-c", str(concurrency), "-e", str(table), url]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ab {url}: {done.stderr.strip()}")
    failed = re.search(r"Failed requests:\s+(\d+)", done.stdout)
    rps = re.search(r"Requests per second:\s+([\d.]+)", done.stdout)
    assert rps is not None and failed is not None, done.stdout
    with table.open() as fh:
        rows = {int(float(r[0])): float(r[1]) for r in csv.reader(fh) if r[0][0].isdigit()}
    return {"rps": float(rps.group(1)), "p50": rows[50], "p99": rows[99],
            "failed": float(failed.group(1))}  # fmt: skip


def throughput(lab: labmod.Lab, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    address, port = sorted(pods(lab).values())[0]
    service = lab.hosts()[0].address
    reps: list[dict[str, Any]] = []
    for rep in range(args.reps):
        direct = ab(f"http://{address}:{port}/index.html", args.requests, args.concurrency, tmp)
        through = ab(f"http://{service}:{PORT}/index.html", args.requests, args.concurrency, tmp)
        tcp = ab(f"http://{service}:{TCP_PORT}/index.html", args.requests, args.concurrency, tmp)
        reps.append({"direct": direct, "service": through, "tcp": tcp})
        log(f"rep {rep + 1}: direct {direct['rps']:.0f}/s p99 {direct['p99']:.1f} ms; "
            f"http {through['rps']:.0f}/s p99 {through['p99']:.1f} ms; "
            f"tcp {tcp['rps']:.0f}/s p99 {tcp['p99']:.1f} ms")  # fmt: skip
    out: dict[str, Any] = {"reps": reps}
    for mode in ("service", "tcp"):
        out[f"{mode}_ratio"] = statistics.median(r[mode]["rps"] / r["direct"]["rps"] for r in reps)
        out[f"{mode}_added_p99_ms"] = statistics.median(r[mode]["p99"] - r["direct"]["p99"]
                                                        for r in reps)  # fmt: skip
    return out


def rotation(lab: labmod.Lab, repo: Path, image: str) -> dict[str, Any]:
    """Scale 3 -> 4; seconds from the new pod Ready to it answering through every host."""
    before = set(pods(lab))
    write_repo(repo, lab.hosts(), image, 4)
    ready_at: list[float] = []
    seen: dict[str, float] = {}
    stop = threading.Event()

    def watch() -> None:
        new: tuple[str, tuple[str, int]] | None = None
        while not stop.is_set() and len(seen) < len(lab.hosts()):
            if new is None:
                fresh = {k: v for k, v in pods(lab).items() if k not in before}
                new = next(iter(fresh.items()), None)
            elif not ready_at and loadgen.get(*new[1], "/index.html", timeout=1).ok:
                ready_at.append(time.monotonic())
            for host in lab.hosts():
                if host.address not in seen and new is not None:
                    reply = loadgen.get(host.address, PORT, "/index.html", timeout=1)
                    if reply.ok and reply.body.strip() == new[0]:
                        seen[host.address] = time.monotonic()
            time.sleep(POLL)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    apply(lab, repo)
    watcher.join(timeout=30)
    stop.set()
    if not ready_at or len(seen) < len(lab.hosts()):
        raise RuntimeError(f"the new pod never went into rotation everywhere: {seen}")
    last = max(seen.values())
    return {"ready_to_rotation_s": max(0.0, last - ready_at[0]),
            "per_host_s": {a: max(0.0, t - ready_at[0]) for a, t in seen.items()}}  # fmt: skip


def render(results: dict[str, Any]) -> str:
    t, r = results["throughput"], results["rotation"]

    def med(mode: str, key: str) -> float:
        return float(statistics.median(x[mode][key] for x in t["reps"]))

    rows = [
        f"| throughput, {label} | {med('direct', 'rps'):.0f} req/s straight to one pod | "
        f"{med(mode, 'rps'):.0f} req/s via host 1's HAProxy | "
        f"{t[mode + '_ratio']:.2f}x | >= 0.8x |\n"
        f"| p99 latency, {label} | {med('direct', 'p99'):.1f} ms | {med(mode, 'p99'):.1f} ms | "
        f"{t[mode + '_added_p99_ms']:+.1f} ms | <= +1 ms |"
        for mode, label in (("service", "HTTP port (per request)"),
                            ("tcp", "TCP port (per connection)"))
    ]  # fmt: skip
    return f"""\
`python -m bench.services_bench` ({report.machine()}; {len(t["reps"])} repetitions, medians;
{results["requests"]} requests at concurrency {results["concurrency"]} per run of `ab`, a new
connection per request; the Service balances over 3 pods on 3 hosts, the baseline is one pod).

| measure | baseline (same run) | through the Service | result | target |
|---|---|---|---|---|
{chr(10).join(rows)}
| Pod Ready ▶ in rotation on every host | (its own port answering) | \
{r["ready_to_rotation_s"]:.2f} s | | <= 1 s |
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        lab = labmod.Lab(lab_config(tmp / "lab"))
        try:
            lab.up(3)
            repo = tmp / "repo"
            write_repo(repo, lab.hosts(), lab.config.image, 3)
            log(f"first apply: {apply(lab, repo):.1f}s")
            results = {"requests": args.requests, "concurrency": args.concurrency,
                       "throughput": throughput(lab, args, tmp),
                       "rotation": rotation(lab, repo, lab.config.image)}  # fmt: skip
        finally:
            lab.down()
    body = render(results)
    if ANALYSIS.exists():  # the hand-written reading of a run
        body += "\n" + ANALYSIS.read_text().strip() + "\n"
    print(body)
    if not args.no_write:
        report.write_section(TITLE, body)


if __name__ == "__main__":
    main()
