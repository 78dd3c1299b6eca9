"""`reconciler history [--state-dir DIR] [-n 20] [-o json]`: the daemon's past syncs, newest first,
read from its state database: revision, trigger, result, duration, changes and errors.

Exit: 0, or 2 on a usage error or when the state database cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from reconciler.cli import status as statuscli
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
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table")
    parser.set_defaults(handler=run)


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
            syncs = [statusmod.sync_json(s) for s in store.history(args.limit)]
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
