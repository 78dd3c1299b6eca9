"""What one libyaml node means, for `yamlevents.Builder`: a mapping key (a plain string, or a
finding: merge keys, null/boolean keys, YAML 1.1 ambiguity, duplicates), a scalar's value under
its tag, and a collection's tag. Pure: each returns its finding, the builder places it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.manifests import filemodes, scalars
from reconciler.model import diagnostics as dg

UNSUPPORTED_TAG_HINT = "remove the tag; Kubernetes manifests use plain JSON types"


@dataclass(frozen=True)
class Finding:
    """A problem with one node. `redacted` and `redacted_hint` stand in for `message` and
    `hint` in a Secret (None: the same text, which then quotes no value)."""

    code: dg.Code
    message: str
    hint: str
    redacted: str | None = None
    redacted_hint: str | None = None


def key(event: Any, first_line: Callable[[str], int | None]) -> Finding | None:
    """The finding for a mapping key's scalar event, None for a good key. `first_line(text)`:
    the line where the same mapping already defined that key, None if it did not."""
    text: str = event.value
    tag = event.tag
    if tag is not None and str(tag) not in (scalars.STR_TAG, "!"):
        return Finding(dg.Code.YAML_TAG, f"unsupported tag {tag} on a mapping key",
                       "remove the tag; keys are strings")  # fmt: skip
    if event.style in ("", None) and tag is None:
        if text == "<<":
            return Finding(dg.Code.YAML_KEY, "merge keys (<<) are not supported",
                           "write the keys out in full")  # fmt: skip
        if text in scalars.NULL or text in scalars.TRUE or text in scalars.FALSE:
            return Finding(
                dg.Code.YAML_KEY,
                f"key {text or '(empty)'} is not a string (YAML reads it as "
                f"{'null' if text in scalars.NULL else 'a boolean'})",
                f'quote the key: "{text}"',
            )
        readings = scalars.ambiguity(text)
        if readings is not None:
            return ambiguous(text, readings)
    first = first_line(text)
    if first is not None:
        return Finding(
            dg.Code.YAML_DUPLICATE_KEY,
            f"duplicate key {text!r} (first defined at line {first})",
            "remove one of the two; Kubernetes rejects duplicate keys",
        )
    return None


def scalar(event: Any, path: Callable[[], list[str | int]]) -> tuple[object, Finding | None]:
    """A scalar event's value (the text itself where it is refused) and its finding, if any.
    `path()`: the node's field path (a file mode such as 0644 is read as Kubernetes does)."""
    text: str = event.value
    tag = event.tag
    if tag is None:
        if event.style not in ("", None):
            return text, None
        readings = scalars.ambiguity(text)
        if readings is not None:
            mode = filemodes.yaml_octal(path(), text)  # 0644, as Kubernetes
            if mode is not None:
                return mode, None
            return text, ambiguous(text, readings)
        return scalars.resolve_plain(text), None
    tag = str(tag)
    if tag in (scalars.STR_TAG, "!"):
        return text, None
    if tag not in scalars.EXPLICIT_TAGS:
        return text, Finding(dg.Code.YAML_TAG, f"unsupported YAML tag {tag}", UNSUPPORTED_TAG_HINT)
    value = scalars.resolve_plain(text) if text else None
    expected = tag.rsplit(":", 1)[1]
    actual = {type(None): "null", bool: "bool", int: "int", float: "float", str: "str"}
    widened = expected == "float" and isinstance(value, int) and not isinstance(value, bool)
    if actual.get(type(value)) != expected and not widened:
        return text, Finding(
            dg.Code.YAML_TAG,
            f"value {text!r} is not a valid !!{expected}",
            "fix the value or remove the tag",
            redacted=f"a value is not a valid !!{expected}",
        )
    return (float(value) if widened and isinstance(value, int) else value), None


def collection_tag(event: Any) -> Finding | None:
    """The finding for a mapping's or sequence's tag, None when it has none or a standard one."""
    tag = event.tag
    if tag is not None and str(tag) not in scalars.CONTAINER_TAGS and str(tag) != "!":
        return Finding(dg.Code.YAML_TAG, f"unsupported YAML tag {tag}", UNSUPPORTED_TAG_HINT)
    return None


def ambiguous(text: str, readings: tuple[str, str]) -> Finding:
    """A plain value that YAML 1.1 (Kubernetes) and YAML 1.2 read differently."""
    yaml11, yaml12 = readings
    return Finding(
        dg.Code.YAML_AMBIGUOUS,
        f"ambiguous value {text!r}: YAML 1.1 (Kubernetes) reads it as {yaml11}, "
        f"YAML 1.2 as {yaml12}",
        f'quote it ("{text}") if you mean a string, or write it as JSON would',
        redacted="ambiguous plain value: YAML 1.1 (Kubernetes) and YAML 1.2 read it differently",
        redacted_hint="quote the value if you mean a string, or write it as JSON would",
    )
