"""Turn JSON-schema validation errors into diagnostics a person can act on.

Called by `loader` for each document after `schemas` validation: tells an unknown field (upstream
Kubernetes has no such field) from an unsupported one (Kubernetes has it, we do not implement it),
and never quotes a value from a Secret.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from reconciler.manifests import positions as pos
from reconciler.manifests import yamldocs
from reconciler.model import diagnostics as dg

_JSON_TYPE_NAMES = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    dict: "object",
    list: "array",
}
_YAML_WORDS = {
    "null": "null",
    "boolean": "a boolean (true or false)",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
}


def translate(
    errors: Iterable[Any], document: yamldocs.Document, *, has_upstream: bool, redact: bool
) -> list[dg.Diagnostic]:
    """Diagnostics for the schema errors of one document, deduplicated, in source order."""
    translator = _Translator(document, has_upstream, redact)
    for error in errors:
        translator.add(error)
    return sorted(translator.found.values(), key=lambda d: (d.line, d.column, d.path))


class _Translator:
    def __init__(self, document: yamldocs.Document, has_upstream: bool, redact: bool) -> None:
        self.document = document
        self.has_upstream = has_upstream
        self.redact = redact
        self.found: dict[tuple[str, str], dg.Diagnostic] = {}

    def add(self, error: Any) -> None:
        path: list[str | int] = list(error.absolute_path)
        upstream = self.has_upstream and list(error.schema_path)[:2] == ["allOf", 0]
        validator = error.validator
        if validator == "additionalProperties":
            self._extra_fields(error, path, upstream)
        elif validator == "required":
            self._missing_fields(error, path)
        elif validator == "type":
            self._emit(path, dg.Code.WRONG_TYPE, *self._type(error.validator_value, error.instance))
        elif validator in ("oneOf", "anyOf"):
            self._alternatives(error, path)
        elif validator in ("enum", "const"):
            allowed = error.validator_value if validator == "enum" else [error.validator_value]
            choices = ", ".join(_show(value) for value in allowed)
            shown = not self.redact or path == ["type"]  # a Secret's type is not secret
            got = f", not {_show(error.instance)}" if shown else ""
            self._emit(
                path,
                dg.Code.INVALID_VALUE,
                f"must be one of {choices}{got}",
                "use one of the listed values",
            )
        elif validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            words = {
                "minimum": "at least",
                "maximum": "at most",
                "exclusiveMinimum": "more than",
                "exclusiveMaximum": "less than",
            }
            bound = error.validator_value
            wanted = {
                "minimum": f"{bound} or more",
                "maximum": f"{bound} or less",
                "exclusiveMinimum": f"more than {bound}",
                "exclusiveMaximum": f"less than {bound}",
            }
            self._emit(
                path,
                dg.Code.INVALID_VALUE,
                f"must be {words[validator]} {bound}",
                f"write a number of {wanted[validator]}",
            )
        else:
            self._emit(
                path,
                dg.Code.INVALID_VALUE,
                f"value is not valid (schema keyword {validator!r}: "
                f"{_show(error.validator_value)})",
                "see docs/manifests.md for what this field accepts",
            )

    def _extra_fields(self, error: Any, path: list[str | int], upstream: bool) -> None:
        instance = error.instance if isinstance(error.instance, dict) else {}
        known: dict[str, Any] = error.schema.get("properties", {})
        for name in instance:
            if name in known:
                continue
            field_path = [*path, name]
            key = (pos.format_path(field_path), "field")
            if upstream or not self.has_upstream:
                close = difflib.get_close_matches(name, list(known), n=1)
                hint = f'did you mean "{close[0]}"?' if close else "remove it"
                where = "Kubernetes" if self.has_upstream else "this kind"
                self._put(
                    key,
                    field_path,
                    dg.Code.UNKNOWN_FIELD,
                    f'unknown field "{name}" ({where} has no such field here)',
                    hint,
                    replace=True,
                )
            else:
                supported = ", ".join(sorted(known))
                self._put(
                    key,
                    field_path,
                    dg.Code.UNSUPPORTED_FIELD,
                    f'field "{name}" is not supported by reconciler '
                    "(Kubernetes has it, reconciler does not implement it)",
                    f"remove it; supported here: {supported}"
                    if supported
                    else "remove it; reconciler supports none of this object's fields",
                    replace=False,
                )

    def _missing_fields(self, error: Any, path: list[str | int]) -> None:
        instance = error.instance if isinstance(error.instance, dict) else {}
        for name in error.validator_value:
            if name not in instance:
                self._put(
                    (pos.format_path([*path, name]), "required"),
                    path,
                    dg.Code.REQUIRED_FIELD,
                    f'missing required field "{name}"',
                    f'add "{name}"',
                    replace=False,
                    shown=[*path, name],
                )

    def _alternatives(self, error: Any, path: list[str | int]) -> None:
        types: list[str] = []
        for sub in error.context or ():
            if sub.validator == "type":
                value = sub.validator_value
                types += [value] if isinstance(value, str) else list(value)
        if types:
            self._emit(path, dg.Code.WRONG_TYPE, *self._type(types, error.instance))
        else:
            self._emit(
                path,
                dg.Code.INVALID_VALUE,
                "value matches none of the allowed forms",
                "see docs/manifests.md for what this field accepts",
            )

    def _type(self, expected: Any, instance: Any) -> tuple[str, str]:
        names = [expected] if isinstance(expected, str) else list(expected)
        names = list(dict.fromkeys(name for name in names if name != "null"))
        got = _JSON_TYPE_NAMES.get(type(instance), type(instance).__name__)
        wanted = " or ".join(_YAML_WORDS.get(name, name) for name in names)
        message = f"expected {wanted}, got {_YAML_WORDS.get(got, got)}"
        if got == "string" and ("integer" in names or "boolean" in names):
            hint = "remove the quotes"
        elif "string" in names and got in ("integer", "number", "boolean"):
            hint = "quote the value"
        elif got == "null":
            hint = "give it a value or remove the field"
        elif names == ["array"]:
            hint = "write a list: one item per line, each starting with '- '"
        elif names == ["object"]:
            hint = "write a mapping of `key: value` lines, indented under this field"
        else:
            hint = f"write {wanted} here"
        return message, hint

    def _emit(self, path: list[str | int], code: dg.Code, message: str, hint: str) -> None:
        self._put((pos.format_path(path), message), path, code, message, hint, replace=False)

    def _put(
        self,
        key: tuple[str, str],
        path: list[str | int],
        code: dg.Code,
        message: str,
        hint: str,
        *,
        replace: bool,
        shown: list[str | int] | None = None,
    ) -> None:
        if key in self.found and not replace:
            return
        is_field = code in (dg.Code.UNKNOWN_FIELD, dg.Code.UNSUPPORTED_FIELD)
        line, column = self.document.at(tuple(path), key=is_field)
        self.found[key] = dg.Diagnostic(
            self.document.file,
            line,
            column,
            pos.format_path(shown if shown is not None else path),
            message,
            hint,
            code,
        )


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "an object"
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)
