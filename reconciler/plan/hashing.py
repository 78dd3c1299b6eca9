"""Stable digests of typed values: the pod-template hash in pod names and the spec hash on podman
labels. Used by `expand` and `podrun`; a digest must not change between runs, processes or
releases, or every pod would be replaced on upgrade.

A value is first turned into canonical JSON data: dataclass fields by name with fields still at
their default left out (so adding a defaulted field to the model changes no existing hash), enums
as their value, mappings with sorted keys, tuples as lists. Bytes and `Sensitive` strings enter
only as their SHA-256, so secret values never sit in the canonical text.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from reconciler.model import hoststate

ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""Kubernetes' `SafeEncodeString` alphabet: no vowels (no accidental words), no 0/1/3."""

TEMPLATE_HASH_LENGTH = 10
SPEC_HASH_LENGTH = 10
PART_HASH_LENGTH = 8

Data = None | bool | int | str | list["Data"] | dict[str, "Data"]


def canonical(value: object) -> Data:
    """JSON data that depends only on the value's content, never on object identity or order of
    construction of mappings."""
    if isinstance(value, hoststate.Sensitive):
        return {"sensitive-sha256": hashlib.sha256(value.encode()).hexdigest()}
    if isinstance(value, enum.Enum):
        return canonical(value.value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, bytes):
        return {"sha256": hashlib.sha256(value).hexdigest()}
    if isinstance(value, Mapping):
        items = sorted((str(key), item) for key, item in value.items())
        return {key: canonical(item) for key, item in items}
    if isinstance(value, tuple | list):
        return [canonical(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: canonical(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.compare and not _at_default(f, getattr(value, f.name))
        }
    raise TypeError(f"no canonical form for {type(value).__name__}")


def _at_default(f: dataclasses.Field[Any], value: object) -> bool:
    if f.default is not dataclasses.MISSING:
        return bool(value == f.default)
    if f.default_factory is not dataclasses.MISSING:
        return bool(value == f.default_factory())
    return False


def digest(value: object, length: int) -> str:
    """`length` characters of `ALPHABET` from the SHA-256 of the value's canonical JSON."""
    text = json.dumps(canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    number = int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[index])
    return "".join(chars)
