"""Rolling update by `reconciler apply` against its ideal measured with plain podman (issue 10).

Part of `python -m bench.controllers_bench` (which builds the lab). A Deployment of 10 busybox
httpd replicas (RollingUpdate maxSurge 25% = 3, maxUnavailable 0, readinessProbe httpGet every
1 s on a containerPort without hostPort) on 3 hosts; each repetition changes its template (an env
var) and times the whole `reconciler apply` process until it exits 0 (rollout complete). Its
progress lines give the waves it took and when each started.

Ideal, same repetition: waves x (container start + first successful probe), waves = ceil(10 /
surge) = 4; "container start + first successful probe" is `podman run -d -p 127.0.0.1:P:8080` of
the same container over an open SSH connection, then an HTTP GET on the host's 127.0.0.1:P through
that connection (the prober's path) every 20 ms until it answers 200; median of the samples.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncssh

from bench import manifests
from tests.harness import hostsetup
from tests.harness import lab as labmod

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "ctl-rollout"
NAME = "web"
REPLICAS = 10
SURGE = "25%"
HTTPD = ["httpd", "-f", "-p", "8080", "-h", "/www"]
PATH = "/index.html"  # in the lab's image
IDEAL_PORT = 42000  # host loopback ports of the ideal's containers (outside the probe range)
POLL = 0.02
TARGET = 1.2
ACTION = re.compile(r"^\[(\d+)/(\d+)\] (\S+): (create|replace|delete|restart) ")
ROLLOUT = re.compile(r"^deployment \S+: (\d+) of (\d+) updated, (\d+) available")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def surge_of(replicas: int) -> int:
    """maxSurge 25% rounded up, as Kubernetes does."""
    return math.ceil(replicas * 25 / 100)


def deployment_yaml(image: str, version: str, replicas: int = REPLICAS) -> str:
    main = manifests.container(
        image,
        HTTPD,
        name="httpd",
        ports=[{"name": "http", "containerPort": 8080}],
        env={"VERSION": version},
    )
    probe: manifests.Fields = {"httpGet": {"path": PATH, "port": 8080}, "periodSeconds": 1}
    document: manifests.Fields = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": 120,
            "selector": {"matchLabels": {"app": NAME}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": manifests.Quoted(SURGE), "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": {"app": NAME}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{**main, "readinessProbe": probe}],
                },
            },
        },
    }
    return manifests.render(document)


def write_repo(path: Path, hosts: Sequence[hostsetup.Host], image: str, version: str) -> None:
    (path / "hosts").mkdir(parents=True, exist_ok=True)
    for host in hosts:
        text = manifests.host_yaml(host.name, host.address, host.user, cpu="16", memory="32Gi")
        (path / "hosts" / f"{host.name}.yaml").write_text(text)
    text = manifests.namespace_yaml(NAMESPACE) + "---\n" + deployment_yaml(image, version)
    (path / "app.yaml").write_text(text)


# ----- the product: `reconciler apply`, line by line -------------------------------------------


def apply(lab: labmod.Lab, repo: Path) -> dict[str, Any]:
    """Run `reconciler apply` to its end; its wall time, waves and progress lines."""
    env = {
        **os.environ,
        "RECONCILER_SSH_KEY": str(lab.config.key_file),
        "RECONCILER_KNOWN_HOSTS": str(lab.config.known_hosts),
        "RECONCILER_CONFIG": "/dev/null",
    }
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", str(repo)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert child.stdout is not None
    lines = [(time.monotonic() - started, line.rstrip("\n")) for line in child.stdout]
    code = child.wait()
    seconds = time.monotonic() - started
    if code != 0:
        raise RuntimeError(f"apply exited {code}:\n" + "\n".join(t for _, t in lines[-40:]))
    return {"seconds": seconds, "lines": lines, **waves_of(lines)}


def waves_of(lines: Sequence[tuple[float, str]]) -> dict[str, Any]:
    """From apply's output: the plans it carried out (each starts at `[1/N]`), the waves (plans
    that created pods), the time each wave's first action finished, and the passes that only
    waited (a rollout progress line without actions before it)."""
    plans: list[dict[str, Any]] = []
    waits = 0
    acted = False
    for at, text in lines:
        action = ACTION.match(text)
        if action:
            if action.group(1) == "1":
                plans.append({"at": at, "create": 0, "delete": 0})
            kind = action.group(4)
            if kind in ("create", "delete"):
                plans[-1][kind] += 1
            acted = True
        elif ROLLOUT.match(text):
            waits += 0 if acted else 1
            acted = False
    waves = [p for p in plans if p["create"]]
    return {
        "plans": plans,
        "waves": len(waves),
        "wave_at": [p["at"] for p in waves],
        "waiting_passes": waits,
    }


# ----- the ideal: podman run + first answered GET, over an open connection ----------------------


async def http_ok(conn: asyncssh.SSHClientConnection, port: int) -> bool:
    """GET PATH on the host's 127.0.0.1:`port` through the SSH connection answers 200."""
    try:
        reader, writer = await conn.open_connection("127.0.0.1", port)
    except (OSError, asyncssh.Error):
        return False
    try:
        writer.write(f"GET {PATH} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        line = await asyncio.wait_for(reader.readline(), 1.0)
        return bool(re.match(rb"HTTP/1\.[01] 200 ", line))
    except (OSError, asyncssh.Error, TimeoutError):
        return False
    finally:
        writer.close()


async def start_and_probe(
    conn: asyncssh.SSHClientConnection, image: str, name: str, port: int
) -> float:
    """Seconds from `podman run -d` issued to the first 200 (the container is removed after)."""
    argv = ["podman", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", image, *HTTPD]
    started = time.monotonic()
    await conn.run(shlex.join(argv), check=True)
    while not await http_ok(conn, port):
        if time.monotonic() - started > 30:
            raise TimeoutError(f"{name} never answered on 127.0.0.1:{port}")
        await asyncio.sleep(POLL)
    seconds = time.monotonic() - started
    await conn.run(shlex.join(["podman", "rm", "-f", "-t", "0", name]), check=True)
    return seconds


async def ideal_samples(
    lab: labmod.Lab, hosts: Sequence[hostsetup.Host], count: int, rep: int
) -> list[float]:
    """`count` samples, the hosts in turn, one at a time."""
    cfg = lab.config
    conns = [
        await asyncssh.connect(
            h.address,
            username=h.user,
            client_keys=[str(cfg.key_file)],
            known_hosts=str(cfg.known_hosts),
            connect_timeout=20,
        )
        for h in hosts
    ]
    try:
        return [
            await start_and_probe(
                conns[i % len(conns)], cfg.image, f"ideal-{rep}-{i}", IDEAL_PORT + i
            )
            for i in range(count)
        ]
    finally:
        for conn in conns:
            conn.close()


# ----- the run ---------------------------------------------------------------------------------


def remove_pods(lab: labmod.Lab, hosts: Sequence[hostsetup.Host]) -> None:
    for host in hosts:
        lab.ssh(
            host,
            "sh",
            "-c",
            "podman pod rm -af -t 0 >/dev/null; podman rm -af -t 0 >/dev/null",
            timeout=300,
        )


def run(lab: labmod.Lab, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    hosts = lab.hosts()[:3]
    repo = tmp / "rollout-repo"
    image = lab.config.image
    remove_pods(lab, hosts)
    write_repo(repo, hosts, image, "v0")
    first = apply(lab, repo)
    log(f"rollout: first deploy of {REPLICAS} pods in {first['seconds']:.1f}s")
    reps: list[dict[str, Any]] = []
    for rep in range(1, args.reps + 1):
        ideal_first = rep % 2 == 0  # alternate the order
        ideal: list[float] = []
        if ideal_first:
            ideal = asyncio.run(ideal_samples(lab, hosts, args.ideal_samples, rep))
        write_repo(repo, hosts, image, f"v{rep}")
        product = apply(lab, repo)
        if not ideal_first:
            ideal = asyncio.run(ideal_samples(lab, hosts, args.ideal_samples, rep))
        product["ideal"] = ideal
        product["load"] = os.getloadavg()[0]
        reps.append(product)
        log(
            f"rollout rep {rep}: apply {product['seconds']:.1f}s, {product['waves']} waves at "
            f"{', '.join(f'{t:.1f}' for t in product['wave_at'])}s; ideal per wave "
            f"{statistics.median(ideal):.2f}s ({', '.join(f'{x:.2f}' for x in ideal)})"
        )
    remove_pods(lab, hosts)
    return {"first": first["seconds"], "reps": reps, "surge": surge_of(REPLICAS)}


# ----- the section -----------------------------------------------------------------------------


def render(r: dict[str, Any], machine: str) -> str:
    reps: list[dict[str, Any]] = r["reps"]
    surge: int = r["surge"]
    nominal = math.ceil(REPLICAS / surge)
    per_wave = [statistics.median(p["ideal"]) for p in reps]
    ideal = [nominal * w for w in per_wave]
    product = [p["seconds"] for p in reps]
    ratios = [a / b for a, b in zip(product, ideal, strict=True)]
    med_p, med_i, med_w = (statistics.median(x) for x in (product, ideal, per_wave))
    waves = [p["waves"] for p in reps]
    gaps = [b - a for p in reps for a, b in zip(p["wave_at"], p["wave_at"][1:], strict=False)]
    tail = [p["seconds"] - p["wave_at"][-1] for p in reps if p["wave_at"]]
    samples = ", ".join(f"{x:.2f}" for p in reps for x in p["ideal"])
    ok = med_p / med_i <= TARGET
    loads = ", ".join(f"{p['load']:.1f}" for p in reps)
    lines = [
        "`python -m bench.controllers_bench --only rollout` (root): 3 hosts of the benchmark's "
        "own lab (bridge thbr5; rootless Podman 4.3 behind sshd in network namespaces on this "
        f"machine). A Deployment of {REPLICAS} busybox `httpd` replicas, RollingUpdate maxSurge "
        f"{SURGE} ({surge} pods) and maxUnavailable 0, readinessProbe httpGet `{PATH}` every 1 s "
        "on containerPort 8080 without hostPort (probed on a loopback port of the host). Each "
        "repetition changes the template (an env var) and times the whole `reconciler apply` "
        "process until it exits 0 with the rollout complete.",
        "",
        f"Ideal, same repetition: {nominal} waves (ceil({REPLICAS} / {surge})) x (container "
        "start + first successful probe), the latter measured as `podman run -d -p "
        "127.0.0.1:P:8080` of the same container over an open SSH connection, then an HTTP GET "
        "on the host's 127.0.0.1:P through that connection (the prober's path) every 20 ms until "
        f"it answers 200; median of {len(reps[0]['ideal'])} samples per repetition, the hosts in "
        f"turn. Medians of {len(reps)} repetitions (the order of product and ideal alternates).",
        "",
        "| what | median | all runs | ratio to ideal |",
        "|---|---:|---|---:|",
        f"| ideal per wave: `podman run -d` + first 200 | {med_w:.2f} s | {samples} | |",
        f"| baseline: ideal rollout ({nominal} waves) | {med_i:.2f} s | "
        f"{', '.join(f'{x:.2f}' for x in ideal)} | 1.00x |",
        f"| **`reconciler apply`, rolling update** | {med_p:.2f} s | "
        f"{', '.join(f'{x:.2f}' for x in product)} | {med_p / med_i:.2f}x |",
        "",
        f"Target ≤ {TARGET}x: {'met' if ok else '**NOT met**'} ({med_p / med_i:.2f}x; per "
        f"repetition {', '.join(f'{x:.2f}x' for x in ratios)}). Waves taken (plans that created "
        f"pods, from apply's progress lines): {', '.join(map(str, waves))}; time from one wave's "
        f"first finished action to the next: median {statistics.median(gaps):.2f} s "
        f"({min(gaps):.2f} to {max(gaps):.2f}) against {med_w:.2f} s ideal; from the last wave to "
        f"the exit: median {statistics.median(tail):.2f} s. Passes that only waited (a progress "
        f"line with no action): {', '.join(str(p['waiting_passes']) for p in reps)}.",
        "",
        f"Machine: {machine}; 1-min load after each repetition {loads}.",
    ]
    return "\n".join(lines)
