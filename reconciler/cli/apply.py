"""`reconciler apply [PATH]`: converge the hosts to the manifests, with progress.

Loads and validates, observes every host, plans (the same code path as `diff`), then carries
the plan out, hosts in parallel, printing each action as it finishes. A Deployment whose template
changed is rolled out step by step (its strategy: new pods Ready before old ones go), with a
progress line per step, until every rollout is complete or stuck past its progressDeadlineSeconds.
A revision that would delete the pods of several objects removed from git, making up every
managed pod or more than `prune_guard_percent` (config file, default 50) of them, is held by the
prune guard: nothing is changed, unless --allow-mass-prune is given, the config file says
`allow_mass_prune: true`, or the repository has a file `.reconciler/allow-prune`.
Exit: 0 converged, 2 usage, 3 invalid manifests (nothing changed), 4 incomplete (a host not
ready, a pod unschedulable, an action failed, or a rollout stuck: see the messages), 5 held by
the prune guard (nothing changed). `--dry-run` changes nothing: it prints what `diff` prints and
exits 0 when the plan could be applied (3 or 4 as above when not).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

from reconciler.cli import common, settings
from reconciler.cli import diff as diffcmd
from reconciler.controllers import autoscale, cronrun, jobrun, manager, sync
from reconciler.executor import protocol
from reconciler.model import hooks, hoststate
from reconciler.plan import pruneguard, render
from reconciler.source import worktree


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "apply",
        help="converge hosts to the manifests once",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_path_argument(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the result")
    parser.add_argument("--allow-mass-prune", action="store_true",
                        help="let a revision delete more than the prune guard allows")  # fmt: skip
    parser.add_argument("--dry-run", nargs="?", const="client", metavar="{none,client,server}",
                        help="change nothing: print what apply would change (as `diff`) and "
                        "exit 0 when it could be applied")  # fmt: skip
    settings.add_arguments(parser)
    parser.set_defaults(handler=run)


class _Progress:
    """Prints `[3/12] h1: create shop/web-abc-0 ... done (0.4s)` lines as actions finish."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total = total
        self.done = 0
        self.quiet = quiet
        self.lock = threading.Lock()

    def __call__(self, result: hoststate.ActionResult) -> None:
        with self.lock:
            self.done += 1
            if self.quiet and result.outcome is hoststate.Outcome.DONE:
                return
            a = result.action
            line = (
                f"[{self.done}/{self.total}] {a.host}: {a.kind} {a.namespace}/{a.name} "
                f"... {result.outcome} ({result.seconds:.1f}s)"
            )
            if result.message and (
                result.outcome is not hoststate.Outcome.DONE or hooks.noteworthy(result.message)
            ):  # a done action tells of a failed hook or init container too
                line += f": {result.message}"
            print(line, flush=True)


DRY_RUN = ("none", "client", "server")
"""kubectl's values; client and server both plan here (or in the daemon, as `diff` does)."""


def dry_run(args: argparse.Namespace) -> int | None:
    """`--dry-run`: `diff`'s plan and output, exit 0 when it could be applied (kubectl's, even
    with changes); None when this is no dry run."""
    mode = args.dry_run
    if mode is not None and mode not in DRY_RUN:  # `--dry-run PATH`: the word is the path
        if args.path != ".":
            return common.fail("apply", f"--dry-run takes none, client or server, not {mode!r}")
        args.path, mode = mode, "client"
    if mode in (None, "none"):
        return None
    args.output = "text"
    code = diffcmd.run_here(args)
    return common.EXIT_OK if code == common.EXIT_CHANGES else code


