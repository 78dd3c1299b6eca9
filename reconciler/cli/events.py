"""`reconciler events [-n NS] [--for KIND/NAME] [-w] [-o json]`: what the daemon recorded
(restarts, back-offs, failed probes, drift put back, pruned pods, Job outcomes), read from its
state database on this machine ($RECONCILER_STATE_DIR or --state-dir), oldest first, in kubectl's
columns. `-w` keeps printing new events as the daemon records them.
Exit: 0, 1 no state database here (the daemon has not run on this machine), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.cli import common, get
from reconciler.state import conditions as cond
from reconciler.state import store as storemod

READ_LIMIT = storemod.KEEP_EVENTS  # the store keeps no more than this
WATCH_INTERVAL = 1.0
KIND_ALIASES = {"po": "pod", "pods": "pod", "deploy": "deployment", "deployments": "deployment",
                "jobs": "job", "cj": "cronjob", "cronjobs": "cronjob", "hosts": "host",
                "svc": "service", "services": "service", "ns": "namespace"}  # fmt: skip


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "events", help="list the events the daemon recorded", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("-n", "--namespace", default="", help="only this namespace")
    parser.add_argument(
        "--for",
        dest="for_object",
        default="",
        metavar="KIND/NAME",
        help="only the events of this object (e.g. pod/web-0, deploy/web)",
    )
    parser.add_argument("-w", "--watch", action="store_true", help="keep printing new events")
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table")
    parser.add_argument("--state-dir", default="", metavar="DIR",
                        help="the daemon's state directory (default: $RECONCILER_STATE_DIR, "
                        "else /var/lib/reconciler)")  # fmt: skip
    parser.set_defaults(handler=run_events)


@dataclass(frozen=True)
class Subject:
    """An event's object split up: `Kind/namespace/name` or `Kind/name` (cluster-scoped)."""

    kind: str
    namespace: str
    name: str

    @classmethod
    def parse(cls, obj: str) -> Subject:
        parts = obj.split("/", 2)
        if len(parts) == 3:
            return cls(parts[0], parts[1], parts[2])
        if len(parts) == 2:
            return cls(parts[0], "", parts[1])
        return cls("", "", obj)

    @property
    def shown(self) -> str:
        """kubectl's OBJECT column: kind in lower case, then the name."""
        return f"{self.kind.lower()}/{self.name}" if self.kind else self.name


def parse_for(value: str) -> tuple[str, str]:
    """(kind in lower case, name) from `--for KIND/NAME`; ValueError for anything else."""
    kind, sep, name = value.partition("/")
    if not sep or not kind or not name or "/" in name:
        raise ValueError(f"--for {value!r}: expected KIND/NAME, e.g. pod/web-0 or deploy/web")
    kind = kind.lower()
    return KIND_ALIASES.get(kind, kind), name


def select(
    events: Iterable[cond.Event], namespace: str, for_object: tuple[str, str] | None
) -> list[cond.Event]:
    """The events of `namespace` (all when "") and of the one object, oldest first."""
    chosen = []
    for event in events:
        subject = Subject.parse(event.object)
        if namespace and subject.namespace != namespace:
            continue
        if for_object and (subject.kind.lower(), subject.name) != for_object:
            continue
        chosen.append(event)
    return sorted(chosen, key=lambda e: (e.time, e.id))


def row(event: cond.Event, now: float, with_namespace: bool) -> list[str]:
    subject = Subject.parse(event.object)
    cells = [subject.namespace or "<none>"] if with_namespace else []
    return [*cells, get.age(now - event.time), str(event.kind), event.reason or "<none>",
            subject.shown, " ".join(event.message.split())]  # fmt: skip


def header(with_namespace: bool) -> list[str]:
    return [*(["NAMESPACE"] if with_namespace else []),
            "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]  # fmt: skip


def as_json(event: cond.Event) -> dict[str, Any]:
    subject = Subject.parse(event.object)
    return {
        "id": event.id,
        "time": event.time,
        "type": str(event.kind),
        "reason": event.reason,
        "involvedObject": {"kind": subject.kind, "namespace": subject.namespace,
                           "name": subject.name},
        "message": event.message,
    }  # fmt: skip


def render(events: Sequence[cond.Event], now: float, with_namespace: bool, output: str,
           *, first: bool) -> str:  # fmt: skip
    """Table rows (with the header on the `first` batch) or one JSON object per event."""
    if output == "json":
        return "".join(json.dumps(as_json(e)) + "\n" for e in events)
    if not events:
        return ""
    rows = [row(e, now, with_namespace) for e in events]
    text = get.table([header(with_namespace), *rows])
    return text if first else text.split("\n", 1)[1]


def run_events(args: argparse.Namespace) -> int:
    try:
        for_object = parse_for(args.for_object) if args.for_object else None
    except ValueError as exc:
        return common.fail("events", str(exc))
    state_dir = Path(args.state_dir) if args.state_dir else storemod.default_state_dir()
    path = storemod.path_in(state_dir)
    if not path.exists():
        why = "the daemon has not run on this machine (or set --state-dir)"
        return common.fail("events", f"no state database at {path}: {why}", 1)
    try:
        return show(lambda: _read(path), args.namespace, for_object, args.output,
                    watch=args.watch)  # fmt: skip
    except storemod.StoreError as exc:
        return common.fail("events", str(exc), 1)


def _read(path: Path) -> list[cond.Event]:
    with storemod.Store(path, create=False) as store:
        return store.events(limit=READ_LIMIT)


def show(
    read: Callable[[], list[cond.Event]],
    namespace: str,
    for_object: tuple[str, str] | None,
    output: str,
    *,
    watch: bool,
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
) -> int:
    """Print the selected events; with `watch`, poll for newer ones (`rounds`: stop after that
    many polls, for tests)."""
    with_namespace = not namespace
    chosen = select(read(), namespace, for_object)
    text = render(chosen, time.time(), with_namespace, output, first=True)
    if not chosen and output == "table" and not watch:
        where = f" in namespace {namespace}" if namespace else ""
        print(f"No events found{where}.", file=sys.stderr)
    sys.stdout.write(text)
    sys.stdout.flush()
    if not watch:
        return common.EXIT_OK
    last = max((e.id for e in chosen), default=_newest(read()))
    printed_header = bool(chosen)
    while rounds is None or rounds > 0:
        rounds = None if rounds is None else rounds - 1
        sleep(WATCH_INTERVAL)
        fresh = [e for e in select(read(), namespace, for_object) if e.id > last]
        if fresh:
            last = max(e.id for e in fresh)
            sys.stdout.write(render(fresh, time.time(), with_namespace, output,
                                    first=not printed_header))  # fmt: skip
            sys.stdout.flush()
            printed_header = True
    return common.EXIT_OK


def _newest(events: Sequence[cond.Event]) -> int:
    return max((e.id for e in events), default=0)
