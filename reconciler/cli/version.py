"""`reconciler version`: print the version (also `reconciler --version`)."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler import __version__


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("version", help="print the version")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(f"reconciler {__version__}")
    return 0
