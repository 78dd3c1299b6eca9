"""libyaml parse events -> plain documents with positions, by an iterative builder of our own.

Used by `yamldocs` for every manifest file. The builder refuses duplicate keys, alias bombs,
extreme nesting and custom tags, drops null values (unset, as in Kubernetes) and flags scalars
that YAML 1.1 (Kubernetes) reads differently; values in Secrets never appear in its messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import events as ev

from reconciler.manifests import filemodes, scalars
from reconciler.manifests import positions as pos
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
                self._check_container_tag(event, mark)
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
        tag = event.tag
        if tag is not None and str(tag) not in (scalars.STR_TAG, "!"):
            self._note(
                mark,
                dg.Code.YAML_TAG,
                f"unsupported tag {tag} on a mapping key",
                None,
                "remove the tag; keys are strings",
            )
            return
        if event.style in ("", None) and tag is None:
            if text == "<<":
                self._note(
                    mark,
                    dg.Code.YAML_KEY,
                    "merge keys (<<) are not supported",
                    None,
                    "write the keys out in full",
                )
                return
            if text in scalars.NULL or text in scalars.TRUE or text in scalars.FALSE:
                self._note(
                    mark,
                    dg.Code.YAML_KEY,
                    f"key {text or '(empty)'} is not a string (YAML reads it as "
                    f"{'null' if text in scalars.NULL else 'a boolean'})",
                    None,
                    f'quote the key: "{text}"',
                )
                return
            ambiguous = scalars.ambiguity(text)
            if ambiguous is not None:
                self._ambiguous(mark, text, ambiguous)
                return
        if text in frame.marks:
            first = frame.marks[text][0]
            self._note(
                mark,
                dg.Code.YAML_DUPLICATE_KEY,
                f"duplicate key {text!r} (first defined at line {first[0]})",
                None,
                "remove one of the two; Kubernetes rejects duplicate keys",
            )
            return
        frame.key = text

    def _scalar(self, event: Any, mark: pos.Mark) -> object:
        text: str = event.value
        tag = event.tag
        if tag is None:
            if event.style not in ("", None):
                return text
            ambiguous = scalars.ambiguity(text)
            if ambiguous is not None:
                mode = filemodes.yaml_octal(self._path_list(), text)  # 0644, as Kubernetes
                if mode is not None:
                    return mode
                self._ambiguous(mark, text, ambiguous)
                return text
            return scalars.resolve_plain(text)
        tag = str(tag)
        if tag in (scalars.STR_TAG, "!"):
            return text
        if tag not in scalars.EXPLICIT_TAGS:
            self._note(
                mark,
                dg.Code.YAML_TAG,
                f"unsupported YAML tag {tag}",
                None,
                "remove the tag; Kubernetes manifests use plain JSON types",
            )
            return text
        value = scalars.resolve_plain(text) if text else None
        expected = tag.rsplit(":", 1)[1]
        actual = {type(None): "null", bool: "bool", int: "int", float: "float", str: "str"}
        widened = expected == "float" and isinstance(value, int) and not isinstance(value, bool)
        if actual.get(type(value)) != expected and not widened:
            self._note(
                mark,
                dg.Code.YAML_TAG,
                f"value {text!r} is not a valid !!{expected}",
                f"a value is not a valid !!{expected}",
                "fix the value or remove the tag",
            )
            return text
        return float(value) if widened and isinstance(value, int) else value

    def _check_container_tag(self, event: Any, mark: pos.Mark) -> None:
        tag = event.tag
        if tag is not None and str(tag) not in scalars.CONTAINER_TAGS and str(tag) != "!":
            self._note(
                mark,
                dg.Code.YAML_TAG,
                f"unsupported YAML tag {tag}",
                None,
                "remove the tag; Kubernetes manifests use plain JSON types",
            )

    def _ambiguous(self, mark: pos.Mark, text: str, readings: tuple[str, str]) -> None:
        yaml11, yaml12 = readings
        self._note(
            mark,
            dg.Code.YAML_AMBIGUOUS,
            f"ambiguous value {text!r}: YAML 1.1 (Kubernetes) reads it as {yaml11}, "
            f"YAML 1.2 as {yaml12}",
            "ambiguous plain value: YAML 1.1 (Kubernetes) and YAML 1.2 read it differently",
            f'quote it ("{text}") if you mean a string, or write it as JSON would',
            redacted_hint="quote the value if you mean a string, or write it as JSON would",
        )

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
