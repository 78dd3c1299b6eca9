"""What the commands that reach hosts share: exit codes, the executor built from the connection
settings (or one that asks a running daemon to read the hosts: `daemonclient`), and printing
manifest errors compiler style."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from reconciler.cli import daemonclient, lightsettings, settings
from reconciler.controllers import sync
from reconciler.executor import errors, protocol
from reconciler.manifests import loader

EXIT_OK = 0
EXIT_CHANGES = 1  # diff: changes pending
EXIT_USAGE = 2  # bad arguments, unreadable settings, PATH missing
EXIT_INVALID = 3  # the manifests do not validate: nothing was planned or applied
EXIT_INCOMPLETE = 4  # a host was unreachable, a pod unschedulable or an action failed
EXIT_PRUNE_BLOCKED = 5  # apply: the prune guard held the revision; nothing was changed

Body = Callable[[protocol.HostExecutor, Path], int]


class ExecutorSource(Protocol):
    """Executors kept open across commands (the warm agent's `agentrun.ExecutorPool`), handed
    to a command as `args.executors` by `main.main`."""

    def executor(self, resolved: settings.Settings) -> protocol.HostExecutor: ...


def add_path_argument(parser: argparse.ArgumentParser) -> None:
    lightsettings.add_path_argument(parser)  # defined there for the quick `diff`


def fail(command: str, message: str, code: int = EXIT_USAGE) -> int:
    print(f"reconciler {command}: error: {message}", file=sys.stderr)
    return code


@contextlib.contextmanager
def executor_for(args: argparse.Namespace) -> Iterator[protocol.HostExecutor]:
    """The real executor, configured from flags / environment / config file; closed on exit.

    Raises settings.SettingsError or errors.ExecutorConfigError with a message naming the file.
    """
    resolved = settings.resolve(args)
    settings.check_files(resolved)
    if resolved.age_key_file is not None:  # where the loader looks for it (this process only)
        os.environ["SOPS_AGE_KEY_FILE"] = str(resolved.age_key_file)
    os.environ[loader.SERVICE_CIDR_ENV] = resolved.service_cidr  # the same: cluster IPs
    source: ExecutorSource | None = getattr(args, "executors", None)
    if source is not None:  # the agent's, its connections open: it stays open for the next
        yield source.executor(resolved)
        return
    from reconciler.executor import podman_ssh  # noqa: PLC0415 (asyncssh: only when dialling)

    executor = podman_ssh.PodmanSSHExecutor(
        known_hosts=resolved.known_hosts,
        key_file=resolved.ssh_key,
        connect_timeout=resolved.connect_timeout,
        command_timeout=resolved.command_timeout,
    )
    try:
        yield executor
    finally:
        executor.close()


@contextlib.contextmanager
def daemon_or_direct(args: argparse.Namespace, command: str) -> Iterator[protocol.HostExecutor]:
    """An executor that asks the daemon on this machine to read the hosts and dials them itself
    (`executor_for`) only for what the daemon cannot give; `--direct` dials at once."""
    where = daemonclient.endpoint(args)
    if where is None:
        with executor_for(args) as executor:
            yield executor
        return
    resolved = settings.resolve(args)
    if resolved.age_key_file is not None:  # the manifests are still read here
        os.environ["SOPS_AGE_KEY_FILE"] = str(resolved.age_key_file)
    os.environ[loader.SERVICE_CIDR_ENV] = resolved.service_cidr
    with contextlib.ExitStack() as stack:
        yield daemonclient.DaemonExecutor(
            where, lambda: stack.enter_context(executor_for(args)),
            timeout=resolved.command_timeout, command=command,
        )  # fmt: skip


def print_invalid(command: str, exc: sync.InvalidManifestsError, path: str) -> int:
    for diagnostic in exc.load.errors:
        print(diagnostic.format(path), file=sys.stderr)
        if diagnostic.hint:
            print(f"    hint: {diagnostic.hint}", file=sys.stderr)
    count = len(exc.load.errors)
    print(
        f"reconciler {command}: {count} manifest error(s); nothing was planned or changed "
        f"(run `reconciler validate {path}`)",
        file=sys.stderr,
    )
    return EXIT_INVALID


def run_guarded(
    command: str, args: argparse.Namespace, body: Body, *, via_daemon: bool = False
) -> int:
    """Run `body` with the executor (`via_daemon`: `daemon_or_direct`'s); translate the
    project's errors into one-line messages."""
    path = Path(args.path)
    try:
        opened = daemon_or_direct(args, command) if via_daemon else executor_for(args)
        with opened as executor:
            return body(executor, path)
    except sync.InvalidManifestsError as exc:
        return print_invalid(command, exc, args.path)
    except loader.RepositoryError as exc:
        return fail(command, str(exc))
    except (settings.SettingsError, errors.ExecutorConfigError) as exc:
        # Invalid manifests say more than a missing key: nothing could be planned either way.
        try:
            checked = loader.load_repository(path)
        except loader.RepositoryError:
            return fail(command, str(exc))
        if not checked.ok:
            return print_invalid(command, sync.InvalidManifestsError(checked), args.path)
        return fail(command, str(exc))
