"""`reconciler apply [PATH]`: converge the hosts to the manifests once, with progress.

Loads and validates, observes every host, plans (the same code path as `diff`), then carries
the plan out, hosts in parallel, printing each action as it finishes. Exit: 0 converged,
2 usage, 3 invalid manifests (nothing changed), 4 incomplete (see the messages).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from reconciler.cli import common, settings
from reconciler.cli import diff as diffcmd
from reconciler.controllers import sync
from reconciler.executor import protocol
from reconciler.model import hoststate
from reconciler.plan import render


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "apply",
        help="converge hosts to the manifests once",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_path_argument(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the result")
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
            if result.message and result.outcome is not hoststate.Outcome.DONE:
                line += f": {result.message}"
            print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    def body(executor: protocol.HostExecutor, path: Path) -> int:
        prepared = sync.prepare(path, executor)
        if not args.quiet:
            sys.stdout.write(render.summary(prepared.result))
        plan = prepared.result.plan
        done = sync.converge(prepared, executor, _Progress(len(plan.actions), args.quiet))
        counts = {kind: 0 for kind in hoststate.ActionKind}
        for result in done.results:
            if result.outcome is hoststate.Outcome.DONE:
                counts[result.action.kind] += 1
        print(
            f"applied revision {prepared.result.revision} in {done.seconds:.1f}s: "
            f"{counts[hoststate.ActionKind.CREATE]} created, "
            f"{counts[hoststate.ActionKind.REPLACE]} replaced, "
            f"{counts[hoststate.ActionKind.DELETE]} deleted, "
            f"{len(done.failed)} failed, {len(plan.unchanged)} unchanged"
        )
        code = diffcmd.exit_code(prepared, "apply")
        if done.failed:
            return common.EXIT_INCOMPLETE
        return common.EXIT_OK if code in (common.EXIT_OK, common.EXIT_CHANGES) else code

    return common.run_guarded("apply", args, body)
