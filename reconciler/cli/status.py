"""`reconciler status [--state-dir DIR] [-o json]`: what the daemon runs and how its last sync went,
read from its state database (works while the daemon runs, and after it stopped).

Shows the overall Ready condition with its reason, the applied revision, the last sync with its
errors, hosts that are not Ready and unhealthy objects. `-o json` prints the same document as the
daemon's GET /status. Exit: 0 Ready, 1 not Ready, 2 usage error or no readable state database.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.state import status as statusmod
from reconciler.state import store as storemod

EXIT_READY = 0
EXIT_NOT_READY = 1
EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "status", help="show the daemon's revision, last sync, errors and unhealthy objects",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    add_state_dir_argument(parser)
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    parser.set_defaults(handler=run)


def add_state_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="the daemon's state directory (default: $RECONCILER_STATE_DIR, else "
        "$STATE_DIRECTORY, else /var/lib/reconciler)",
    )


def open_store(command: str, args: argparse.Namespace) -> storemod.Store | None:
    """The daemon's store, read-only; None after printing why it cannot be opened."""
    state_dir = args.state_dir or storemod.default_state_dir()
    try:
        return storemod.Store(storemod.path_in(state_dir), create=False)
    except storemod.StoreError as exc:
        print(f"reconciler {command}: error: {exc}", file=sys.stderr)
        if "readonly" in str(exc) or "unable to open" in str(exc):
            print("    hint: run as the daemon's user or root, e.g. `sudo -u reconciler "
                  f"reconciler {command}`, or read GET /status", file=sys.stderr)  # fmt: skip
        return None


def run(args: argparse.Namespace) -> int:
    store = open_store("status", args)
    if store is None:
        return EXIT_USAGE
    try:
        with store:
            document = statusmod.document(store)
    except storemod.StoreError as exc:
        print(f"reconciler status: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.output == "json":
        print(json.dumps(document, indent=2))
    else:
        sys.stdout.write(render(document))
    return EXIT_READY if document["ready"] else EXIT_NOT_READY


def render(document: Mapping[str, Any]) -> str:
    """The status document for a terminal."""
    condition = document["condition"]
    lines = [f"Ready:      {condition['status']}  {condition['reason']}  {condition['message']}"]
    revision = document["revision"]
    if revision["applied"]:
        lines.append(f"Revision:   {revision['applied']} (applied {revision['appliedAt']})")
    else:
        lines.append("Revision:   none applied yet")
    last = document["lastSync"]
    lines.append(f"Last sync:  {sync_line(last)}" if last else "Last sync:  none yet")
    finished = document["lastFinishedSync"]
    if last and finished and finished["id"] != last["id"]:
        lines.append(f"Finished:   {sync_line(finished)}")
    errors = document["errors"]
    if errors:
        lines.append(f"Errors ({len(errors)}):")
        lines.extend(f"  {error}" for error in errors)
    hosts = document["hosts"]
    lines.append(f"Hosts:      {hosts['ready']}/{hosts['total']} ready")
    down = [h for h in hosts["items"] if h["status"] != "True"]
    if down:
        rows = [["HOST", "STATUS", "REASON", "SINCE", "MESSAGE"]]
        rows += [[h["name"], h["status"], h["reason"], h["lastTransitionTime"] or "",
                  h["message"]] for h in down]  # fmt: skip
        lines.append(indent(table(rows)))
    unhealthy = document["unhealthy"]
    if unhealthy:
        lines.append(f"Unhealthy objects ({len(unhealthy)}):")
        rows = [["KIND", "NAMESPACE", "NAME", "STATUS", "REASON", "SINCE", "MESSAGE"]]
        rows += [[u["kind"], u["namespace"], u["name"], u["status"], u["reason"],
                  u["lastTransitionTime"] or "", u["message"]] for u in unhealthy]  # fmt: skip
        lines.append(indent(table(rows)))
    objects = document["objects"]
    if objects:
        counts = ", ".join(f"{n} {state}" for state, n in objects.items())
        lines.append(f"Objects:    {counts}")
    return "\n".join(line.rstrip("\n") for line in lines) + "\n"


def sync_line(sync: Mapping[str, Any]) -> str:
    """`#42 abc123 Partial at 2024-...Z (push, 1.20s) created=1 failed=1`."""
    took = f", {sync['durationSeconds']:.2f}s" if sync["durationSeconds"] is not None else ""
    counts = " ".join(f"{k}={v}" for k, v in sync["counts"].items() if v)
    text = f"#{sync['id']} {sync['revision']} {sync['result']} at {sync['started']}"
    return f"{text} ({sync['trigger']}{took}) {counts}".rstrip()


def table(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, separated by three spaces."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in rows
    )


def indent(text: str) -> str:
    return "".join(f"  {line}\n" for line in text.splitlines())
