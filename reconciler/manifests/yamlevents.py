"""libyaml parse events -> plain documents with positions, by an iterative builder of our own.

Used by `yamldocs` for every manifest file. The builder refuses duplicate keys, alias bombs,
extreme nesting and drops null values (unset, as in Kubernetes); what one key or scalar means
(tags, YAML 1.1 readings) is `yamlvalues`'. Values in Secrets never appear in its messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import events as ev

from reconciler.manifests import positions as pos
from reconciler.manifests import yamlvalues
from reconciler.model import diagnostics as dg

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a hostile or broken repository from exhausting time or memory."""

    max_file_bytes: int = 1 * MiB
    max_depth: int = 64
    max_nodes: int = 100_000
    """Per document, counting what aliases expand to: a "billion laughs" stops here."""
    max_errors_per_file: int = 50


DEFAULT_LIMITS = Limits()


@dataclass
class Document:
    """One YAML document: its plain value (dicts, lists, str, int, float, bool, None)."""

    file: str
    index: int
    value: object
    positions: pos.Positions

    @property
    def line(self) -> int:
        return self.positions.root[0]

    def at(self, path: pos.Path, key: bool = False) -> pos.Mark:
        if key:
            return self.positions.key(self.value, path)
        return self.positions.value(self.value, path)


@dataclass
class ParsedFile:
    file: str
    documents: list[Document] = field(default_factory=list)
    diagnostics: list[dg.Diagnostic] = field(default_factory=list)
    fatal: bool = False
    """The file could not be read or parsed as a whole; none of its documents are used."""


_NO_KEY = object()
_DISCARD = object()


class AbortFileError(Exception):
    """Stop reading this file (a limit was hit)."""


@dataclass
class _Frame:
    container: dict[str, object] | list[object]
    marks: dict[str | int, tuple[pos.Mark, pos.Mark]]
    anchor: str | None
    start: int
    key: object = _NO_KEY
    key_mark: pos.Mark = (0, 0)
    slot: str | int | None = None
    """How the parent reaches this container (key or index); None for the document root."""


@dataclass
class _Pending:
    """A finding inside a document; its message may quote a value, so it is finalised once the
    document's kind is known (values in Secrets are never quoted)."""

    mark: pos.Mark
    path: str
    code: dg.Code
    message: str
    redacted: str
    hint: str
    redacted_hint: str


