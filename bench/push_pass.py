"""The daemon's push sync for a small change, in process: its CPU and wall seconds per phase.

`python -m bench.push_pass [--fleet 190] [--small 10] [--hosts 10] [--reps 5]
[--observe-delay 0.3] [--json FILE]`. The real `runtime.daemon.Daemon` (as `bench.pass_profile`
builds it) around a local git repository and the in-memory `FakeExecutor`: Deployment `fleet`
and Deployment `small` (maxSurge 100%), settled; then each repetition commits a change of
`small`'s image only and times the one sync that change starts (the same sync
`bench.smallchange_bench` times on real hosts), then settles again. `--observe-delay`: each
host's observe waits that long (a stand-in for the network and Podman's answer, which the fake
has not). Run it with another tree's python to compare (`cd TREE && .venv/bin/python PATH`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import manifests
from bench import pass_profile as pp
from reconciler.controllers import manager
from reconciler.executor import fake as fake_executor
from reconciler.model import hoststate
from reconciler.state import conditions as cond

SURGE_ALL: manifests.Fields = {
    "type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0},
}  # fmt: skip
ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.org",
       "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.org"}  # fmt: skip


def files(hosts: int, fleet: int, small: int, image: str) -> dict[str, str]:
    out = {
        f"hosts/h{i:02d}.yaml": manifests.host_yaml(
            f"h{i:02d}", f"198.18.9.{i}", f"rc-h{i}", cpu="64", memory="256Gi"
        )
        for i in range(1, hosts + 1)
    }
    out["fleet/namespace.yaml"] = manifests.namespace_yaml("fleet")
    idle = manifests.container(pp.IMAGE, ["sleep", "36000"])
    out["fleet/fleet.yaml"] = manifests.deployment_yaml("fleet", "fleet", fleet, idle,
                                                        grace_seconds=1)  # fmt: skip
    out["fleet/small.yaml"] = manifests.deployment_yaml(
        "small", "fleet", small, manifests.container(image, ["sleep", "36000"]),
        grace_seconds=1, strategy=SURGE_ALL,
    )  # fmt: skip
    return out


class SlowExecutor(fake_executor.FakeExecutor):
    """The fake, each host's observe waiting `delay` seconds (hosts in parallel, as real)."""

    delay = 0.0

    def observe(
        self, targets: Any, *, detail: bool = False
    ) -> dict[str, hoststate.HostObservation]:
        time.sleep(self.delay)
        return super().observe(targets, detail=detail)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    logging.basicConfig(level=logging.ERROR)
    walls: dict[str, list[float]] = defaultdict(list)
    cpus: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="push-pass-") as tmp:
        root = Path(tmp)
        repo = pp.make_repo(root, files(args.hosts, args.fleet, args.small, pp.IMAGE))
        executor = SlowExecutor([f"h{i:02d}" for i in range(1, args.hosts + 1)])
        daemon = pp.make_daemon(root, repo, executor)
        try:
            pp.converge_fully(daemon)
            executor.delay = args.observe_delay
            for rep in range(args.reps):
                image = pp.IMAGE.replace(":latest", f":v{rep}")
                text = files(args.hosts, args.fleet, args.small, image)["fleet/small.yaml"]
                (repo / "fleet" / "small.yaml").write_text(text)
                subprocess.run(["git", "-C", str(repo), "commit", "-qam", f"small {rep}"],
                               check=True, env=ENV)  # fmt: skip
                timer = pp.Timer()
                undo = pp.instrument(timer, daemon)
                wall, cpu = time.perf_counter(), time.process_time()
                daemon.reconciler.run([str(cond.Trigger.PUSH)])
                walls["whole sync"].append(time.perf_counter() - wall)
                cpus["whole sync"].append(time.process_time() - cpu)
                undo()
                for name, value in timer.wall.items():
                    walls[name].append(value)
                    cpus[name].append(timer.cpu[name])
                last = daemon.store.last_finished_sync()
                assert last is not None and last.counts.get("create") == args.small, last
                pp.converge_fully(daemon)
        finally:
            manager.stop(daemon.reconciler.controllers)
            daemon.store.close()
    return {
        name: {"wall": statistics.median(values), "cpu": statistics.median(cpus[name])}
        for name, values in walls.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--fleet", type=int, default=190)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--observe-delay", type=float, default=0.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    result = measure(args)
    print(f"push sync, {args.hosts} hosts, {args.fleet} + {args.small} pods, median of "
          f"{args.reps}, observe delay {args.observe_delay:g} s:")  # fmt: skip
    print(f"{'phase':44s} {'wall ms':>9s} {'cpu ms':>9s}")
    for name, v in sorted(result.items(), key=lambda kv: -kv[1]["wall"]):
        print(f"{name:44s} {v['wall'] * 1000:9.1f} {v['cpu'] * 1000:9.1f}")
    print(f"load average before/after: {' '.join(f'{x:.2f}' for x in load)} / "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
