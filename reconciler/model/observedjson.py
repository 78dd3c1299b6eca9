"""What an executor observed on hosts (`hoststate.HostObservation` with the `HostTarget` it was
read at) as plain JSON values and back, losslessly: the daemon's GET /v1/observe (`web.observe`)
sends it and `cli.daemonclient` reads it, so a one-shot `diff`/`get` plans on the daemon's
observation exactly as on its own.

The codec follows the frozen dataclasses' own type hints (dataclasses, tuples, `FrozenMap`,
StrEnums, optional scalars), so a field added to the observed values travels without a change
here; `decode` raises `FormatError` (never KeyError/TypeError) for a document it cannot read.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

from reconciler.model import base, hoststate

VERSION = 1
"""Bumped when the shape changes incompatibly; a client refuses a version it does not know."""
SCALARS = (str, int, float, bool)


class FormatError(ValueError):
    """The document is not an observation this version can read; the message says where."""


# ----- any value of the observed types --------------------------------------------------------


def to_json(value: object) -> Any:
    """A dataclass as an object of its fields, a tuple as a list, a FrozenMap as a list of
    [key, value] pairs (its order kept), an enum as its value."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, str):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, base.FrozenMap):
        return [[to_json(k), to_json(v)] for k, v in value.items()]
    if isinstance(value, tuple):
        return [to_json(item) for item in value]
    raise TypeError(f"observedjson cannot encode a {type(value).__name__}")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_json(hint: Any, raw: object, where: str) -> Any:
    """The value of type `hint` that `to_json` wrote as `raw`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if raw is None and type(None) in args:
            return None
        (real,) = [a for a in args if a is not type(None)]  # X | None only
        return from_json(real, raw, where)
    if hint is Any:
        return raw
    if origin is tuple:
        if not isinstance(raw, list):
            raise FormatError(f"{where}: expected a list, got {type(raw).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_json(args[0], item, f"{where}[{i}]") for i, item in enumerate(raw))
        if len(raw) != len(args):
            raise FormatError(f"{where}: expected {len(args)} items, got {len(raw)}")
        return tuple(from_json(a, item, where) for a, item in zip(args, raw, strict=True))
    if origin is base.FrozenMap:
        if not isinstance(raw, list) or not all(isinstance(p, list) and len(p) == 2 for p in raw):
            raise FormatError(f"{where}: expected a list of [key, value] pairs")
        key_hint, value_hint = args
        return base.FrozenMap((from_json(key_hint, k, where), from_json(value_hint, v, where))
                              for k, v in raw)  # fmt: skip
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint, raw, where)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(raw)
        except ValueError as exc:
            raise FormatError(f"{where}: {exc}") from None
    if hint in SCALARS:
        ok = isinstance(raw, hint) and (hint is bool or not isinstance(raw, bool))
        if hint is float and isinstance(raw, int) and not isinstance(raw, bool):
            return float(raw)
        if not ok:
            raise FormatError(f"{where}: expected {hint.__name__}, got {type(raw).__name__}")
        return hint(raw)
    raise FormatError(f"{where}: cannot read a value of type {hint!r}")


def _dataclass(cls: type, raw: object, where: str) -> Any:
    if not isinstance(raw, dict):
        raise FormatError(f"{where}: expected an object, got {type(raw).__name__}")
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in raw:
            values[f.name] = from_json(hints[f.name], raw[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise FormatError(f"{where}: missing {f.name!r}")
    return cls(**values)


# ----- the observation of hosts ---------------------------------------------------------------


def encode(observations: Mapping[str, hoststate.HostObservation],
           targets: Mapping[str, hoststate.HostTarget]) -> list[dict[str, Any]]:  # fmt: skip
    """One item per observed host, in the mapping's order: the target it was read at (so a
    client can tell it is the host it means) and the observation."""
    return [{"target": to_json(targets[name]), "observation": to_json(seen)}
            for name, seen in observations.items()]  # fmt: skip


def decode(raw: object) -> list[tuple[hoststate.HostTarget, hoststate.HostObservation]]:
    """The items of `encode`, in order."""
    if not isinstance(raw, list):
        raise FormatError("hosts: not a list")
    found = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise FormatError(f"hosts[{i}]: not an object")
        target = from_json(hoststate.HostTarget, entry.get("target"), f"hosts[{i}].target")
        seen = from_json(hoststate.HostObservation, entry.get("observation"),
                         f"host {target.name}")  # fmt: skip
        if seen.host != target.name:
            raise FormatError(f"host {target.name}: its observation is of {seen.host!r}")
        found.append((target, seen))
    return found
