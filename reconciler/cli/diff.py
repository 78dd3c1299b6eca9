"""`reconciler diff [PATH]`: what `apply` would change, like `kubectl diff`. Changes nothing.

A unified diff per pod (secret values redacted), then a summary per host. `-o json` prints the
plan. Exit: 0 no change, 1 changes, 2 usage, 3 invalid manifests, 4 incomplete (a host could
not be read, a pod is unschedulable or cannot be resolved).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from reconciler.cli import common, daemonclient, settings
from reconciler.cli import hpa as hpacli
from reconciler.controllers import sync
from reconciler.executor import protocol
from reconciler.plan import export, pruneguard, render
from reconciler.source import worktree


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "diff",
        help="show what apply would change (dry run)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_path_argument(parser)
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    settings.add_arguments(parser)
    daemonclient.add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    def body(executor: protocol.HostExecutor, path: Path) -> int:
        resolved = settings.resolve(args)
        allowed = resolved.allow_mass_prune or (path / pruneguard.OVERRIDE_FILE).is_file()
        guard = pruneguard.Policy(resolved.prune_guard_percent, allowed)
        prepared = sync.prepare_loaded(sync.load(path), executor, worktree.revision_of(path),
                                       guard=guard)  # fmt: skip
        if prepared.held is not None:  # the dry run plans on: shows what would be deleted
            print(f"reconciler diff: apply would be held: {prepared.held.message}",
                  file=sys.stderr)  # fmt: skip
        if args.output == "json":
            print(json.dumps(export.plan_json(prepared.result), indent=2, sort_keys=True))
        else:
            sys.stdout.write(render.diff_text(prepared.result))
            sys.stdout.write(render.summary(prepared.result))
            sys.stdout.write(hpacli.diff_notes(prepared.load.state, prepared.observations))
        return exit_code(prepared)

    return common.run_guarded("diff", args, body, via_daemon=True)  # reads the hosts only


def incomplete(prepared: sync.Prepared) -> bool:
    result = prepared.result
    return bool(prepared.unreachable or result.unschedulable or result.errors)


def exit_code(prepared: sync.Prepared, command: str = "diff") -> int:
    """The exit code of `command` (diff or apply); names each unreachable host on stderr."""
    for seen in prepared.unreachable:
        print(f"reconciler {command}: {seen.error}", file=sys.stderr)  # names the host
    if incomplete(prepared):
        return common.EXIT_INCOMPLETE
    return common.EXIT_OK if prepared.result.plan.empty else common.EXIT_CHANGES
