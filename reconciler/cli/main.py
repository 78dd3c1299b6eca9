"""Entry point of the `reconciler` command: builds the argument parser from the command modules.

Each command module exposes `register(subparsers)`, which adds its subparser and sets
`handler=<function(args) -> int>` as a default. Only the module of the command being run is
imported (`COMMANDS` lists the others by name and help), so `reconciler --help` and each command
load only what they use. Exit codes follow kubectl/diff conventions: 0 success, 1 a negative
result (invalid, changes pending), 2 usage error, >2 other errors.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, NamedTuple

from reconciler import __version__

if TYPE_CHECKING:
    import argparse

EXIT_OK = 0
EXIT_USAGE = 2


class Command(NamedTuple):  # not a dataclass: `dataclasses` costs a warm agent's client 20 ms
    """A command as `reconciler --help` lists it; `module` is imported only to run it."""

    name: str
    module: str  # under reconciler.cli
    help: str


COMMANDS = (
    Command("version", "version", "print the version"),
    Command("validate", "validate", "validate the manifests of a repository"),
    Command("diff", "diff", "show what apply would change (dry run)"),
    Command("apply", "apply", "converge hosts to the manifests once"),
    Command("get", "get", "list pods, deployments or hosts"),
    Command("describe", "describe", "show one pod, Service or HPA in detail"),
    Command("rollout", "rollout", "watch a Deployment's rollout, or list its history"),
    Command(
        "status", "status", "show the daemon's revision, last sync, errors and unhealthy objects"
    ),
    Command("history", "history", "list the daemon's past syncs"),
    Command("daemon", "daemon", "run the GitOps daemon"),
    Command("logs", "logs", "print the logs of a container in a pod"),
    Command("exec", "execcmd", "run a command in a container of a pod"),
    Command("events", "events", "list the events the daemon recorded"),
    Command("agent", "agent", "show or stop the warm per-user agent"),
)


def command_named(argv: Sequence[str]) -> str | None:
    """The command `argv` runs: its first word not an option (the top level takes only
    `-h`/`--help` and `--version`, which take no value); None when there is none."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def build_parser(wanted: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The parser. The commands in `wanted` (every command when None) are registered in full,
    importing their modules; the others are listed by name and help only."""
    import argparse  # noqa: PLC0415 (not for a command the warm agent runs)

    parser = argparse.ArgumentParser(
        prog="reconciler",
        description="Declarative GitOps reconciler: Kubernetes-style manifests in git, "
        "rootless Podman containers on plain Linux hosts over SSH.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        if wanted is None or command.name in wanted:
            module = importlib.import_module(f"reconciler.cli.{command.module}")
            module.register(subparsers)
        else:
            subparsers.add_parser(command.name, help=command.help)
    return parser


def log_warnings_to_stderr() -> None:
    """Warnings the library logs while a command runs (say, podman's own warning from a host)
    reach stderr as `reconciler: <message>` lines; without a handler Python would print them
    bare. The daemon command replaces this handler with its own (`logs.setup`)."""
    import logging  # noqa: PLC0415 (not for a command the warm agent runs)

    from reconciler.runtime import logs  # noqa: PLC0415

    handler = logs.StderrHandler()
    handler.setLevel(logging.WARNING)  # also when a logger of its own asks for more
    handler.setFormatter(logging.Formatter("reconciler: %(message)s"))
    logs.install(handler, logging.WARNING)


def main(argv: Sequence[str] | None = None, *, executors: object = None) -> int:
    """Run the command `argv` names. `executors` (a `common.ExecutorSource`) is the warm
    agent's (`cli.agent`), running it for a client; else, with the agent asked for, a command
    it runs is sent to it (`agentclient`), and run here when it cannot."""
    words = list(sys.argv[1:] if argv is None else argv)
    if executors is None and ("--agent" in words or os.environ.get("RECONCILER_AGENT")):
        from reconciler.cli import agentclient  # noqa: PLC0415 (only when asked for)

        answered = agentclient.run(words)
        if answered is not None:
            return answered
    log_warnings_to_stderr()
    end = words.index("--") if "--" in words else len(words)  # --agent: the client's choice
    words = [w for w in words[:end] if w not in ("--agent", "--no-agent")] + words[end:]
    name = command_named(words)
    parser = build_parser(() if name is None else (name,))
    args = parser.parse_args(words)
    if executors is not None:
        args.executors = executors
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        result: int = handler(args)
    except KeyboardInterrupt:
        print("reconciler: interrupted", file=sys.stderr)
        return 130
    finally:
        # The objects left are freed by the process exit: freezing them spares the final
        # collection passes over them (about 0.3 s of a no-op `apply` on 200 pods).
        if executors is None:  # the agent lives on: its garbage must stay collectable
            gc.freeze()
    return result
