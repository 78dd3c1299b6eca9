"""The daemon's no-op reconcile pass, in process: where its time goes at 50 hosts x 500 pods.

`python -m bench.pass_profile [--hosts 50] [--deployments 25] [--pods 500] [--services 10]
[--passes 10] [--profile 25]`. Builds the real `runtime.daemon.Daemon` (its controllers, host
monitor, state store, metrics, dashboard snapshot) around a local git repository (a real
`LocalRepoSource`) and the in-memory `FakeExecutor`, applies the generated repository until a
pass changes nothing, then times N no-op resyncs per phase (wall and process CPU) and, with
`--profile`, prints cProfile's top functions by their own time. No hosts, no SSH: the observe
phase here is the fake's copy of the pods, not a network read.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import json
import logging
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

from bench import manifests
from reconciler.controllers import manager, sync
from reconciler.executor import fake as fake_executor
from reconciler.manifests import loader
from reconciler.runtime import config as configmod
from reconciler.runtime import daemon as daemonmod
from reconciler.source import git
from reconciler.state import conditions as cond
from reconciler.state import store as storemod

NAMESPACE = "fleet"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
F = TypeVar("F", bound=Callable[..., Any])


class Timer:
    """Wall and process-CPU seconds per phase name, summed over one pass (nesting allowed)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self._local = threading.local()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # only the reconcile's own thread is timed
            return
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] += time.perf_counter() - wall
            self.cpu[name] += time.process_time() - cpu

    def wrap(self, name: str, fn: F) -> F:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return fn(*args, **kwargs)

        return cast(F, timed)

    def reset(self) -> None:
        self.wall.clear()
        self.cpu.clear()


def repository_files(hosts: int, deployments: int, pods: int, services: int) -> dict[str, str]:
    """Hosts h01.., one Namespace, `deployments` Deployments sharing `pods` replicas, a Service
    in front of each of the first `services`, a ConfigMap their pods read, one pinned HPA."""
    files = {
        f"hosts/h{i:02d}.yaml": manifests.host_yaml(
            f"h{i:02d}", f"198.18.9.{i}", f"rc-h{i}", cpu="64", memory="256Gi"
        )
        for i in range(1, hosts + 1)
    }
    files[f"{NAMESPACE}/namespace.yaml"] = manifests.namespace_yaml(NAMESPACE)
    files[f"{NAMESPACE}/settings.yaml"] = (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {NAMESPACE}\n"
        "data:\n  LOG_LEVEL: info\n"
    )
    base, extra = divmod(pods, deployments)
    for d in range(deployments):
        name = f"app{d:02d}"
        replicas = base + (1 if d < extra else 0)
        env = {"LOG_LEVEL": {"configMapKeyRef": {"name": "settings", "key": "LOG_LEVEL"}}}
        ports: list[manifests.Fields] = (
            [{"containerPort": 8080, "name": "http"}] if d < services else []
        )
        main = manifests.container(IMAGE, ["sleep", "36000"], env=env, ports=ports)
        files[f"{NAMESPACE}/{name}.yaml"] = manifests.deployment_yaml(
            name, NAMESPACE, replicas, main, grace_seconds=1
        )
        if d < services:
            files[f"{NAMESPACE}/{name}-svc.yaml"] = (
                f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n"
                f"  namespace: {NAMESPACE}\nspec:\n  selector:\n    app: {name}\n"
                f"  ports:\n    - port: {9000 + d}\n      targetPort: http\n"
            )
        if d == 0:
            files[f"{NAMESPACE}/{name}-hpa.yaml"] = (
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"
                f"metadata: {{name: {name}, namespace: {NAMESPACE}}}\nspec:\n"
                f"  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: {name}}}\n"
                f"  minReplicas: {replicas}\n  maxReplicas: {replicas}\n  metrics:\n"
                "    - type: Resource\n"
                "      resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n"
            )
    return files


def make_repo(root: Path, files: dict[str, str]) -> Path:
    repo = root / "repo"
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.org",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.org"}  # fmt: skip
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "fleet"]):
        subprocess.run(["git", "-C", str(repo), *argv], check=True, env=env)
    return repo


def make_daemon(root: Path, repo: Path, executor: fake_executor.FakeExecutor) -> daemonmod.Daemon:
    state = root / "state"
    cfg = configmod.DaemonConfig(
        repository=str(repo), branch="main", state_dir=state, resync_interval=10.0,
        poll_interval=5.0, git_timeout=30.0, ssh_key=root / "key", known_hosts=root / "kh",
        connect_timeout=10.0, command_timeout=30.0, listen="127.0.0.1:0",
        webhook_secret_file=None,
    )  # fmt: skip
    source = git.make_source(str(repo), "main", state, 30.0)
    store = storemod.Store(storemod.path_in(state))
    return daemonmod.Daemon(cfg, executor, source, store)


