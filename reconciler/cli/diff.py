"""`reconciler diff [PATH]`: what `apply` would change, like `kubectl diff`. Changes nothing.

A unified diff per pod (secret values redacted), then a summary per host. `-o json` prints the
plan. Exit: 0 no change, 1 changes, 2 usage, 3 invalid manifests, 4 incomplete (a host could
not be read, a pod is unschedulable or cannot be resolved).

A daemon running on this machine plans it when it can (POST /v1/diff: the manifests are sent,
its warm connections read the hosts; the output is the same); else this process plans it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.cli import dryrunclient, lightsettings

if TYPE_CHECKING:
    from reconciler.controllers import sync


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "diff",
        help="show what apply would change (dry run)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lightsettings.add_path_argument(parser)  # the light ones: the parser imports nothing more
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    lightsettings.add_settings_arguments(parser)
    lightsettings.add_daemon_arguments(parser, verbose=True)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Planned by the daemon when it can answer as this process would, else here."""
    chosen = lightsettings.resolve(args) or complete_settings(args)
    if chosen is not None:
        answer = dryrunclient.plan(Path(args.path), args.path, args.output, chosen,
                                   verbose=args.verbose)  # fmt: skip
        if answer is not None:
            sys.stdout.write(answer.stdout)
            sys.stderr.write(answer.stderr)
            return answer.code
    return run_here(args)


def complete_settings(args: argparse.Namespace) -> lightsettings.DryRunSettings | None:
    """The dry run's settings read by `settings` (a config file the quick reader leaves to it:
    nested values, quotes...); None when they are wrong (planning here says how)."""
    from reconciler.cli import daemonclient, settings  # noqa: PLC0415 (the YAML library)

    try:
        resolved = settings.resolve(args)
        where = daemonclient.endpoint(args)
    except settings.SettingsError:
        return None
    return lightsettings.DryRunSettings(
        where, resolved.service_cidr, resolved.prune_guard_percent, resolved.allow_mass_prune
    )


def run_here(args: argparse.Namespace) -> int:
    """The plan made in this process (the hosts read through the daemon when it can)."""
    from reconciler.cli import common, settings  # noqa: PLC0415 (only when planning here)
    from reconciler.controllers import sync  # noqa: PLC0415
    from reconciler.executor import protocol  # noqa: PLC0415
    from reconciler.plan import pruneguard  # noqa: PLC0415
    from reconciler.source import worktree  # noqa: PLC0415
    from reconciler.web import planout  # noqa: PLC0415

    def body(executor: protocol.HostExecutor, path: Path) -> int:
        resolved = settings.resolve(args)
        allowed = resolved.allow_mass_prune or (path / pruneguard.OVERRIDE_FILE).is_file()
        guard = pruneguard.Policy(resolved.prune_guard_percent, allowed)
        prepared = sync.prepare_loaded(sync.load(path), executor, worktree.revision_of(path),
                                       guard=guard)  # fmt: skip
        output = planout.diff(prepared, args.output)
        sys.stdout.write(output.stdout)
        sys.stderr.write(output.stderr)
        return output.code

    return common.run_guarded("diff", args, body, via_daemon=True)  # reads the hosts only


def exit_code(prepared: sync.Prepared, command: str = "diff") -> int:
    """The exit code of `command` (diff or apply) for a `sync.Prepared`; names each
    unreachable host on stderr."""
    from reconciler.web import planout  # noqa: PLC0415 (apply has imported it all already)

    sys.stderr.write(planout.unreachable_lines(prepared, command))
    return planout.exit_code(prepared)
