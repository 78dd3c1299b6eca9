"""Source positions of a parsed YAML document, looked up by field path.

The YAML reader records, for every mapping and list it builds, where each key and value started;
the validators turn a field path such as `("spec", "containers", 0, "image")` into `file:line:col`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

Path = tuple[str | int, ...]
Mark = tuple[int, int]
"""A 1-based (line, column)."""

_PLAIN_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass
class Positions:
    """Key and value marks per container, keyed by the container's `id()` (the containers are
    kept alive by the document, and an alias shares its anchor's marks)."""

    root: Mark
    containers: dict[int, dict[str | int, tuple[Mark, Mark]]] = field(default_factory=dict)

    def value(self, root: object, path: Sequence[str | int]) -> Mark:
        """Where the value at `path` starts; the nearest known ancestor if the path is cut."""
        return self._walk(root, path, key=False)

    def key(self, root: object, path: Sequence[str | int]) -> Mark:
        """Where the key of the last path element starts (the value's mark for list items)."""
        return self._walk(root, path, key=True)

    def _walk(self, root: object, path: Sequence[str | int], key: bool) -> Mark:
        mark = self.root
        node = root
        for depth, segment in enumerate(path):
            marks = self.containers.get(id(node))
            if marks is None or segment not in marks:
                return mark
            key_mark, value_mark = marks[segment]
            last = depth == len(path) - 1
            mark = key_mark if (key and last) else value_mark
            node = _child(node, segment)
        return mark


def _child(node: object, segment: str | int) -> object:
    if isinstance(node, dict):
        return node.get(segment)
    if isinstance(node, list) and isinstance(segment, int) and 0 <= segment < len(node):
        return node[segment]
    return None


def format_path(path: Sequence[str | int]) -> str:
    """`spec.containers[0].image`; keys that are not identifiers are quoted: `labels["a/b"]`."""
    out: list[str] = []
    for segment in path:
        if isinstance(segment, int):
            out.append(f"[{segment}]")
        elif _PLAIN_SEGMENT.match(segment):
            out.append(f".{segment}" if out else segment)
        else:
            out.append(f"[{_quote(segment)}]")
    return "".join(out)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
