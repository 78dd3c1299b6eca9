"""Read one manifest file defensively and parse its YAML into documents with positions.

First stage of `loader` per file: bytes -> text (size cap, binary and UTF-8 checks) -> libyaml
events -> `yamlevents.Builder`; parser errors become diagnostics (tabs get their own message).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from reconciler.manifests import yamlevents
from reconciler.model import diagnostics as dg

try:  # libyaml through ruamel.yaml.clib: about 15x faster than the pure-Python parser
    from ruamel.yaml.cyaml import CParser as _CParser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - the dependency is declared, this is a fallback
    _CParser = None

Limits = yamlevents.Limits
DEFAULT_LIMITS = yamlevents.DEFAULT_LIMITS
Document = yamlevents.Document
ParsedFile = yamlevents.ParsedFile


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
    builder = yamlevents.Builder(rel, limits)
    try:
        builder.run(_events(text))
    except ReaderError as exc:
        line, column = _line_col(text, int(exc.position))
        builder.fail(
            line,
            column,
            dg.Code.YAML_SYNTAX,
            f"invalid character: {exc.reason}",
            "remove the character or write it as an escape in a double-quoted string",
        )
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


UNICODE_BREAKS = ("\x85", "\u2028", "\u2029")
"""Characters YAML counts as line breaks but editors (and our diagnostics) do not."""


@dataclass(frozen=True)
class _Mark:
    """A position with an editor's line and column (0-based, like libyaml's marks)."""

    index: int
    line: int
    column: int


def _events(text: str) -> Iterator[Any]:
    events = _parse(text)
    if any(c in text for c in UNICODE_BREAKS):  # rare: count lines as the editor does
        return _relined(events, text)
    return events


def _relined(events: Iterator[Any], text: str) -> Iterator[Any]:
    for event in events:
        line, column = _line_col(text, int(event.start_mark.index))
        event.start_mark = _Mark(int(event.start_mark.index), line - 1, column - 1)
        yield event


def _parse(text: str) -> Iterator[Any]:
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


def _syntax_error(builder: yamlevents.Builder, text: str, exc: MarkedYAMLError) -> None:
    mark = exc.problem_mark or exc.context_mark
    line, column = _line_col(text, int(mark.index)) if mark is not None else (1, 1)
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
    builder.fail(
        line,
        column,
        dg.Code.YAML_SYNTAX,
        f"invalid YAML: {problem}{context}",
        "check the indentation, quotes and brackets at and before this position",
    )


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _fatal(rel: str, code: dg.Code, message: str, hint: str) -> ParsedFile:
    result = ParsedFile(rel, fatal=True)
    result.diagnostics.append(dg.Diagnostic(rel, 1, 1, "", message, hint, code))
    return result
