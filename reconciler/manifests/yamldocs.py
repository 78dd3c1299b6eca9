"""Read one manifest file defensively and turn its YAML into plain documents with positions.

First stage of `loader`: bytes -> text (size cap, binary and UTF-8 checks) -> libyaml events ->
JSON-like values built by our own iterative builder, which refuses duplicate keys, alias bombs,
extreme nesting and custom tags, and flags scalars that YAML 1.1 (Kubernetes) reads differently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import events as ev
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from reconciler.manifests import positions as pos
from reconciler.model import diagnostics as dg

try:  # libyaml through ruamel.yaml.clib: about 15x faster than the pure-Python parser
    from ruamel.yaml.cyaml import CParser as _CParser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - the dependency is declared, this is a fallback
    _CParser = None

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


def read_file(path: Path, rel: str, limits: Limits = DEFAULT_LIMITS) -> ParsedFile:
    """Read and parse `path` (already checked to be a regular file inside the repository)."""
    try:
        with path.open("rb") as stream:
            data = stream.read(limits.max_file_bytes + 1)
    except OSError as exc:
        message = f"cannot read file: {exc.strerror}"
        return _fatal(rel, dg.Code.IO_ERROR, message, "check the file's permissions")
    if len(data) > limits.max_file_bytes:
        return _fatal(
            rel,
            dg.Code.FILE_TOO_LARGE,
            f"file is larger than the {limits.max_file_bytes // 1024} KiB limit for manifest files",
            "split it into several files, or move large data out of ConfigMaps and Secrets",
        )
    if b"\0" in data:
        return _fatal(
            rel,
            dg.Code.BINARY_FILE,
            "file looks binary (it contains NUL bytes); manifests must be UTF-8 text",
            "remove it from the repository or rename it so it does not end in .yaml/.yml",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        result = ParsedFile(rel, fatal=True)
        result.diagnostics.append(
            dg.Diagnostic(
                rel,
                line,
                column,
                "",
                f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                "save the file as UTF-8",
                dg.Code.NOT_UTF8,
            )
        )
        return result
    return parse_text(text, rel, limits)


def parse_text(text: str, rel: str, limits: Limits = DEFAULT_LIMITS) -> ParsedFile:
    builder = _Builder(rel, limits)
    try:
        builder.run(_events(text))
    except ReaderError as exc:
        line, column = _line_col(text, int(exc.position))
        builder.fail(line, column, dg.Code.YAML_SYNTAX, f"invalid character: {exc.reason}",
                     "remove the character or write it as an escape in a double-quoted string")
    except MarkedYAMLError as exc:
        _syntax_error(builder, text, exc)
    except YAMLError as exc:  # pragma: no cover - libyaml reports marked errors
        builder.fail(1, 1, dg.Code.YAML_SYNTAX, f"invalid YAML: {type(exc).__name__}")
    result = builder.result
    if not result.fatal and not result.documents and not result.diagnostics:
        result.diagnostics.append(
            dg.Diagnostic(
                rel,
                1,
                1,
                "",
                "file contains no manifests",
                "add a manifest or delete the file",
                dg.Code.EMPTY_FILE,
            )
        )
    return result


def _events(text: str) -> Iterator[Any]:
    if _CParser is None:  # pragma: no cover
        from ruamel.yaml import YAML  # noqa: PLC0415

        yield from YAML(typ="safe", pure=True).parse(text)
        return
    parser = _CParser(text)
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


def _syntax_error(builder: _Builder, text: str, exc: MarkedYAMLError) -> None:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = str(exc.problem or exc.context or "invalid YAML")
    lines = text.splitlines()
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    if "\t" in source_line[: max(column, 1)] or "tab" in problem:
        builder.fail(
            line,
            column,
            dg.Code.YAML_TAB,
            "tab character used for indentation",
            "indent with spaces; YAML does not allow tabs in indentation",
        )
        return
    context = f" {exc.context}" if exc.context and exc.problem else ""
    builder.fail(line, column, dg.Code.YAML_SYNTAX, f"invalid YAML: {problem}{context}",
                 "check the indentation, quotes and brackets at and before this position")


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _fatal(rel: str, code: dg.Code, message: str, hint: str) -> ParsedFile:
    result = ParsedFile(rel, fatal=True)
    result.diagnostics.append(dg.Diagnostic(rel, 1, 1, "", message, hint, code))
    return result


# --- scalars --------------------------------------------------------------------------------

_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
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

_STR_TAG = "tag:yaml.org,2002:str"
_EXPLICIT_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null")
)
_CONTAINER_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


def _ambiguity(text: str) -> tuple[str, str] | None:
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


def _resolve_plain(text: str) -> object:
    """A plain scalar as YAML 1.2's core schema (and JSON) reads it."""
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
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


# --- builder --------------------------------------------------------------------------------

_NO_KEY = object()
_DISCARD = object()


class _AbortFileError(Exception):
    """Stop reading this file (a limit was hit)."""


