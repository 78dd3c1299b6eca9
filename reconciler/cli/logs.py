"""`reconciler logs POD` (or `job/NAME`: the Job's newest pod): a container's output, read from
the Podman API of the host that runs the pod (found by observing the repository's hosts) over
the SSH connection the reconciler uses anyway; `-f` follows it. stdout and stderr of the
container go to ours.

Podman keeps one log per container across the daemon's restarts of it: `--previous` shows the
lines of the runs before the current one (those until its last start). Without it, the lines
of the current run only when a restart is known (the daemon's state database on this machine
or Podman's own count), else the whole log.
Exit: 0, 1 no such pod or container (or no previous run), 2 usage, 4 the pod's host could not
be reached (or the pod was not found and some host could not be read).
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from reconciler.cli import common, get, settings
from reconciler.controllers import sync
from reconciler.executor import apistream, containerlogs, errors, protocol
from reconciler.model import hoststate

EXIT_NOT_FOUND = 1
START_SLACK = 0.1
STARTED = re.compile(
    r"^(?P<whole>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d\d:\d\d)?$"
)
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$")
"""Go's duration syntax (Podman's `since` takes it, relative to the host's clock): 10m, 1h30m."""

SocketOf = Callable[[hoststate.HostTarget], str]


class NotFound(Exception):  # noqa: N818 (a CLI outcome, not a failure of the project)
    """The pod, job or container asked for is not there; the message says what was seen."""


class MaybeElsewhere(Exception):  # noqa: N818 (a CLI outcome, not a failure of the project)
    """The pod is on no reachable host, and some host could not be read: it may run there."""


