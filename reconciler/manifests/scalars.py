"""Plain YAML scalars resolved as YAML 1.2 and JSON read them, and the ones YAML 1.1 reads
differently (`yes`, `on`, `010`, `1:30`): the YAML builder flags those instead of guessing.
"""

from __future__ import annotations

import re

NULL = frozenset({"", "~", "null", "Null", "NULL"})
TRUE = frozenset({"true", "True", "TRUE"})
FALSE = frozenset({"false", "False", "FALSE"})
_YAML11_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"})
_YAML11_FALSE = frozenset({"n", "N", "no", "No", "NO", "off", "Off", "OFF"})
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
_YAML11_NUMBER = re.compile(
    r"^[-+]?(?:0[0-9_]+|0o[0-7]+|0b[01_]+|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"
    r"|[0-9][0-9_]*_[0-9_]*(?:\.[0-9_]*)?)$"
)
_NUMERIC_START = frozenset("0123456789+-.")

STR_TAG = "tag:yaml.org,2002:str"
EXPLICIT_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null")
)
CONTAINER_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


def ambiguity(text: str) -> tuple[str, str] | None:
    """(how YAML 1.1 reads it, how YAML 1.2 reads it) for a plain scalar they disagree on."""
    if text in _YAML11_TRUE:
        return "the boolean true", f"the string {text!r}"
    if text in _YAML11_FALSE:
        return "the boolean false", f"the string {text!r}"
    if text and text[0] in _NUMERIC_START and _YAML11_NUMBER.match(text):
        if "_" in text:
            return "a number (underscores are ignored)", f"the string {text!r}"
        if ":" in text:
            return "a base-60 number", f"the string {text!r}"
        if text.lstrip("+-").startswith(("0o", "0b")):
            return "a string or an integer", "another value"
        return "an octal number", "a decimal number"
    return None


def resolve_plain(text: str) -> object:
    """A plain scalar as YAML 1.2's core schema (and JSON) reads it."""
    if text in NULL:
        return None
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    if text[0] not in _NUMERIC_START:
        return text
    if _INT.match(text):
        return int(text)
    if _HEX.match(text):
        return int(text, 16)
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.match(text):
        return float("nan")
    return text
