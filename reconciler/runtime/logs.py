"""Logging for the daemon: JSON lines when stderr is not a terminal (journald, log shippers),
readable lines on a terminal, and a redaction filter so a Secret's value never reaches a log.

The daemon calls `setup()` once at start and `redact.register(value)` for every Secret value it
loads (before anything could log it); every handler `setup()` installs replaces those values with
`<redacted>` in messages, arguments, extra fields and tracebacks.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import sys
import threading
from collections.abc import Collection
from typing import Any, TextIO

REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 4
"""Shorter values are not redacted: replacing every "abc" or "1" would garble every log line, and
such a value is no secret worth the name. Documented in docs/operations.md."""

HANDLER_NAME = "reconciler"
QUIET_LOGGERS = ("asyncssh",)  # chatty libraries: WARNING and above only
_STANDARD_FIELDS = frozenset(
    [*logging.LogRecord("", 0, "", 0, "", None, None).__dict__, "message", "asctime", "taskName"]
)


class Redactor:
    """A set of secret values, and the replacement of each occurrence by `<redacted>`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str | bytes, public: Collection[str] = ()) -> None:
        """Redact `value` from now on (bytes are decoded as UTF-8; a multi-line value is also
        redacted line by line, so a key printed in part is still hidden). A value in `public`
        (the repository's namespaces and object names: in git for all to read) is not: hiding
        it would hide that name in every line (`DB_USER: shop` in namespace `shop`)."""
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        candidates = {text, text.strip(), *(line.strip() for line in text.splitlines())}
        found = {c for c in candidates if len(c) >= MIN_SECRET_LENGTH and c not in public}
        with self._lock:
            if found <= self._values:
                return
            self._values |= found
            longest_first = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in longest_first))

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        return text if pattern is None else pattern.sub(REDACTED, text)


redact = Redactor()
"""The process's redactor: logging is process-wide, so the set of values to hide is too."""


class RedactingFilter(logging.Filter):
    """Rewrites each record before any formatter sees it: the message is rendered with its
    arguments and redacted, and so are string extras and the traceback text."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.redactor:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # bad format arguments: keep what can be shown
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = self.redactor(message), None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_FIELDS and isinstance(value, str):
                setattr(record, key, self.redactor(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a call added with `extra={...}`."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_FIELDS}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (RFC 3339 UTC), level, logger, message, the extra fields,
    and `exception` with the traceback when there is one."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        document: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            document.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = record.stack_info
        line = json.dumps(document, default=str, ensure_ascii=False)
        # a last pass for values that reached the line some other way (e.g. inside a dict)
        return self.redactor(line) if self.redactor else line


class TextFormatter(logging.Formatter):
    """For a terminal: `2024-05-01 12:00:00 INFO  logger: message key=value ...`."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)-5s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = extra_fields(record)
        if extras:
            pairs = " ".join(f"{k}={_text_value(v)}" for k, v in extras.items())
            head, newline, rest = line.partition("\n")
            line = f"{head} {pairs}{newline}{rest}"
        return self.redactor(line) if self.redactor else line


def _text_value(value: object) -> str:
    text = str(value)
    return json.dumps(text) if not text or any(c in text for c in ' "=\n') else text


def setup(
    level: int | str = logging.INFO,
    json_lines: bool | None = None,
    stream: TextIO | None = None,
    redactor: Redactor = redact,
) -> logging.Handler:
    """Send the root logger's records to `stream` (stderr) as JSON lines (`json_lines=None`:
    when the stream is not a terminal) or text, redacting `redactor`'s values. Calling it again
    replaces the handler it installed before."""
    target = stream if stream is not None else sys.stderr
    if json_lines is None:
        json_lines = not _is_terminal(target)
    handler = logging.StreamHandler(target)
    handler.addFilter(RedactingFilter(redactor))
    handler.setFormatter(JsonFormatter(redactor) if json_lines else TextFormatter(redactor))
    return install(handler, level)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record is emitted, not the stream it was at
    construction (a redirected or replaced stderr, e.g. under a test runner, stays right)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def install(handler: logging.Handler, level: int | str) -> logging.Handler:
    """Make `handler` the process's one reconciler handler on the root logger (replacing the one
    installed before: the CLI's, then the daemon's), at `level`; chatty libraries stay quiet."""
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