def run(args: argparse.Namespace) -> int:
    planned = dry_run(args)
    if planned is not None:
        return planned

    def body(executor: protocol.HostExecutor, path: Path) -> int:
        loaded = sync.load(path)
        revision = worktree.revision_of(path)
        guard = _guard(args, path)
        controllers = manager.start(executor)
        controllers.autoscaling = autoscale.recorded_only()  # the daemon's HPA counts
        controllers.jobs = jobrun.recorded_only()  # the daemon's Job records (not waited for)
        controllers.cron = cronrun.recorded_only()  # the daemon's CronJob runs (none made here)
        # No exit streams for a pass that ends the run (a no-op opens none): only once it waits
        # for a rollout, when a container dying meanwhile is worth hearing at once.
        controllers.watch_exits = False
        started = time.monotonic()
        counts = {kind: 0 for kind in hoststate.ActionKind}
        failed = 0
        unchanged: int | None = None
        printed: dict[tuple[str, str], tuple[str, float]] = {}  # each rollout's last line
        try:
            while True:
                prepared = sync.prepare_loaded(loaded, executor, revision, controllers, guard)
                if prepared.held is not None:
                    return _held(prepared.held, prepared)
                plan = prepared.result.plan
                if unchanged is None:  # pods this apply found as declared
                    unchanged = len(plan.unchanged)
                if not args.quiet and not plan.empty:
                    sys.stdout.write(render.summary(prepared.result))
                done = sync.converge(prepared, executor, _Progress(len(plan.actions), args.quiet))
                failed += len(done.failed)
                for result in done.results:
                    if result.outcome is hoststate.Outcome.DONE:
                        counts[result.action.kind] += 1
                _print_rollouts(prepared, done, args.quiet, printed)
                if done.failed or not _worth_waiting(prepared):
                    break
                if not controllers.watch_exits and controllers.restarts is not None:
                    controllers.watch_exits = True  # and every later observe keeps them
                    executor.watch_exits(prepared.targets, controllers.restarts.on_exit)
                wait = prepared.requeue_after
                controllers.wait(sync.ROLLOUT_REQUEUE if wait is None else wait)  # 0: now
        finally:
            manager.stop(controllers)
        restarted = counts[hoststate.ActionKind.RESTART]
        print(
            f"applied revision {prepared.result.revision} in {time.monotonic() - started:.1f}s: "
            f"{counts[hoststate.ActionKind.CREATE]} created, "
            f"{counts[hoststate.ActionKind.REPLACE]} replaced, "
            f"{counts[hoststate.ActionKind.DELETE]} deleted, "
            f"{failed} failed, {unchanged or 0} unchanged"
            + (f", {restarted} containers restarted" if restarted else "")
        )
        code = diffcmd.exit_code(prepared, "apply")
        for entry in prepared.result.unschedulable:  # shown even when nothing else changed
            print(f"reconciler apply: pod {entry.pod} unschedulable: {entry.message}",
                  file=sys.stderr)  # fmt: skip
        stuck = [d for d in prepared.deployments if not d.complete]
        for status in stuck:
            state = "failed" if status.failed else "not complete"
            print(f"reconciler apply: deployment {status.namespace}/{status.name}: rollout "
                  f"{state}: {status.message}", file=sys.stderr)  # fmt: skip
        if failed or stuck:
            return common.EXIT_INCOMPLETE
        return common.EXIT_OK if code in (common.EXIT_OK, common.EXIT_CHANGES) else code

    return common.run_guarded("apply", args, body)


def _guard(args: argparse.Namespace, path: Path) -> pruneguard.Policy:
    """The prune guard of this apply: the config file's share; lifted by the flag, the config
    file's `allow_mass_prune` or the repository's override file."""
    resolved = settings.resolve(args)
    allowed = (args.allow_mass_prune or resolved.allow_mass_prune
               or (path / pruneguard.OVERRIDE_FILE).is_file())  # fmt: skip
    return pruneguard.Policy(resolved.prune_guard_percent, allowed)


def _held(held: pruneguard.Verdict, prepared: sync.Prepared) -> int:
    for seen in prepared.unreachable:  # their pods were not counted
        print(f"reconciler apply: {seen.error}", file=sys.stderr)
    print(f"reconciler apply: {held.message}", file=sys.stderr)
    return common.EXIT_PRUNE_BLOCKED


def _worth_waiting(prepared: sync.Prepared) -> bool:
    """Whether another step can make progress: a rollout changed something in this step, or
    waits for new pods to become available. A rollout that can only wait for something else (a
    host to come back, a free hostPort) stops here, reported; the daemon would keep at it."""
    if not prepared.rolling:
        return False
    if not prepared.result.plan.empty:
        return True
    return any(
        d.counts.updated > d.counts.updated_available
        for d in prepared.deployments
        if not d.complete and not d.failed
    )


REPEAT_AFTER = 30.0
"""Seconds after which a rollout's unchanged progress line is printed again (it still waits)."""


def _print_rollouts(
    prepared: sync.Prepared,
    done: sync.Converged,
    quiet: bool,
    printed: dict[tuple[str, str], tuple[str, float]],
) -> None:
    """One progress line per Deployment whose rollout is not complete (kubectl rollout status
    style), counted as the step found it, then what the step did: `deployment shop/web: 2 of 4
    updated, 3 available: waiting for ...; this step: 1 new started, 1 old removed`. A line the
    same as the last one of its Deployment (`printed`) is left out, unless REPEAT_AFTER seconds
    passed: a rollout waiting on a readiness probe checks about once a second."""
    for status in prepared.deployments:
        if status.complete or (quiet and not status.failed):
            continue
        c = status.counts
        owner = f"Deployment/{status.name}"
        mine = [
            r.action for r in done.results
            if r.outcome is hoststate.Outcome.DONE and r.action.namespace == status.namespace
            and (r.action.run or r.action.observed) is not None
            and getattr(r.action.run or r.action.observed, "owner", "") == owner
        ]  # fmt: skip
        started = sum(1 for a in mine if a.kind is hoststate.ActionKind.CREATE)
        removed = sum(1 for a in mine if a.kind is hoststate.ActionKind.DELETE)
        step = f"; this step: {started} new started, {removed} old removed" if mine else ""
        line = (f"deployment {status.namespace}/{status.name}: {c.updated} of {c.replicas} "
                f"updated, {c.available} available: {status.message}{step}")  # fmt: skip
        key, now = (status.namespace, status.name), time.monotonic()
        last = printed.get(key)
        if last is not None and last[0] == line and now - last[1] < REPEAT_AFTER:
            continue
        printed[key] = (line, now)
        print(line, flush=True)