class Builder:
    def __init__(self, rel: str, limits: Limits) -> None:
        self.rel = rel
        self.limits = limits
        self.result = ParsedFile(rel)
        self.stack: list[_Frame] = []
        self.count = 0
        self.doc_index = -1
        self._new_document()

    def _new_document(self) -> None:
        self.root: object = _NO_KEY
        self.positions = pos.Positions((1, 1))
        self.anchors: dict[str, tuple[object, int]] = {}
        self.pending: list[_Pending] = []
        self.skipping = False
        self._key_text = ""

    def run(self, events: Iterator[Any]) -> None:
        try:
            self._run(events)
        except AbortFileError:
            self.result.fatal = True

    def _run(self, events: Iterator[Any]) -> None:
        scalar_event, alias_event = ev.ScalarEvent, ev.AliasEvent
        map_start, seq_start = ev.MappingStartEvent, ev.SequenceStartEvent
        map_end, seq_end = ev.MappingEndEvent, ev.SequenceEndEvent
        stack = self.stack
        for event in events:
            kind = type(event)
            if kind is ev.DocumentStartEvent:
                self.doc_index += 1
                self._new_document()
                continue
            if kind is ev.DocumentEndEvent:
                self._end_document()
                continue
            if self.skipping or kind is ev.StreamStartEvent or kind is ev.StreamEndEvent:
                continue
            start = event.start_mark
            mark = (start.line + 1, start.column + 1)
            if kind is scalar_event:
                self._count(1, mark)
                if stack and stack[-1].key is _NO_KEY and type(stack[-1].container) is dict:
                    self._key(event, mark)
                    continue
                value = self._scalar(event, mark)
                if event.anchor:
                    self.anchors[event.anchor] = (value, 1)
                self._attach(value, mark)
            elif kind is map_start or kind is seq_start:
                self._count(1, mark)
                if len(stack) >= self.limits.max_depth:
                    self.fail(
                        mark[0],
                        mark[1],
                        dg.Code.YAML_TOO_DEEP,
                        f"nesting deeper than {self.limits.max_depth} levels",
                        "flatten the structure; manifests never need this depth",
                    )
                    raise AbortFileError
                if stack and stack[-1].key is _NO_KEY and type(stack[-1].container) is dict:
                    self._doc_error(
                        mark,
                        dg.Code.YAML_KEY,
                        "a mapping key must be a string",
                        "use a plain string as the key",
                    )
                    continue
                finding = yamlvalues.collection_tag(event)
                if finding is not None:
                    self._found(mark, finding)
                container: dict[str, object] | list[object] = {} if kind is map_start else []
                slot = self._slot()  # taken before attaching: attaching moves the parent on
                self._attach(container, mark)
                marks: dict[str | int, tuple[pos.Mark, pos.Mark]] = {}
                self.positions.containers[id(container)] = marks
                stack.append(_Frame(container, marks, event.anchor, self.count, slot=slot))
            elif kind is map_end or kind is seq_end:
                frame = stack.pop()
                if frame.anchor:
                    self.anchors[frame.anchor] = (frame.container, self.count - frame.start + 1)
            elif kind is alias_event:
                self._alias(event, mark)

    def _count(self, nodes: int, mark: pos.Mark) -> None:
        self.count += nodes
        if self.count > self.limits.max_nodes:
            self.fail(
                mark[0],
                mark[1],
                dg.Code.YAML_TOO_LARGE,
                f"file expands to more than {self.limits.max_nodes} YAML nodes "
                "(aliases count as often as they are used)",
                "do not use anchors/aliases to build large structures; split large files",
            )
            raise AbortFileError

    def _alias(self, event: Any, mark: pos.Mark) -> None:
        stack = self.stack
        if stack and stack[-1].key is _NO_KEY and type(stack[-1].container) is dict:
            self._doc_error(
                mark,
                dg.Code.YAML_ALIAS,
                "an alias cannot be used as a mapping key",
                "write the key out",
            )
            return
        anchored = self.anchors.get(event.anchor)
        if anchored is None:
            self._doc_error(
                mark,
                dg.Code.YAML_ALIAS,
                f"alias *{event.anchor} refers to no anchor defined before it in this document",
                f"define &{event.anchor} before using *{event.anchor}, in the same document",
            )
            return
        value, size = anchored
        self._count(size, mark)
        self._attach(value, mark)

    def _key(self, event: Any, mark: pos.Mark) -> None:
        frame = self.stack[-1]
        text: str = event.value
        frame.key_mark = mark
        frame.key = _DISCARD
        self._key_text = text
        first = frame.marks.get(text)
        finding = yamlvalues.key(event, lambda _: None if first is None else first[0][0])
        if finding is not None:
            self._found(mark, finding)
            return
        frame.key = text

    def _scalar(self, event: Any, mark: pos.Mark) -> object:
        value, finding = yamlvalues.scalar(event, self._path_list)
        if finding is not None:
            self._found(mark, finding)
        return value

    def _found(self, mark: pos.Mark, finding: yamlvalues.Finding) -> None:
        self._note(mark, finding.code, finding.message, finding.redacted, finding.hint,
                   redacted_hint=finding.redacted_hint)  # fmt: skip

    def _attach(self, value: object, mark: pos.Mark) -> None:
        if not self.stack:
            self.root = value
            self.positions.root = mark
            return
        frame = self.stack[-1]
        container = frame.container
        if type(container) is dict:
            key = frame.key
            frame.key = _NO_KEY
            if key is _DISCARD:
                return
            assert isinstance(key, str)
            frame.marks[key] = (frame.key_mark, mark)
            if value is not None:  # null means "unset", as in Kubernetes: the key is dropped
                container[key] = value
        else:
            assert isinstance(container, list)
            frame.marks[len(container)] = (mark, mark)
            container.append(value)

    def _path(self) -> str:
        return pos.format_path(self._path_list())

    def _slot(self) -> str | int | None:
        """Where the next node goes in the innermost container: its key, or its list index."""
        if not self.stack:
            return None
        frame = self.stack[-1]
        if type(frame.container) is dict:
            if isinstance(frame.key, str):
                return frame.key
            return self._key_text if frame.key is _DISCARD and self._key_text else None
        return len(frame.container)

    def _path_list(self) -> list[str | int]:
        """The field path of the node being read: each open container's slot, then the next
        node's slot in the innermost one."""
        path = [frame.slot for frame in self.stack if frame.slot is not None]
        stack = self.stack
        if stack and (type(stack[-1].container) is not dict or isinstance(stack[-1].key, str)):
            slot = self._slot()
            if slot is not None:
                path.append(slot)
        return path

    def _note(
        self,
        mark: pos.Mark,
        code: dg.Code,
        message: str,
        redacted: str | None,
        hint: str,
        *,
        redacted_hint: str | None = None,
    ) -> None:
        path = self._path()
        if self.stack and type(self.stack[-1].container) is dict and self.stack[-1].key is _DISCARD:
            key = self._key_text
            path = pos.format_path([*self._path_list(), key]) if key else path
        self.pending.append(
            _Pending(mark, path, code, message, redacted or message, hint, redacted_hint or hint)
        )

    def _doc_error(self, mark: pos.Mark, code: dg.Code, message: str, hint: str) -> None:
        self._note(mark, code, message, None, hint)
        self.stack.clear()
        self.skipping = True

    def _end_document(self) -> None:
        redact = isinstance(self.root, dict) and self.root.get("kind") == "Secret"
        for note in self.pending:
            self._add(
                dg.Diagnostic(
                    self.rel,
                    note.mark[0],
                    note.mark[1],
                    note.path,
                    note.redacted if redact else note.message,
                    note.redacted_hint if redact else note.hint,
                    note.code,
                )
            )
        self.stack.clear()
        if not self.skipping and self.root is not _NO_KEY and self.root is not None:
            self.result.documents.append(
                Document(self.rel, self.doc_index, self.root, self.positions)
            )
        self.count = 0

    def _add(self, diagnostic: dg.Diagnostic) -> None:
        diagnostics = self.result.diagnostics
        if len(diagnostics) == self.limits.max_errors_per_file:
            diagnostics.append(
                dg.Diagnostic(
                    self.rel,
                    diagnostic.line,
                    diagnostic.column,
                    "",
                    "too many errors in this file; the rest are not shown",
                    "fix the errors above first",
                    dg.Code.TOO_MANY_ERRORS,
                )
            )
            raise AbortFileError
        diagnostics.append(diagnostic)

    def fail(self, line: int, column: int, code: dg.Code, message: str, hint: str = "") -> None:
        """A file-level failure: the file's documents are dropped."""
        self.result.fatal = True
        self.result.documents.clear()
        self.result.diagnostics.append(
            dg.Diagnostic(self.rel, line, column, "", message, hint, code)
        )
