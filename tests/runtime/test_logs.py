"""Logging: JSON lines that parse (time, level, logger, message, extra fields, exception), text on
a terminal, secret values redacted everywhere a record carries text, asyncssh kept quiet."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.runtime import logs

SECRET = "hunter2-db-password"


@pytest.fixture
def redactor() -> logs.Redactor:
    the_redactor = logs.Redactor()
    the_redactor.register(SECRET)
    return the_redactor


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def _json_setup(redactor: logs.Redactor) -> io.StringIO:
    stream = io.StringIO()
    logs.setup("DEBUG", json_lines=True, stream=stream, redactor=redactor)
    return stream


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_parse_with_extra_fields(redactor: logs.Redactor) -> None:
    stream = _json_setup(redactor)
    log = logging.getLogger("reconciler.test")
    log.info("synced %s in %.1fs", "abc123", 1.25, extra={"revision": "abc123", "hosts": 3})
    log.debug("detail", extra={"key": ("Pod", "default", "web")})
    (first, second) = _lines(stream)
    assert first["level"] == "info" and first["logger"] == "reconciler.test"
    assert first["message"] == "synced abc123 in 1.2s"
    assert first["revision"] == "abc123" and first["hosts"] == 3
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert second["key"] == ["Pod", "default", "web"]


@pytest.mark.usefixtures("restore_logging")
def test_secrets_are_redacted_everywhere(redactor: logs.Redactor) -> None:
    stream = _json_setup(redactor)
    log = logging.getLogger("reconciler.test")
    log.warning("password is " + SECRET)
    log.warning("env DB_PASSWORD=%s", SECRET)
    log.warning("extra", extra={"env": {"DB_PASSWORD": SECRET}, "value": f"x{SECRET}x"})
    try:
        raise ValueError(f"bad value {SECRET}")
    except ValueError:
        log.exception("failed")
    text = stream.getvalue()
    assert SECRET not in text
    lines = _lines(stream)
    assert lines[0]["message"] == "password is <redacted>"
    assert lines[1]["message"] == "env DB_PASSWORD=<redacted>"
    assert lines[2]["env"] == {"DB_PASSWORD": "<redacted>"}
    assert lines[2]["value"] == "x<redacted>x"
    assert "ValueError: bad value <redacted>" in lines[3]["exception"]


@pytest.mark.usefixtures("restore_logging")
def test_text_on_a_terminal_is_redacted_too(redactor: logs.Redactor) -> None:
    stream = io.StringIO()
    logs.setup("INFO", json_lines=False, stream=stream, redactor=redactor)
    logging.getLogger("reconciler.x").info("token %s", SECRET, extra={"host": "h1", "note": "a b"})
    logging.getLogger("reconciler.x").debug("not shown at INFO")
    line = stream.getvalue()
    assert line.count("\n") == 1
    assert 'INFO  reconciler.x: token <redacted> host=h1 note="a b"' in line
    assert SECRET not in line


def test_auto_mode_follows_the_terminal(restore_logging: None) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    plain = io.StringIO()
    handler = logs.setup(json_lines=None, stream=plain)
    assert isinstance(handler.formatter, logs.JsonFormatter)
    handler = logs.setup(json_lines=None, stream=Tty())
    assert isinstance(handler.formatter, logs.TextFormatter)
    named = [h for h in logging.getLogger().handlers if h.get_name() == "reconciler"]
    assert named == [handler]  # a second setup replaces the first handler


@pytest.mark.usefixtures("restore_logging")
def test_asyncssh_is_quiet(redactor: logs.Redactor) -> None:
    stream = _json_setup(redactor)
    logging.getLogger("asyncssh").info("opening SSH connection")
    logging.getLogger("asyncssh").warning("connection lost")
    assert [line["message"] for line in _lines(stream)] == ["connection lost"]


def test_redactor_rules() -> None:
    redactor = logs.Redactor()
    assert not redactor and redactor("abc") == "abc"
    redactor.register("abc")  # too short to hide without garbling every line
    assert not redactor
    redactor.register(b"-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAA\n-----END KEY-----\n")
    assert redactor("line AAAAB3NzaC1yc2EAAA") == "line <redacted>"  # one line of it
    redactor.register("secret")
    redactor.register("secret-longer")
    assert redactor("a secret-longer b secret") == "a <redacted> b <redacted>"
    redactor.register("a.b*c")  # regex characters are literal
    assert redactor("x a.b*c y aXbbc") == "x <redacted> y aXbbc"
    redactor.clear()
    assert redactor("secret") == "secret"


def test_a_value_that_is_a_public_name_is_not_redacted() -> None:
    redactor = logs.Redactor()
    redactor.register("shop", public={"shop", "backend"})  # DB_USER: shop in namespace shop
    redactor.register("s3cr3t-pass", public={"shop", "backend"})
    assert redactor("create shop/backend-1 on h1: s3cr3t-pass") == (
        "create shop/backend-1 on h1: <redacted>"
    )


def test_the_daemon_spares_the_repository_names_and_hides_the_rest(tmp_path: Any) -> None:
    from reconciler.manifests import loader  # noqa: PLC0415
    from reconciler.runtime import reconcile  # noqa: PLC0415

    (tmp_path / "app.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\n"
        "stringData: {DB_USER: shop, DB_PASSWORD: s3cr3t-pass, OWNER: db-owner}\n"
    )
    loaded = loader.load_repository(tmp_path)
    assert loaded.ok, loaded.errors
    logs.redact.clear()
    try:
        reconcile._register_secrets(loaded)
        assert logs.redact("shop/db: s3cr3t-pass db-owner") == "shop/db: <redacted> <redacted>"
    finally:
        logs.redact.clear()
