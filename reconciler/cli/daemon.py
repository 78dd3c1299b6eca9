"""`reconciler daemon --config FILE`: run the GitOps daemon (see docs/operations.md).

Exit: 0 after SIGTERM/SIGINT, 2 when the configuration cannot be used (the message names the
file and the setting), 1 when the daemon cannot start (port taken, repository missing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from reconciler.executor import errors as executor_errors
from reconciler.runtime import config, daemon, logs
from reconciler.source import errors as source_errors
from reconciler.state import store
from reconciler.web import server


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "daemon", help="run the GitOps daemon", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--config", required=True, metavar="FILE", help="daemon config (YAML)")
    parser.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"))  # fmt: skip
    parser.add_argument("--log-format", choices=("auto", "json", "text"), default="auto",
                        help="auto: JSON lines unless stderr is a terminal")  # fmt: skip
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    json_lines = None if args.log_format == "auto" else args.log_format == "json"
    logs.setup(args.log_level, json_lines)
    try:
        cfg = config.load(Path(args.config))
    except config.ConfigError as exc:
        print(f"reconciler daemon: error: {exc}", file=sys.stderr)
        return 2
    try:
        return daemon.run(cfg)
    except (
        source_errors.SourceError,
        server.ServerError,
        store.StoreError,
        executor_errors.ExecutorConfigError,
    ) as exc:
        print(f"reconciler daemon: error: {exc}", file=sys.stderr)
        return 1
