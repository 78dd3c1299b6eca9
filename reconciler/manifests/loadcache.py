"""What each manifest file gave the last load, kept by the file's path and content, for the next
load: a push that changes one file parses and validates that file only (`loader.load_repository`
with `cache=`); the checks across files (references, Services, placement, cluster IPs) run on
every load. A long-lived process (the daemon's reconciler) keeps one.

A file's part (its diagnostics, objects, declarations, references, documents) depends only on its
relative path, its bytes and the loader's settings (limits, schemas), so it is reused only for
the same path (a renamed file is read again: its diagnostics name it) with the same SHA-256 of
its content, under the same settings. SOPS-encrypted files are never kept (their part depends on
the age key too, and it holds decrypted values). Only the last load's files are kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from reconciler.manifests import checking, references, schemas, servicechecks, yamldocs
from reconciler.model import diagnostics as dg
from reconciler.model import objects

Key = tuple[str, bytes]  # (path relative to the root, SHA-256 of the content)
PARTS = ("diagnostics", "objects", "declared", "references", "placed")
"""The lists of a load (`loader._Run`) a file adds to, in `FilePart`'s order."""


@dataclass(frozen=True)
class FilePart:
    """Everything one file added to a load, in order."""

    complete: bool  # False: the file could not be parsed at all (references are not resolved)
    documents: int
    diagnostics: tuple[dg.Diagnostic, ...]
    objects: tuple[objects.Object, ...]
    declared: tuple[references.Declared, ...]
    references: tuple[checking.Reference, ...]
    placed: tuple[servicechecks.Placed, ...]


class LoadCache:
    """Used by one loading thread at a time (the daemon's loop)."""

    def __init__(self) -> None:
        self._last: dict[Key, FilePart] = {}
        self._next: dict[Key, FilePart] = {}
        self._settings: tuple[yamldocs.Limits, schemas.SchemaSet] | None = None
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._last)

    def begin(self, limits: yamldocs.Limits, schema_set: schemas.SchemaSet) -> None:
        """A load starts; parts kept under other settings are dropped."""
        settings = self._settings
        if settings is None or settings[0] != limits or settings[1] is not schema_set:
            self._last = {}
            self._settings = (limits, schema_set)
        self._next = {}

    def end(self) -> None:
        """The load ended: keep only its files' parts."""
        self._last, self._next = self._next, {}

    def get(self, key: Key | None) -> FilePart | None:
        part = None if key is None else self._next.get(key) or self._last.get(key)
        if part is None:
            self.misses += 1
            return None
        assert key is not None
        self.hits += 1
        self._next[key] = part
        return part

    def put(self, key: Key | None, part: FilePart) -> None:
        if key is not None:
            self._next[key] = part


def key_of(path: Path, rel: str, limits: yamldocs.Limits) -> Key | None:
    """The file's key, None when it cannot be read or is over the size limit (not kept)."""
    try:
        with path.open("rb") as stream:
            data = stream.read(limits.max_file_bytes + 1)
    except OSError:
        return None
    if len(data) > limits.max_file_bytes:
        return None
    return (rel, hashlib.sha256(data).digest())
