"""Where an `apply` spends its time: the CLI's steps, timed one by one in a fresh process.

Usage: python -m bench.apply_phases REPO [--converge]   (RECONCILER_SSH_KEY/KNOWN_HOSTS set)
Prints one JSON object of seconds: `imports` (the modules the CLI loads), `load` (read and
validate), `connect` (one SSH connection + forwarded Podman socket + ping per host, in
parallel), `lists` (only the pod and container list calls that start an observe, on the open
connections), `observe` (the product's whole observe: the same two lists, read into pods),
`plan`, `converge` (only with --converge) and `close`. It calls the same functions
as `reconciler apply`, in the same order; `connect` is split out of `observe` by opening the
sessions first, and `lists` is an extra step that only reads.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from reconciler.cli import common, settings  # noqa: E402
from reconciler.controllers import sync  # noqa: E402
from reconciler.executor import observed, podman_ssh  # noqa: E402
from reconciler.model import hoststate  # noqa: E402
from reconciler.plan import pipeline  # noqa: E402
from reconciler.source import worktree  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo", type=Path)
    parser.add_argument("--converge", action="store_true")
    settings.add_arguments(parser)
    args = parser.parse_args()
    phases: dict[str, float] = {"imports": time.monotonic() - STARTED}

    def lap(name: str, since: float) -> float:
        now = time.monotonic()
        phases[name] = now - since
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
            session = executor._sessions[target.name]
            pods = session.submit(session.api.list_pods, observed.managed_filter())
            session.api.list_containers(observed.managed_filter())
            pods.result()

        list(executor._fanout.map(lists, targets))
        mark = lap("lists", mark)
        observations = executor.observe(targets)
        mark = lap("observe", mark)
        result = pipeline.build_plan(loaded.state, observations, revision)
        mark = lap("plan", mark)
        pods = sum(len(o.pods) for o in observations.values())
        if args.converge:
            prepared = sync.Prepared(loaded, targets, observations, result)
            sync.converge(prepared, executor)
            mark = lap("converge", mark)
    lap("close", mark)
    phases["total"] = time.monotonic() - STARTED
    json.dump({"phases": phases, "observed_pods": pods, "actions": len(result.plan.actions)},
              sys.stdout)  # fmt: skip
    print()


if __name__ == "__main__":
    main()
