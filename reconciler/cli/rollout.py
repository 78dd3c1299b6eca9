"""`reconciler rollout status|history deployment/NAME [-n NS]`: a Deployment's rollout as the
daemon drives it, read from its state database (like kubectl, which reads the API server).

`status` waits, printing a line whenever the progress changes, until the rollout is complete
(exit 0) or has failed: past its progressDeadlineSeconds, or rolled back (exit 1); `--timeout`
gives up (exit 1), `-w=false` (`--no-wait`) prints the state once. `history` lists the templates
the Deployment ran, oldest first, with the commit that introduced each and how its rollout ended.
Exit 2: usage, no readable state database, or a Deployment the daemon does not know.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from typing import Any

from reconciler.cli import status as statuscmd
from reconciler.state import conditions as cond
from reconciler.state import rolloutstore
from reconciler.state import store as storemod

EXIT_DONE = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
POLL_SECONDS = 0.5


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "rollout", help="watch a Deployment's rollout, or list its history",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    verbs = parser.add_subparsers(dest="verb", metavar="status|history", required=True)
    status = verbs.add_parser("status", help="wait for the rollout to finish")
    status.add_argument("--timeout", type=float, default=0.0,
                        help="seconds to wait (default: until it ends)")  # fmt: skip
    status.add_argument("--no-wait", "-w=false", dest="wait", action="store_false",
                        help="print the state once, do not wait")  # fmt: skip
    history = verbs.add_parser("history", help="templates the Deployment ran, with commits")
    for verb in (status, history):
        verb.add_argument("target", metavar="deployment/NAME")
        verb.add_argument("-n", "--namespace", default="default")
        statuscmd.add_state_dir_argument(verb)
    parser.set_defaults(handler=run)


def _name(target: str) -> str | None:
    kind, slash, name = target.partition("/")
    if slash and kind in ("deployment", "deployments", "deploy") and name:
        return name
    return None


def run(args: argparse.Namespace) -> int:
    name = _name(args.target)
    if name is None:
        print(f"reconciler rollout: error: {args.target!r}: give deployment/NAME",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    store = statuscmd.open_store("rollout", args)
    if store is None:
        return EXIT_USAGE
    with store:
        try:
            if args.verb == "history":
                return _history(store, args.namespace, name)
            return _status(store, args.namespace, name, args.wait, args.timeout)
        except storemod.StoreError as exc:
            print(f"reconciler rollout: error: {exc}", file=sys.stderr)
            return EXIT_USAGE


def _conditions(store: storemod.Store, namespace: str, name: str) -> dict[str, cond.Condition]:
    return {
        c.type: c
        for c in store.conditions()
        if (c.kind, c.namespace, c.name) == ("Deployment", namespace, name)
    }


def _status(store: storemod.Store, namespace: str, name: str, wait: bool, timeout: float) -> int:
    deadline = time.monotonic() + timeout if timeout > 0 else None
    last = ""
    while True:
        found = _conditions(store, namespace, name)
        progressing = found.get(cond.ConditionType.PROGRESSING)
        if progressing is None:
            print(f'reconciler rollout: error: deployment "{name}" not found in namespace '
                  f'"{namespace}" (the daemon has not applied it)', file=sys.stderr)  # fmt: skip
            return EXIT_USAGE
        line = _line(name, progressing, found.get(cond.ConditionType.AVAILABLE))
        if line != last:
            print(line, flush=True)
            last = line
        if progressing.reason == cond.Reason.NEW_REPLICA_SET_AVAILABLE:
            return EXIT_DONE
        if progressing.status is cond.ConditionStatus.FALSE:
            return EXIT_FAILED
        if not wait:
            return EXIT_FAILED
        if deadline is not None and time.monotonic() >= deadline:
            print(f"reconciler rollout: timed out waiting for deployment {name!r}",
                  file=sys.stderr)  # fmt: skip
            return EXIT_FAILED
        time.sleep(POLL_SECONDS)


def _line(name: str, progressing: cond.Condition, available: cond.Condition | None) -> str:
    if progressing.reason == cond.Reason.NEW_REPLICA_SET_AVAILABLE:
        return f'deployment "{name}" successfully rolled out'
    if progressing.status is cond.ConditionStatus.FALSE:
        return f'error: deployment "{name}": {progressing.reason}: {progressing.message}'
    extra = f" ({available.message})" if available is not None else ""
    return f'Waiting for deployment "{name}" rollout to finish: {progressing.message}{extra}'


def _history(store: storemod.Store, namespace: str, name: str) -> int:
    rows = rolloutstore.RolloutStore(store).history(namespace, name)
    if not rows:
        print(f'reconciler rollout: error: no rollout history for deployment "{name}" in '
              f'namespace "{namespace}"', file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    print(f'deployment "{name}"')
    table = [("REVISION", "TEMPLATE", "COMMIT", "STARTED", "RESULT")]
    for number, row in enumerate(rows, start=1):
        table.append((str(number), row.template_hash, row.revision[:12], _when(row.started),
                      _result(row)))  # fmt: skip
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    return EXIT_DONE


def _when(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _result(row: cond.RolloutRecord) -> str:
    if row.completed is not None:
        return f"complete {_when(row.completed)}"
    if row.failed is not None:
        return f"failed (ProgressDeadlineExceeded) {_when(row.failed)}"
    return "in progress"