def register(subparsers: Any) -> None:
    logs: argparse.ArgumentParser = subparsers.add_parser(
        "logs", help="print the logs of a container in a pod", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    logs.add_argument("pod", metavar="POD", help="a pod, pod/NAME or job/NAME")
    add_pod_arguments(logs)
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("--since", default="", metavar="DURATION",
                      help="only lines newer than this (e.g. 10s, 5m, 1h30m)")  # fmt: skip
    logs.add_argument("--tail", type=int, default=-1, metavar="N",
                      help="only the last N lines (default: all)")  # fmt: skip
    logs.add_argument("-p", "--previous", action="store_true",
                      help="the runs of the container before its last restart")  # fmt: skip
    logs.add_argument("--timestamps", action="store_true", help="prefix each line with its time")
    logs.set_defaults(handler=run_logs)


def add_pod_arguments(parser: argparse.ArgumentParser) -> None:
    """What `logs` and `exec` share: the namespace, the container and where the hosts are."""
    parser.add_argument("-n", "--namespace", default="", help="the pod's namespace")
    parser.add_argument("-c", "--container", default="", help="the container (default: first)")
    parser.add_argument(
        "--filename", dest="path", default=".", metavar="PATH",
        help="repository with the Host manifests (default: current directory)",
    )  # fmt: skip
    settings.add_arguments(parser)


@dataclass(frozen=True)
class Located:
    """The container a command works on, where it runs and how to reach that host's API."""

    target: hoststate.HostTarget
    pod: hoststate.ObservedPod
    container: hoststate.ObservedContainer
    socket: str


def socket_locator(executor: protocol.HostExecutor) -> SocketOf:
    locate: SocketOf | None = getattr(executor, "api_socket", None)
    if locate is None:
        raise errors.ExecutorConfigError("this executor cannot stream from hosts")
    return locate


def choose_pod(
    observations: dict[str, hoststate.HostObservation], ref: str, namespace: str
) -> hoststate.ObservedPod:
    """The pod `ref` names: POD or pod/NAME, or job/NAME (the newest of the Job's pods,
    owner `Job/NAME`). Raises NotFound."""
    kind, _, name = ref.rpartition("/")
    kind = kind.lower() or "pod"
    pods = get.pods_of(observations, namespace)
    where = f" in namespace {namespace}" if namespace else ""
    if kind in ("job", "jobs"):
        owned = [p for p in pods if p.owner == f"Job/{name}"]
        if not owned:
            raise NotFound(f"job {name}{where} has no pod on the reachable hosts")
        return max(owned, key=lambda p: (p.created_at, p.name))
    if kind not in ("pod", "pods", "po"):
        raise NotFound(f"logs and exec take a pod or job/NAME, not {kind}/")
    matches = [p for p in pods if p.name == name]
    if not matches:
        raise NotFound(f'pod "{name}" not found{where} on the reachable hosts')
    if len(matches) > 1:
        spaces = ", ".join(sorted({p.namespace for p in matches}))
        raise NotFound(f'pod "{name}" is in several namespaces ({spaces}): choose one with -n')
    return matches[0]


def choose_container(pod: hoststate.ObservedPod, name: str) -> hoststate.ObservedContainer:
    """The container called `name`, or the pod's first one (kubectl says which it took)."""
    names = [c.name for c in pod.containers]
    if not pod.containers:
        raise NotFound(f"pod {pod.namespace}/{pod.name} on host {pod.host} has no container")
    if not name:
        if len(names) > 1:
            print(f'Defaulted container "{names[0]}" out of: {", ".join(names)}', file=sys.stderr)
        return pod.containers[0]
    for container in pod.containers:
        if container.name == name:
            return container
    raise NotFound(f'container "{name}" is not in pod {pod.namespace}/{pod.name} '
                   f'(its containers: {", ".join(names)})')  # fmt: skip


def locate(executor: protocol.HostExecutor, path: Path, args: argparse.Namespace) -> Located:
    """Observe the repository's hosts, find the pod and container, reach its host's API.
    Raises NotFound, or a HostError when the pod's host cannot be reached now."""
    loaded, observations = get.observe(executor, path, detail=True)
    targets = {t.name: t for t in sync.targets_of(loaded.state)}
    try:
        pod = choose_pod(observations, args.pod, args.namespace)
    except NotFound as exc:
        down = sorted(name for name, seen in observations.items() if not seen.reachable)
        if down:  # the pod may be on a host that did not answer: say which, exit 4
            get.warn_unreachable(observations)
            raise MaybeElsewhere(f"{exc}; it may run on {', '.join(down)}, which could not "
                                 "be read") from exc  # fmt: skip
        raise
    container = choose_container(pod, args.container)
    target = targets[pod.host]
    return Located(target, pod, container, socket_locator(executor)(target))


def run_cut(started_at: str) -> str:
    """Where one run's lines end and the next one's begin: a little before Podman's recorded
    start time (it records it after the process began, which may already have written a line;
    a restart takes longer than `START_SLACK`). RFC 3339 with nanoseconds, UTC."""
    found = STARTED.match(started_at)
    if found is None:
        return started_at
    whole = datetime.datetime.fromisoformat(found["whole"] + (found["zone"] or "+00:00")
                                            .replace("Z", "+00:00"))  # fmt: skip
    nanos = int((found["fraction"] or "0").ljust(9, "0")[:9])
    stamp = whole.timestamp() + nanos / 1e9 - START_SLACK
    cut = datetime.datetime.fromtimestamp(stamp, datetime.UTC)
    return cut.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def restarted(found: Located) -> bool:
    """Whether the container is known to have run before its current start."""
    if found.container.restart_count:
        return True
    record = get.restart_records().get((found.pod.namespace, found.pod.name, found.container.name))
    return (
        record is not None
        and record.restarts > 0
        and record.podman_id in ("", found.container.podman_id)
    )


def query_of(
    args: argparse.Namespace, container: hoststate.ObservedContainer, known_restart: bool
) -> containerlogs.LogQuery:
    """The log query for the flags: the runs before the current start (`--previous`), the
    current run when a restart is known, else all."""
    if args.since and not DURATION.match(args.since):
        raise ValueError(f"--since {args.since!r} is not a duration such as 10s, 5m or 1h30m")
    since, until = args.since, ""
    if args.previous:
        if not container.started_at:
            raise NotFound(f'previous terminated container "{container.name}" not found '
                           "(it has not started)")  # fmt: skip
        until = run_cut(container.started_at)
    elif known_restart and container.started_at and not since:
        since = run_cut(container.started_at)
    return containerlogs.LogQuery(
        follow=args.follow and not args.previous,
        since=since,
        until=until,
        tail=args.tail if args.tail >= 0 else None,
        timestamps=args.timestamps,
    )


class OutputClosed(Exception):  # noqa: N818 (a CLI outcome, not a failure of the project)
    """Our reader went away (`reconciler logs POD | head`): stop quietly, as kubectl does."""


def writer(out: BinaryIO, err: BinaryIO) -> containerlogs.Write:
    """Each frame to our stdout or stderr as the container wrote it, flushed at once."""

    def write(kind: apistream.Stream, payload: bytes) -> None:
        stream = err if kind in (apistream.Stream.STDERR, apistream.Stream.SYSTEM) else out
        try:
            stream.write(payload)
            stream.flush()
        except BrokenPipeError as exc:
            raise OutputClosed() from exc

    return write


def quiet_stdout() -> None:
    """After our reader went away: nothing more reaches stdout (not even the exit's flush)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run_logs(args: argparse.Namespace) -> int:
    def body(executor: protocol.HostExecutor, path: Path) -> int:
        return logs(executor, path, args)

    return common.run_guarded("logs", args, body)


def logs(executor: protocol.HostExecutor, path: Path, args: argparse.Namespace) -> int:
    try:
        found = locate(executor, path, args)
        query = query_of(args, found.container, restarted(found))
    except NotFound as exc:
        return common.fail("logs", str(exc), EXIT_NOT_FOUND)
    except MaybeElsewhere as exc:
        return common.fail("logs", str(exc), common.EXIT_INCOMPLETE)
    except ValueError as exc:
        return common.fail("logs", str(exc))
    except errors.HostError as exc:
        return common.fail("logs", str(exc), common.EXIT_INCOMPLETE)
    write = writer(sys.stdout.buffer, sys.stderr.buffer)
    sys.stdout.flush()
    try:
        written = containerlogs.stream(found.socket, found.target.name,
                                       found.container.podman_id, query, write)  # fmt: skip
    except OutputClosed:
        quiet_stdout()
        return common.EXIT_OK
    except errors.HostError as exc:
        return common.fail("logs", f"pod {found.pod.namespace}/{found.pod.name}: {exc}",
                           common.EXIT_INCOMPLETE)  # fmt: skip
    except errors.OperationFailed as exc:
        code = EXIT_NOT_FOUND if exc.status == 404 else common.EXIT_INCOMPLETE
        return common.fail("logs", f"pod {found.pod.namespace}/{found.pod.name} on host "
                           f"{found.target.name}: {exc}", code)  # fmt: skip
    if args.previous and not written:
        return common.fail("logs", f'previous terminated container "{found.container.name}" '
                           f"in pod {found.pod.namespace}/{found.pod.name} not found (no line "
                           "before its current start)", EXIT_NOT_FOUND)  # fmt: skip
    return common.EXIT_OK
