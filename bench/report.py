"""Write one benchmark's section into bench/README.md, leaving the other sections alone.

Each benchmark owns the section under its `## <title>` heading and replaces it on every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent / "README.md"
HEADER = (
    "# Benchmarks\n\n"
    "Figures are ratios against a baseline measured in the same run (these machines are noisy);\n"
    "absolute times are given for orientation only. Each section is rewritten by its script.\n"
)


def machine() -> str:
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores, {system}, Python {platform.python_version()}"


def write_section(title: str, body: str) -> None:
    text = README.read_text() if README.exists() else HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    README.write_text(text.rstrip("\n") + "\n")


Results = dict[str, Any]


def lab_main(
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace, Path], Coroutine[Any, Any, Results]],
    write: Callable[[argparse.Namespace, Results], str],
    section: str,
    prefix: str,
) -> None:
    """The `main` of a benchmark that builds its own lab: `--no-write` (print only) and
    `--results FILE` (rewrite the section from a run's JSON output) added to `parser`; else
    `run(args, tmp)` in a world-readable temporary directory, its JSON printed, then the section
    `write` makes printed and written into bench/README.md."""
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--results", type=Path, help="rewrite the section from this JSON output")
    args = parser.parse_args()
    if args.results:
        results = json.loads(args.results.read_text())
    else:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            os.chmod(tmp, 0o755)
            results = asyncio.run(run(args, Path(tmp)))
        print(json.dumps(results, indent=1, default=str))
    body = write(args, results)
    print(body)
    if not args.no_write:
        write_section(section, body)
