"""A yes/no JSON-schema check compiled to closures: the fast path of `schemas` validation.

Most documents are valid, and for those jsonschema's general machinery costs most of the load
time. This compiles an inlined schema, for the handful of keywords our schemas use, into nested
closures that only answer "valid?". When the answer is no, `schemas` runs jsonschema for the full
error list, so messages never depend on this module; a test holds its verdicts to jsonschema's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]


class UnsupportedSchemaError(Exception):
    """The schema uses a keyword this compiler does not handle; use jsonschema alone."""


def compile_schema(schema: Mapping[str, Any] | bool) -> Check:
    if schema is True:
        return _always
    if schema is False:
        return _never
    checks = [_keyword(key, value, schema) for key, value in schema.items()]
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    return lambda instance: all(check(instance) for check in checks)


def _always(instance: Any) -> bool:
    return True


def _never(instance: Any) -> bool:
    return False


def _keyword(key: str, value: Any, schema: Mapping[str, Any]) -> Check:
    if key == "type":
        return _type(value)
    if key == "properties":
        return _properties(value)
    if key == "additionalProperties":
        return _additional(value, frozenset(schema.get("properties", {})))
    if key == "required":
        names = tuple(value)
        return lambda x: not isinstance(x, dict) or all(n in x for n in names)
    if key == "items" and isinstance(value, dict | bool):
        item = compile_schema(value)
        return lambda x: not isinstance(x, list) or all(item(i) for i in x)
    if key == "enum":
        options = tuple(value)
        return lambda x: any(_equal(x, option) for option in options)
    if key == "const":
        return lambda x: _equal(x, value)
    if key in ("minimum", "maximum"):
        bound = value
        if key == "minimum":
            return lambda x: not _is_number(x) or x >= bound
        return lambda x: not _is_number(x) or x <= bound
    if key in ("allOf", "anyOf", "oneOf"):
        subs = tuple(compile_schema(sub) for sub in value)
        if key == "allOf":
            return lambda x: all(sub(x) for sub in subs)
        if key == "anyOf":
            return lambda x: any(sub(x) for sub in subs)
        return lambda x: sum(1 for sub in subs if sub(x)) == 1
    raise UnsupportedSchemaError(key)


def _type(value: str | list[str]) -> Check:
    names = (value,) if isinstance(value, str) else tuple(value)
    tests = tuple(_TYPE_TESTS[name] for name in names)
    if len(tests) == 1:
        return tests[0]
    return lambda x: any(test(x) for test in tests)


def _properties(value: Mapping[str, Any]) -> Check:
    subs = {name: compile_schema(sub) for name, sub in value.items()}

    def check(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return True
        for name, item in instance.items():
            sub = subs.get(name)
            if sub is not None and not sub(item):
                return False
        return True

    return check


def _additional(value: Any, known: frozenset[str]) -> Check:
    if value is False:
        return lambda x: not isinstance(x, dict) or all(k in known for k in x)
    sub = compile_schema(value)
    return lambda x: not isinstance(x, dict) or all(sub(v) for k, v in x.items() if k not in known)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _is_integer(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


def _equal(x: Any, y: Any) -> bool:
    """jsonschema's equality: booleans are not numbers, 1 == 1.0, containers compare deeply."""
    if isinstance(x, bool) or isinstance(y, bool):
        return isinstance(x, bool) and isinstance(y, bool) and x == y
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_equal(x[k], y[k]) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_equal(a, b) for a, b in zip(x, y, strict=True))
    if _is_number(x) and _is_number(y):
        return bool(x == y)
    return type(x) is type(y) and bool(x == y)


_TYPE_TESTS: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}
