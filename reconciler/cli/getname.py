"""`reconciler get RESOURCE NAME`: the rows of one object, as kubectl's `get pods NAME`.

`get.run_get` makes the whole list as it would without NAME (here, through the daemon or the
agent: the same output), this module keeps the rows whose NAME is the one asked for; none is
kubectl's NotFound, exit 1 (a host that could not be read: 4, its pods unknown).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Callable
from typing import Any

EMPTY = "No resources found.\n"  # `web.getrows.render` on an empty list
EXIT_OK, EXIT_NOT_FOUND, EXIT_INCOMPLETE = 0, 1, 4  # common.EXIT_*, without importing it


def run(make_list: Callable[[], int], resource: str, name: str, output: str) -> int:
    """Run `make_list` with its output captured, then print only the rows named `name`."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = make_list()
    text, found = only(out.getvalue(), name, output)
    sys.stdout.write(text)
    sys.stderr.write(err.getvalue().replace(EMPTY, ""))
    if found or code not in (EXIT_OK, EXIT_INCOMPLETE):  # usage or manifest errors: as they are
        return code
    where = " on the hosts that answered" if code == EXIT_INCOMPLETE else ""
    sys.stderr.write(f'reconciler get: {resource} "{name}" not found{where}\n')
    return code if code == EXIT_INCOMPLETE else EXIT_NOT_FOUND


def only(text: str, name: str, output: str) -> tuple[str, bool]:
    """(`text` cut to the rows or items named `name`, whether there was one). A table keeps its
    header; JSON and YAML keep the list's shape (`{"kind": ..., "items": [...]}`)."""
    if not text.strip():
        return "", False
    if output in ("json", "yaml"):
        document = json.loads(text) if output == "json" else _yaml_load(text)
        items = [i for i in document.get("items", []) if i.get("name") == name]
        if not items:
            return "", False
        kept = {**document, "items": items}
        return (json.dumps(kept, indent=2) + "\n" if output == "json" else _yaml_dump(kept)), True
    header, *rows = text.splitlines(keepends=True)
    column = header.split().index("NAME")
    kept_rows = [r for r in rows if len(r.split()) > column and r.split()[column] == name]
    return ("".join([header, *kept_rows]) if kept_rows else ""), bool(kept_rows)


def _yaml_load(text: str) -> dict[str, Any]:
    from ruamel.yaml import YAML  # noqa: PLC0415 (only -o yaml pays for it)

    loaded: dict[str, Any] = YAML(typ="safe", pure=True).load(text)
    return loaded


def _yaml_dump(document: dict[str, Any]) -> str:
    from ruamel.yaml import YAML  # noqa: PLC0415

    buf = io.StringIO()
    YAML(typ="safe", pure=True).dump(document, buf)
    return buf.getvalue()
