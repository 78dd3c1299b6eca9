"""Text for `reconciler diff`: one unified diff per changed pod, like `kubectl diff`, and a summary
of what would be created, replaced and deleted on each host. Pure: strings from a `PlanResult`.

A created pod is shown in full; a deleted one as its host reports it; a replaced one as the
observed summary against the desired summary plus, in full, the parts whose digest changed (the
host keeps no copy of the old spec, only digests, so those parts appear as added lines).
Secret values are `<redacted>` (see `views`).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from reconciler.model import hoststate
from reconciler.plan import export, pipeline, podrun, views

_PLAIN = re.compile(r"^[A-Za-z0-9_./@<>-]([A-Za-z0-9_./@<>=+:-]*[A-Za-z0-9_./@<>=+-])?$")
_NUMBER = re.compile(r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$|^0[xXoObB]")
_RESERVED = frozenset(
    {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "~", "<<", "-", "="}
)
_KINDS = (hoststate.ActionKind.CREATE, hoststate.ActionKind.REPLACE, hoststate.ActionKind.DELETE)


def to_yaml(value: Any) -> str:
    """A small, stable YAML emitter for views: keys in the given order, strings quoted (as JSON)
    when plain YAML could read them as something else, multi-line strings as `|` blocks."""
    return "".join(line + "\n" for line in _lines(value, 0))


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and not _NUMBER.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text, ensure_ascii=False)


def _lines(value: Any, indent: int) -> list[str]:
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        out = []
        for key, item in value.items():
            out.extend(_entry(pad + _scalar(key) + ":", item, indent))
        return out
    if isinstance(value, list):
        if not value:
            return [pad + "[]"]
        out = []
        for item in value:
            if isinstance(item, dict) and item:
                nested = _lines(item, indent + 1)
                out.append(pad + "- " + nested[0].lstrip())
                out.extend(nested[1:])
            else:
                out.extend(_entry(pad + "-", item, indent))
        return out
    return [pad + _scalar(value)]


def _entry(head: str, item: Any, indent: int) -> list[str]:
    """`head` (a `key:` or `-`) followed by the item, inline or nested below."""
    if isinstance(item, str) and "\n" in item:
        chomp = "" if item.endswith("\n") else "-"
        body = ["  " * (indent + 1) + line if line else "" for line in item.splitlines()]
        return [f"{head} |{chomp}", *body]
    if isinstance(item, dict | list) and item:
        return [head, *_lines(item, indent + 1)]
    if isinstance(item, dict | list):
        return [f"{head} {'{}' if isinstance(item, dict) else '[]'}"]
    return [f"{head} {_scalar(item)}"]


def action_diff(action: hoststate.Action) -> str:
    """A unified diff of one action, headed by a comment saying what and why (a restart changes
    no spec: its comment is all)."""
    if action.kind is hoststate.ActionKind.RESTART:
        return (f"# restart container {action.container} of {action.namespace}/{action.name} "
                f"on {action.host}: {action.reason}\n")  # fmt: skip
    where = f"{action.host}/{action.namespace}/{action.name}"
    before: list[str] = []
    after: list[str] = []
    if action.observed is not None:
        before = to_yaml(views.observed_view(action.observed)).splitlines(keepends=True)
    if action.run is not None:
        detail = None
        if action.observed is not None:
            changed = podrun.changed_parts(action.observed, action.run)
            detail = frozenset(changed) if changed else None
        after = to_yaml(views.run_view(action.run, detail)).splitlines(keepends=True)
    lines = difflib.unified_diff(
        before,
        after,
        fromfile=f"observed/{where}" if before else "/dev/null",
        tofile=f"desired/{where}" if after else "/dev/null",
        n=max(len(before), len(after)),
    )
    header = f"# {action.kind} {action.namespace}/{action.name} on {action.host}: {action.reason}\n"
    return header + "".join(lines)


def diff_text(result: pipeline.PlanResult) -> str:
    """Every action's diff, in plan order; "" when there is nothing to do."""
    return "".join(action_diff(action) for action in result.plan.actions)


def summary(result: pipeline.PlanResult) -> str:
    """`Plan: 2 to create, 1 to replace, 0 to delete, 4 unchanged.`, then per host, then what
    blocks the plan (unreachable hosts, unschedulable pods, errors)."""
    counted = export.counts(result.plan)
    lines = [f"Plan for revision {result.revision}: {_counts(counted)}."]
    lines.extend(f"  {host}: {_counts(numbers)}" for host, numbers in counted["hosts"].items())
    if result.unreachable:
        lines.append(
            "Hosts not ready (their pods are unknown; nothing is planned there): "
            + ", ".join(result.unreachable)
        )
    if result.unschedulable:
        lines.append("Unschedulable:")
        lines.extend(f"  {entry.pod}: {entry.message}" for entry in result.unschedulable)
    if result.errors:
        lines.append("Errors:")
        lines.extend(f"  {error.format()}" for error in result.errors)
    if result.plan.reclaims:
        lines.append("Claim volumes to remove (claim gone from git, reclaim policy Delete):")
        lines.extend(f"  {c.host}: {c.volume} ({c.namespace}/{c.claim})"
                     for c in result.plan.reclaims)  # fmt: skip
    if result.held:
        lines.append("Held (left as they run because of the problems above):")
        lines.extend(f"  {namespace}/{name}" for namespace, name in result.held)
    return "\n".join(lines) + "\n"


def _counts(numbers: Mapping[str, int]) -> str:
    parts = [f"{numbers[kind.value]} to {kind.value}" for kind in _KINDS]
    restarts = numbers.get(hoststate.ActionKind.RESTART.value, 0)
    if restarts:  # shown only when there are any: most plans have none
        parts.append(f"{restarts} container(s) to restart")
    return ", ".join([*parts, f"{numbers['unchanged']} unchanged"])