@dataclass
class _Frame:
    container: dict[str, object] | list[object]
    marks: dict[str | int, tuple[pos.Mark, pos.Mark]]
    anchor: str | None
    start: int
    key: object = _NO_KEY
    key_mark: pos.Mark = (0, 0)


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


class _Builder:
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
        except _AbortFileError:
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
                    raise _AbortFileError
                if stack and stack[-1].key is _NO_KEY and type(stack[-1].container) is dict:
                    self._doc_error(mark, dg.Code.YAML_KEY, "a mapping key must be a string",
                                    "use a plain string as the key")
                    continue
                self._check_container_tag(event, mark)
                container: dict[str, object] | list[object] = {} if kind is map_start else []
                self._attach(container, mark)
                marks: dict[str | int, tuple[pos.Mark, pos.Mark]] = {}
                self.positions.containers[id(container)] = marks
                stack.append(_Frame(container, marks, event.anchor, self.count))
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
            raise _AbortFileError

    def _alias(self, event: Any, mark: pos.Mark) -> None:
        stack = self.stack
        if stack and stack[-1].key is _NO_KEY and type(stack[-1].container) is dict:
            self._doc_error(mark, dg.Code.YAML_ALIAS, "an alias cannot be used as a mapping key",
                            "write the key out")
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
        if tag is not None and str(tag) not in (_STR_TAG, "!"):
            self._note(mark, dg.Code.YAML_TAG, f"unsupported tag {tag} on a mapping key", None,
                       "remove the tag; keys are strings")
            return
        if event.style in ("", None) and tag is None:
            if text == "<<":
                self._note(mark, dg.Code.YAML_KEY, "merge keys (<<) are not supported", None,
                           "write the keys out in full")
                return
            if text in _NULL or text in _TRUE or text in _FALSE:
                self._note(mark, dg.Code.YAML_KEY,
                           f"key {text or '(empty)'} is not a string (YAML reads it as "
                           f"{'null' if text in _NULL else 'a boolean'})", None,
                           f'quote the key: "{text}"')
                return
            ambiguous = _ambiguity(text)
            if ambiguous is not None:
                self._ambiguous(mark, text, ambiguous)
                return
        if text in frame.marks:
            first = frame.marks[text][0]
            self._note(mark, dg.Code.YAML_DUPLICATE_KEY,
                       f"duplicate key {text!r} (first defined at line {first[0]})", None,
                       "remove one of the two; Kubernetes rejects duplicate keys")
            return
        frame.key = text

    def _scalar(self, event: Any, mark: pos.Mark) -> object:
        text: str = event.value
        tag = event.tag
        if tag is None:
            if event.style not in ("", None):
                return text
            ambiguous = _ambiguity(text)
            if ambiguous is not None:
                self._ambiguous(mark, text, ambiguous)
                return text
            return _resolve_plain(text)
        tag = str(tag)
        if tag in (_STR_TAG, "!"):
            return text
        if tag not in _EXPLICIT_TAGS:
            self._note(mark, dg.Code.YAML_TAG, f"unsupported YAML tag {tag}", None,
                       "remove the tag; Kubernetes manifests use plain JSON types")
            return text
        value = _resolve_plain(text) if text else None
        expected = tag.rsplit(":", 1)[1]
        actual = {type(None): "null", bool: "bool", int: "int", float: "float", str: "str"}
        widened = expected == "float" and isinstance(value, int) and not isinstance(value, bool)
        if actual.get(type(value)) != expected and not widened:
            self._note(mark, dg.Code.YAML_TAG, f"value {text!r} is not a valid !!{expected}",
                       f"a value is not a valid !!{expected}", "fix the value or remove the tag")
            return text
        return float(value) if widened and isinstance(value, int) else value

    def _check_container_tag(self, event: Any, mark: pos.Mark) -> None:
        tag = event.tag
        if tag is not None and str(tag) not in _CONTAINER_TAGS and str(tag) != "!":
            self._note(mark, dg.Code.YAML_TAG, f"unsupported YAML tag {tag}", None,
                       "remove the tag; Kubernetes manifests use plain JSON types")

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

    def _path_list(self) -> list[str | int]:
        path: list[str | int] = []
        for frame in self.stack:
            if type(frame.container) is dict:
                if isinstance(frame.key, str):
                    path.append(frame.key)
            else:
                path.append(len(frame.container))
        return path

    def _note(self, mark: pos.Mark, code: dg.Code, message: str, redacted: str | None,
              hint: str, *, redacted_hint: str | None = None) -> None:
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
                dg.Diagnostic(self.rel, diagnostic.line, diagnostic.column, "",
                              "too many errors in this file; the rest are not shown",
                              "fix the errors above first", dg.Code.TOO_MANY_ERRORS)
            )
            raise _AbortFileError
        diagnostics.append(diagnostic)

    def fail(self, line: int, column: int, code: dg.Code, message: str, hint: str = "") -> None:
        """A file-level failure: the file's documents are dropped."""
        self.result.fatal = True
        self.result.documents.clear()
        self.result.diagnostics.append(
            dg.Diagnostic(self.rel, line, column, "", message, hint, code)
        )
