"""Write one benchmark's section into bench/README.md, leaving the other sections alone.

Each benchmark owns the section under its `## <title>` heading and replaces it on every run.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

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
