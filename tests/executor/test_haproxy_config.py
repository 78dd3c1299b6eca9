"""haproxy_config: the rendered haproxy.cfg (global, defaults, listeners, servers), the listener
digest that decides reloads, and values that must never reach the file (injection)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.executor import haproxy_config
from reconciler.model import loadbalancer as lb

PATHS = haproxy_config.Paths.below("/home/rc-h1/.local/share/reconciler")
A = lb.Server("web-1", "198.18.0.12", 20001, host="h2", pod="web-1")
B = lb.Server("web-2", "198.18.0.13", 20002, state=lb.ServerState.DRAIN)
WEB = lb.Listener("shop.web.http", "shop", "web", "http", (8000, 30080), lb.Mode.HTTP, (A, B))
DB = lb.Listener("shop.db.5432", "shop", "db", "", (15432,), lb.Mode.TCP, (A,))

HOSTILE = [
    "a\nglobal",
    "a#b",
    "a b",
    'a"b',
    "a'b",
    "a;b",
    "stats socket /tmp/x level admin",
    "",
    "-a",
    "a/b",
    "a\rb",
    "a\x00b",
    "ü",
]


def config(*listeners: lb.Listener) -> lb.Config:
    return lb.Config(tuple(listeners))


def test_paths_are_below_the_state_dir() -> None:
    assert PATHS.config == "/home/rc-h1/.local/share/reconciler/lb/haproxy.cfg"
    assert PATHS.pidfile == "/home/rc-h1/.local/share/reconciler/lb/haproxy.pid"
    assert PATHS.socket == "/home/rc-h1/.local/share/reconciler/lb/admin.sock"


@pytest.mark.parametrize("home", ["/home/a b", "/home/x\nglobal", "relative", "/h/../e", "/h/`x`"])
def test_unsafe_state_dirs_are_refused(home: str) -> None:
    with pytest.raises(lb.UnsafeTokenError):
        haproxy_config.Paths.below(home)


def test_too_long_socket_path_is_refused() -> None:
    with pytest.raises(lb.UnsafeTokenError, match="longer"):
        haproxy_config.Paths.below("/home/" + "x" * 100)


def test_global_and_defaults() -> None:
    text = haproxy_config.render(config(WEB), PATHS)
    assert f"stats socket {PATHS.socket} mode 600 level admin expose-fd listeners" in text
    for line in ("timeout connect 1s", "timeout client 60s", "timeout server 60s",
                 "option redispatch 1", "retries 3"):  # fmt: skip
        assert f"    {line}\n" in text
    for rootful in ("\n    user ", "\n    group ", "chroot", "daemon\n"):
        assert rootful not in text


def test_http_listener() -> None:
    text = haproxy_config.render(config(WEB), PATHS)
    block = text[text.index("listen shop.web.http") :]
    assert block.splitlines()[:8] == [
        "listen shop.web.http",
        "    bind :8000",
        "    bind :30080",
        "    mode http",
        "    balance roundrobin",
        "    option http-server-close",
        "    option idle-close-on-response",
        "    retry-on conn-failure empty-response response-timeout",
    ]
    assert "    server web-1 198.18.0.12:20001 check inter 1s fall 2 rise 1\n" in block
    assert "    server web-2 198.18.0.13:20002 check inter 1s fall 2 rise 1 disabled\n" in block


def test_tcp_listener_has_no_http_options() -> None:
    text = haproxy_config.render(config(DB), PATHS)
    assert "mode tcp\n    balance roundrobin\n    server web-1" in text
    assert "http-server-close" not in text and "retry-on" not in text and "idle" not in text


def test_empty_listener_renders_without_servers() -> None:
    text = haproxy_config.render(config(dataclasses.replace(WEB, servers=())), PATHS)
    assert "listen shop.web.http" in text and "    server " not in text


def test_digest_changes_with_listeners_not_with_servers() -> None:
    base = haproxy_config.listeners_digest(config(WEB))
    assert haproxy_config.listeners_digest(config(dataclasses.replace(WEB, servers=()))) == base
    moved = dataclasses.replace(WEB, ports=(8001,))
    assert haproxy_config.listeners_digest(config(moved)) != base
    tcp = dataclasses.replace(WEB, mode=lb.Mode.TCP)
    assert haproxy_config.listeners_digest(config(tcp)) != base
    assert haproxy_config.listeners_digest(config(WEB, DB)) != base


def test_digest_is_read_back_from_the_first_line() -> None:
    text = haproxy_config.render(config(WEB), PATHS)
    assert haproxy_config.digest_of(text) == haproxy_config.listeners_digest(config(WEB))
    assert haproxy_config.digest_of("global\n") is None
    assert haproxy_config.digest_of("") is None


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_listener_names_never_reach_the_config(bad: str) -> None:
    with pytest.raises(lb.UnsafeTokenError):
        haproxy_config.render(config(dataclasses.replace(WEB, name=bad)), PATHS)


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_server_names_never_reach_the_config(bad: str) -> None:
    server = dataclasses.replace(A, name=bad)
    with pytest.raises(lb.UnsafeTokenError):
        haproxy_config.render(config(dataclasses.replace(WEB, servers=(server,))), PATHS)


@pytest.mark.parametrize("bad", [*HOSTILE, "1.2.3.4 backup", "[::1]"])
def test_hostile_addresses_never_reach_the_config(bad: str) -> None:
    server = dataclasses.replace(A, address=bad)
    with pytest.raises(lb.UnsafeTokenError):
        haproxy_config.render(config(dataclasses.replace(WEB, servers=(server,))), PATHS)


@pytest.mark.parametrize("bad", [0, -1, 65536, True, "80", 80.0])
def test_bad_ports_are_refused(bad: object) -> None:
    with pytest.raises(lb.UnsafeTokenError):
        haproxy_config.render(config(dataclasses.replace(WEB, ports=(bad,))), PATHS)  # type: ignore[arg-type]
    server = dataclasses.replace(A, port=bad)  # type: ignore[arg-type]
    with pytest.raises(lb.UnsafeTokenError):
        haproxy_config.render(config(dataclasses.replace(WEB, servers=(server,))), PATHS)


def test_bad_mode_and_state_are_refused() -> None:
    with pytest.raises(ValueError):
        haproxy_config.render(config(dataclasses.replace(WEB, mode="http\nx")), PATHS)  # type: ignore[arg-type]
    server = dataclasses.replace(A, state="ready disabled")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        haproxy_config.render(config(dataclasses.replace(WEB, servers=(server,))), PATHS)


def test_duplicates_and_portless_listeners_are_refused() -> None:
    with pytest.raises(lb.UnsafeTokenError, match="twice"):
        haproxy_config.render(config(WEB, WEB), PATHS)
    with pytest.raises(lb.UnsafeTokenError, match="twice"):
        haproxy_config.render(config(dataclasses.replace(WEB, servers=(A, A))), PATHS)
    with pytest.raises(lb.UnsafeTokenError, match="no port"):
        haproxy_config.render(config(dataclasses.replace(WEB, ports=())), PATHS)


def test_every_line_is_known_syntax() -> None:
    """Nothing but the expected directives: a guard against a value smuggling a new line."""
    text = haproxy_config.render(config(WEB, DB), PATHS)
    allowed = ("#", "global", "defaults", "listen ", "    ")
    assert all(line == "" or line.startswith(allowed) for line in text.splitlines())
    assert text.count("\nlisten ") == 2


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy is not installed")
def test_haproxy_accepts_the_rendered_config(tmp_path: Path) -> None:
    """HAProxy's own parser (`haproxy -c`): every directive we write is valid for it."""
    paths = haproxy_config.Paths.below(str(tmp_path))
    text = haproxy_config.render(config(WEB, DB), paths)
    file = tmp_path / "haproxy.cfg"
    file.write_text(text)
    done = subprocess.run(
        [str(shutil.which("haproxy")), "-c", "-f", str(file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "[WARNING]" not in done.stderr and "[ALERT]" not in done.stderr, done.stderr
