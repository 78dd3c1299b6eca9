"""The HPA's collection cost inside the daemon: CPU time of one metrics period for 200 containers
on 10 hosts (the /proc source: parsing each host's /proc/PID/stat listing, summing process trees,
rates, pod sums, one decision per Deployment), as a share of one core at a 15 s period.

`python -m bench.hpa_metrics_bench` (synthetic listings, no hosts). `--real` also measures
`PodmanSSHExecutor.metrics` against the shared test hosts h1..h3 (SSH, the list call, the remote
command and the parse; run it under `flock /tmp/e2e.lock`): CPU of this process per call.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from reconciler.controllers import hpa, hpacalc
from reconciler.executor import hostmetrics, sshconn
from reconciler.model import autoscaling, base, hoststate, metrics

HOSTS, CONTAINERS, OTHER_PROCESSES, PERIOD = 10, 20, 300, 15.0


def listing(seed: int, tick: int) -> tuple[str, list[hostmetrics.Running]]:
    """One host's PROC_STATS output: OTHER_PROCESSES processes plus 20 containers of 3 each."""
    rng = random.Random(seed)
    lines = [sshconn.PROC_MARKER, "100", "4096", f"{1000.0 + tick * PERIOD} 0"]
    running = []
    pid = 2
    for _ in range(OTHER_PROCESSES):
        lines.append(f"{pid} (daemon x) S 1 1 1 0 -1 0 0 0 0 0 {rng.randint(0, 10**6)} 5 0 0 20 "
                     f"0 1 0 100 1000 {rng.randint(10, 10**4)} 0 0")  # fmt: skip
        pid += 1
    for c in range(CONTAINERS):
        root = pid
        for child in range(3):
            parent = 1 if child == 0 else root
            used = tick * rng.randint(0, 1500) + child
            lines.append(f"{pid} (sh) R {parent} 1 1 0 -1 0 0 0 0 0 {used} 3 0 0 20 0 1 0 100 "
                         f"1000 {rng.randint(100, 5000)} 0 0")  # fmt: skip
            pid += 1
        running.append(hostmetrics.Running("ns", f"web-{seed}-{c}", "app", f"id{seed}-{c}", root))
    return "\n".join(lines) + "\n", running


def one_period(
    texts: list[tuple[str, list[hostmetrics.Running]]], previous: dict[str, metrics.HostMetrics]
) -> dict[str, metrics.HostMetrics]:
    samples = {}
    rates: dict[metrics.ContainerKey, metrics.ContainerRate] = {}
    for index, (text, running) in enumerate(texts):
        host = f"h{index}"
        sample = hostmetrics.from_proc(host, hostmetrics.parse_proc(text), running)
        rates.update(metrics.rates(previous.get(host), sample))
        samples[host] = sample
    usage = metrics.pod_usage(rates)
    scaler = hpa.Autoscaler()
    target = autoscaling.HorizontalPodAutoscaler(base.ObjectMeta("web", "ns"), "Deployment",
                                                 "web", 400)  # fmt: skip
    pods = [hpacalc.PodSample(name, hoststate.PodPhase.RUNNING, True, 0.0, 0.0, 100, None, u, 1.0,
                              PERIOD) for (_ns, name), u in usage.items()]  # fmt: skip
    scaler.decide(target, len(pods), pods, 1.0)
    return samples


def synthetic(periods: int) -> float:
    """CPU seconds of one period (median of `periods`)."""
    costs = []
    previous: dict[str, metrics.HostMetrics] = {}
    for tick in range(periods + 1):
        texts = [listing(h, tick) for h in range(HOSTS)]
        started = time.process_time()
        previous = one_period(texts, previous)
        if tick:
            costs.append(time.process_time() - started)
    return sorted(costs)[len(costs) // 2]


def real(calls: int) -> float:
    """CPU seconds of this process per `executor.metrics` call on h1..h3 (after a warm-up)."""
    from reconciler.executor import podman_ssh  # noqa: PLC0415 - only with --real

    root = Path(__file__).resolve().parent.parent / ".hosts"
    targets = [hoststate.HostTarget(f"h{i}", f"198.18.0.1{i}", 22, f"rc-h{i}") for i in (1, 2, 3)]
    with podman_ssh.PodmanSSHExecutor(root / "known_hosts", root / "id_ed25519") as executor:
        executor.metrics(targets)
        started = time.process_time()
        for _ in range(calls):
            executor.metrics(targets)
        return (time.process_time() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--periods", type=int, default=21)
    parser.add_argument("--real", type=int, default=0, metavar="CALLS")
    args = parser.parse_args()
    cost = synthetic(args.periods)
    print(f"synthetic: {HOSTS} hosts x {CONTAINERS} containers (+{OTHER_PROCESSES} other "
          f"processes each): {cost * 1000:.1f} ms CPU per period = "
          f"{cost / PERIOD * 100:.3f}% of one core at {PERIOD:g} s")  # fmt: skip
    if args.real:
        per_call = real(args.real)
        print(f"real (3 hosts, SSH + list + /proc read): {per_call * 1000:.1f} ms CPU per call = "
              f"{per_call / PERIOD * 100:.3f}% of one core at {PERIOD:g} s; x10/3 for 10 hosts: "
              f"{per_call * 10 / 3 / PERIOD * 100:.3f}%")  # fmt: skip


if __name__ == "__main__":
    main()