def instrument(timer: Timer, daemon: daemonmod.Daemon) -> Callable[[], None]:
    """Wrap every phase of `Reconciler.run`; returns the undo."""
    undo: list[Callable[[], None]] = []

    def patch(owner: Any, attr: str, name: str) -> None:
        original = getattr(owner, attr)
        setattr(owner, attr, timer.wrap(name, original))
        undo.append(lambda: setattr(owner, attr, original))

    rec, store = daemon.reconciler, daemon.store
    patch(rec.source, "resolve", "resolve revision")
    patch(rec.source, "checkout", "check out")
    patch(loader, "load_repository", "load + validate")
    patch(store, "begin_sync", "record: begin_sync")
    patch(rec, "_record", "record (whole)")
    patch(rec, "_finish", "record: finish_sync")
    if rec.on_synced is not None:
        patch(rec, "on_synced", "record: dashboard snapshot")
    patch(sync, "converge", "converge (apply nothing)")
    patch(rec.executor, "lb_apply", "converge: FakeExecutor.lb_apply (fake)")
    original_steps = sync.STEPS
    sync.STEPS = tuple(
        timer.wrap(f"step {getattr(s, '__module__', '').rsplit('.', 1)[-1]}.{s.__name__}", s)
        for s in original_steps
    )
    undo.append(lambda: setattr(sync, "STEPS", original_steps))

    def restore() -> None:
        for one in reversed(undo):
            one()

    return restore


def converge_fully(daemon: daemonmod.Daemon, limit: int = 80) -> int:
    """Resync until one pass changes nothing; the number of passes it took."""
    for n in range(1, limit + 1):
        result = daemon.reconciler.run([str(cond.Trigger.RESYNC)])
        last = daemon.store.last_finished_sync()
        changed = sum(v for k, v in (last.counts if last else {}).items() if k != "unchanged")
        if result is cond.SyncResult.SUCCEEDED and changed == 0 and n > 1:
            return n
        time.sleep(min(0.05, daemon.reconciler.requeue_after or 0.0))
    raise SystemExit(f"the fleet did not settle in {limit} passes")


def measure(daemon: daemonmod.Daemon, passes: int, profile: int) -> dict[str, Any]:
    timer = Timer()
    undo = instrument(timer, daemon)
    walls: dict[str, list[float]] = defaultdict(list)
    cpus: dict[str, list[float]] = defaultdict(list)
    totals: list[tuple[float, float]] = []
    profiler = cProfile.Profile() if profile else None
    try:
        for _ in range(passes):
            timer.reset()
            wall, cpu = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            result = daemon.reconciler.run([str(cond.Trigger.RESYNC)])
            if profiler is not None:
                profiler.disable()
            totals.append((time.perf_counter() - wall, time.process_time() - cpu))
            last = daemon.store.last_finished_sync()
            assert result is cond.SyncResult.SUCCEEDED, (result, last)
            assert last is not None
            assert all(v == 0 for k, v in last.counts.items() if k != "unchanged"), last.counts
            for name, value in timer.wall.items():
                walls[name].append(value)
                cpus[name].append(timer.cpu[name])
    finally:
        undo()
    phases = {
        name: {"wall": statistics.median(values), "cpu": statistics.median(cpus[name])}
        for name, values in walls.items()
    }
    out: dict[str, Any] = {
        "total_wall": statistics.median(t[0] for t in totals),
        "total_cpu": statistics.median(t[1] for t in totals),
        "phases": phases,
    }
    if profiler is not None:
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("tottime").print_stats(profile)
        stats.sort_stats("cumulative").print_stats(profile)
        out["profile"] = text.getvalue()
    return out


def report(result: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"no-op pass, {args.hosts} hosts x {args.pods} pods ({args.deployments} Deployments, "
        f"{args.services} Services, 1 HPA), median of {args.passes}:",
        f"{'phase':44s} {'wall ms':>9s} {'cpu ms':>9s}",
    ]
    for name, v in sorted(result["phases"].items(), key=lambda kv: -kv[1]["wall"]):
        lines.append(f"{name:44s} {v['wall'] * 1000:9.1f} {v['cpu'] * 1000:9.1f}")
    lines.append(
        f"{'whole pass (Reconciler.run)':44s} {result['total_wall'] * 1000:9.1f} "
        f"{result['total_cpu'] * 1000:9.1f}"
    )
    lines.append(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--deployments", type=int, default=25)
    parser.add_argument("--pods", type=int, default=500)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the daemon's warnings (a fake host slow to
    # answer a ping while the first pass creates 500 pods) are not this benchmark's output
    with tempfile.TemporaryDirectory(prefix="pass-profile-") as tmp:
        root = Path(tmp)
        files = repository_files(args.hosts, args.deployments, args.pods, args.services)
        repo = make_repo(root, files)
        executor = fake_executor.FakeExecutor([f"h{i:02d}" for i in range(1, args.hosts + 1)])
        daemon = make_daemon(root, repo, executor)
        try:
            started = time.perf_counter()
            settled = converge_fully(daemon)
            running = sum(len(p) for p in executor.pods.values())
            print(f"settled after {settled} passes ({time.perf_counter() - started:.1f} s), "
                  f"{running} pods", file=sys.stderr)  # fmt: skip
            result = measure(daemon, args.passes, args.profile)
        finally:
            manager.stop(daemon.reconciler.controllers)
            daemon.store.close()
    print(report(result, args))
    if "profile" in result:
        print(result["profile"])
    if args.json is not None:
        args.json.write_text(json.dumps({k: v for k, v in result.items() if k != "profile"},
                                        indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
