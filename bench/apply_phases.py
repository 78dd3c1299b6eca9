"""Where an `apply` spends its time: the CLI's steps, timed one by one in a fresh process.

Usage: python -m bench.apply_phases REPO   (RECONCILER_SSH_KEY/KNOWN_HOSTS set)
Prints one JSON object of seconds: `imports` (the modules the CLI loads), `load` (read and
validate), `connect` (one SSH connection + forwarded Podman socket + ping per host, in
parallel), `lists` (only the pod and container list calls that start an observe, on the open
connections), `prepare` (apply's whole first pass up to the plan: the controllers' steps with
the product's observe, which lists pods, containers and claim volumes), `converge` (the plan
carried out: for a no-op, only the load balancers' calls), `stop` (the controllers' threads)
and `close`, and `reads` (the executor's read calls); `cpu`: the same steps in CPU seconds of
the process (all its threads), which the machine's load distorts less than wall time. It calls
the same functions as `reconciler apply`, in the same order; `connect` is split out of the
observe by opening the sessions first, and `lists` is an extra step that only reads.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from reconciler.cli import common, settings  # noqa: E402
from reconciler.controllers import autoscale, cronrun, jobrun, manager, sync  # noqa: E402
from reconciler.executor import observed, podman_ssh  # noqa: E402
from reconciler.model import hoststate  # noqa: E402
from reconciler.source import worktree  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo", type=Path)
    settings.add_arguments(parser)
    args = parser.parse_args()
    phases: dict[str, float] = {"imports": time.monotonic() - STARTED}
    cpu: dict[str, float] = {"imports": time.process_time()}  # every thread's, since start
    cpu_mark = [cpu["imports"]]

    def lap(name: str, since: float) -> float:
        now = time.monotonic()
        phases[name] = now - since
        cpu[name] = time.process_time() - cpu_mark[0]
        cpu_mark[0] += cpu[name]
        return now

    mark = time.monotonic()
    with common.executor_for(args) as executor:
        assert isinstance(executor, podman_ssh.PodmanSSHExecutor)  # its internals are timed
        loaded = sync.load(args.repo)
        revision = worktree.revision_of(args.repo)
        targets = sync.targets_of(loaded.state)
        mark = lap("load", mark)
        # Open every host's session the way observe does (fan-out pool), without observing.
        list(executor._fanout.map(executor._live_session, targets))
        mark = lap("connect", mark)

        def lists(target: hoststate.HostTarget) -> None:  # observe's first step, alone
            session = executor._hosts.sessions[target.name]
            pods = session.submit(session.api.list_pods, observed.managed_filter())
            session.api.list_containers(observed.managed_filter())
            pods.result()

        list(executor._fanout.map(lists, targets))
        mark = lap("lists", mark)
        controllers = manager.start(executor)  # as `reconciler apply` sets them up
        controllers.autoscaling = autoscale.recorded_only()
        controllers.jobs = jobrun.recorded_only()
        controllers.cron = cronrun.recorded_only()
        controllers.watch_exits = False
        mark = time.monotonic()
        prepared = sync.prepare_loaded(loaded, executor, revision, controllers)
        mark = lap("prepare", mark)
        sync.converge(prepared, executor)
        mark = lap("converge", mark)
        manager.stop(controllers)
        mark = lap("stop", mark)
        reads = executor.stats.reads
    lap("close", mark)
    phases["total"] = time.monotonic() - STARTED
    cpu["total"] = time.process_time()
    pods = sum(len(o.pods) for o in prepared.observations.values())
    json.dump({"phases": phases, "cpu": cpu, "observed_pods": pods, "reads": reads,
               "actions": len(prepared.result.plan.actions)}, sys.stdout)  # fmt: skip
    print()


if __name__ == "__main__":
    main()
