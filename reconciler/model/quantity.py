"""Kubernetes resource quantities (`500m`, `128Mi`, `2`, `1e3`) parsed to exact integers.

Used by the loader to turn `resources` and Host `capacity` into cpu millicores and memory bytes,
the units the scheduler adds up and Podman's `--cpus`/`--memory` take.
"""

from __future__ import annotations

import re
from fractions import Fraction

_QUANTITY = re.compile(
    r"^(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exp>[+-]?[0-9]+))?$"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_MAX_TEXT = 64
_MAX_EXPONENT = 30


class QuantityError(ValueError):
    """A quantity that cannot be parsed or does not fit its use; `hint` says what to write."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def parse(value: object) -> Fraction:
    """The exact value of a quantity given as a string or a YAML number."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise QuantityError(
            "a quantity must be a string or a number",
            'write it as a string such as "500m" or "128Mi"',
        )
    text = value if isinstance(value, str) else _number_text(value)
    match = _QUANTITY.match(text) if len(text) <= _MAX_TEXT else None
    if match is None:
        raise QuantityError(
            f"invalid quantity {text[:_MAX_TEXT]!r}",
            "write a number with an optional suffix: m (milli), k, M, G, T or Ki, Mi, Gi, Ti "
            '(for example "500m", "128Mi", "2")',
        )
    number = Fraction(match["number"])
    if match["sign"] == "-":
        number = -number
    suffix = match["suffix"]
    if suffix in _BINARY:
        return number * Fraction(1024 ** _BINARY[suffix])
    exponent = _DECIMAL[suffix] if suffix else int(match["exp"] or 0)
    if abs(exponent) > _MAX_EXPONENT:
        raise QuantityError(
            f"quantity {text!r} has an exponent out of range",
            f"use an exponent between -{_MAX_EXPONENT} and {_MAX_EXPONENT}",
        )
    return number * Fraction(10) ** exponent


def cpu_millicores(value: object) -> int:
    """CPU as whole millicores (`"500m"` -> 500, `2` -> 2000)."""
    quantity = parse(value)
    _check_not_negative(quantity, value)
    millis = quantity * 1000
    if millis.denominator != 1:
        raise QuantityError(
            f"cpu quantity {_show(value)} is finer than one millicore",
            'round it to whole millicores, for example "250m"',
        )
    return int(millis)


def memory_bytes(value: object) -> int:
    """Memory as whole bytes (`"128Mi"` -> 134217728)."""
    quantity = parse(value)
    _check_not_negative(quantity, value)
    if quantity.denominator != 1:
        hint = "memory is counted in whole bytes"
        if isinstance(value, str) and value.endswith("m"):
            hint = f'"m" means milli (1/1000), not mega: did you mean "{value[:-1]}Mi"?'
        raise QuantityError(f"memory quantity {_show(value)} is not a whole number of bytes", hint)
    return int(quantity)


def format_millicores(millicores: int) -> str:
    """The canonical cpu text: `"2"` for whole cores, otherwise `"500m"`."""
    if millicores % 1000 == 0:
        return str(millicores // 1000)
    return f"{millicores}m"


def format_bytes(size: int) -> str:
    """The canonical memory text with the largest exact binary suffix (`"128Mi"`)."""
    for suffix, power in sorted(_BINARY.items(), key=lambda item: -item[1]):
        unit = 1024**power
        if size and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def _check_not_negative(quantity: Fraction, value: object) -> None:
    if quantity < 0:
        raise QuantityError(
            f"quantity {_show(value)} is negative", "resources and capacity cannot be negative"
        )


def _number_text(value: int | float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _show(value: object) -> str:
    return repr(value if isinstance(value, str) else str(value))
