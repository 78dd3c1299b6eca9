"""`reconciler history [--state-dir DIR] [-n 20] [--result R] [--since 1h] [-o json]`: the daemon's
past syncs, newest first, read from its state database: revision, trigger, result, duration,
changes and errors; `--result` keeps syncs that ended so (Succeeded, Failed, Invalid, Partial,
Blocked), `--since` those started within a duration (`90s`, `10m`, `2h`, `1d`).

Exit: 0, or 2 on a usage error or when the state database cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from reconciler.cli import status as statuscli
from reconciler.state import conditions as cond
from reconciler.state import status as statusmod
from reconciler.state import store as storemod

EXIT_OK = 0
EXIT_USAGE = 2
MAX_ERROR_WIDTH = 80


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "history", help="list the daemon's past syncs", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    statuscli.add_state_dir_argument(parser)
    parser.add_argument("-n", "--limit", type=_positive, default=20, metavar="N",
                        help="how many syncs (default 20)")  # fmt: skip
    parser.add_argument("--result", choices=[r.value for r in cond.SyncResult],
                        help="only syncs with this result")  # fmt: skip
    parser.add_argument("--since", type=_duration, metavar="DURATION",
                        help="only syncs started within this long (90s, 10m, 2h, 1d)")  # fmt: skip
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table")
    parser.set_defaults(handler=run)


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str) -> float:
    number, unit = text[:-1], text[-1:]
    if unit not in UNITS or not number.isdigit():
        raise argparse.ArgumentTypeError(
            f"not a duration: {text!r} (a whole number and s, m, h or d: 90s, 10m, 2h, 1d)"
        )
    return int(number) * UNITS[unit]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run(args: argparse.Namespace) -> int:
    store = statuscli.open_store("history", args)
    if store is None:
        return EXIT_USAGE
    try:
        with store:
            records = store.history(storemod.KEEP_SYNCS)
        since = time.time() - args.since if args.since is not None else None
        kept = [
            r for r in records
            if (args.result is None or (r.result is not None and r.result.value == args.result))
            and (since is None or r.started >= since)
        ]  # fmt: skip
        syncs = [statusmod.sync_json(r) for r in kept[: args.limit]]
    except storemod.StoreError as exc:
        print(f"reconciler history: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.output == "json":
        print(json.dumps(syncs, indent=2))
        return EXIT_OK
    if not syncs:
        print("no syncs recorded yet")
        return EXIT_OK
    rows = [["ID", "STARTED", "REVISION", "TRIGGER", "RESULT", "DURATION", "CHANGES", "ERRORS"]]
    for sync in syncs:
        duration = sync["durationSeconds"]
        changes = " ".join(f"{k}={v}" for k, v in sync["counts"].items() if v)
        rows.append([
            str(sync["id"]), sync["started"], sync["revision"], sync["trigger"], sync["result"],
            f"{duration:.2f}s" if duration is not None else "-", changes or "-",
            _errors_cell(sync["errors"]),
        ])  # fmt: skip
    sys.stdout.write(statuscli.table(rows))
    return EXIT_OK


def _errors_cell(errors: list[str]) -> str:
    if not errors:
        return "-"
    first = errors[0]
    if len(first) > MAX_ERROR_WIDTH:
        first = first[: MAX_ERROR_WIDTH - 1] + "…"
    return f"{first} (+{len(errors) - 1} more)" if len(errors) > 1 else first
