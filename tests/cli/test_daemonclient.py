"""`diff` and `get` through a daemon on this machine (GET /v1/observe) against the fake executor:
the same output and exit code as reading the hosts directly; no answer falls back to dialling;
`--direct` never asks, `--daemon ADDRESS` never dials; the token is sent, never shown; and the
daemon-backed path imports no SSH stack."""

from __future__ import annotations

import argparse
import http.server
import json
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from reconciler.cli import common, daemonclient, lightsettings, main, settings
from reconciler.controllers import sync
from reconciler.executor import fake
from reconciler.manifests import loader
from reconciler.model import hoststate
from reconciler.web import metrics, observe, server
from tests.cli import daemonserve
from tests.manifests.conftest import EXAMPLES

Setup = daemonserve.Setup


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    with daemonserve.serve(tmp_path, monkeypatch, plans=False) as served:
        yield served


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "argv",
    [("diff",), ("diff", "-o", "json"), ("get", "pods", "-o", "json", "-f"),
     ("get", "deployments", "-f"), ("get", "services", "-o", "wide", "-f"),
     ("get", "endpoints", "-f")],
)  # fmt: skip
def test_through_the_daemon_the_output_is_what_direct_prints(
    setup: Setup, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    through = _run(capsys, *argv, str(setup.repo))
    assert setup.observer.served == 1 and setup.dialled == []  # no host was dialled
    direct = _run(capsys, *argv, str(setup.repo), "--direct")
    assert setup.observer.served == 1 and setup.dialled == ["direct"]
    assert through == direct
    assert through[1]  # something was printed


def test_diff_through_the_daemon_still_compares_the_users_manifests(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "diff", str(setup.repo))
    assert code == common.EXIT_CHANGES and "1 to create" in out, out  # replicas 2 -> 3
    backend = setup.repo / "shop" / "backend.yaml"
    backend.write_text(backend.read_text().replace("replicas: 3", "replicas: 2"))
    code, out, _ = _run(capsys, "diff", str(setup.repo))
    assert code == common.EXIT_OK and setup.observer.served == 2


def test_nobody_listening_falls_back_to_dialling_quietly(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = _run(capsys, "diff", str(setup.repo), "--direct")
    monkeypatch.setenv("RECONCILER_DAEMON", f"127.0.0.1:{_free_port()}")
    setup.dialled.clear()
    assert _run(capsys, "diff", str(setup.repo)) == direct
    assert setup.dialled == ["direct"] and setup.observer.served == 0


def test_a_daemon_that_cannot_answer_is_named_then_hosts_are_dialled(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.hosts[0] = ()  # before its first sync: 503
    code, out, err = _run(capsys, "get", "pods", "-f", str(setup.repo))
    assert code == 0 and setup.dialled == ["direct"] and "NAME" in out
    assert "answered /v1/observe with HTTP 503" in err and "reading the hosts directly" in err


def test_hosts_the_daemon_does_not_manage_are_dialled(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    direct = _run(capsys, "get", "pods", "-o", "json", "-f", str(setup.repo), "--direct")
    setup.dialled.clear()
    h1, h2, _ = setup.hosts[0]
    setup.hosts[0] = (h1, hoststate.HostTarget("h2", "10.9.9.9", h2.port, h2.user))  # elsewhere
    assert _run(capsys, "get", "pods", "-o", "json", "-f", str(setup.repo)) == direct
    assert setup.dialled == ["direct"] and setup.observer.served == 1
    asked = [c.split()[1] for c in setup.fake.calls if c.startswith("observe")][-4:]
    assert asked == ["h1", "h2", "h2", "h3"]  # the daemon's h2 is another host: read again


def test_forced_daemon_never_dials(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    port = _free_port()
    code, out, err = _run(capsys, "diff", str(setup.repo), "--daemon", f"127.0.0.1:{port}")
    assert code == common.EXIT_USAGE and out == "" and setup.dialled == []
    assert f"no daemon answers at http://127.0.0.1:{port}" in err


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization"))
        body = b'{"error": "unauthorized"}'
        self.send_response(401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_token_is_sent_and_never_shown(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("RECONCILER_DAEMON", f"127.0.0.1:{recorder.server_port}")
        monkeypatch.setenv("RECONCILER_HTTP_TOKEN", "s3cret-token")
        code, out, err = _run(capsys, "diff", str(setup.repo))
    finally:
        recorder.shutdown()
        recorder.server_close()
    assert _Recorder.seen == ["Bearer s3cret-token"]
    assert code == common.EXIT_CHANGES and setup.dialled == ["direct"]
    assert "HTTP 401" in err and "s3cret" not in err + out


def test_where_the_daemon_is_looked_for(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    token = tmp_path / "token"
    token.write_text("0123456789abcdef0123\n")
    config.write_text(f"repository: /srv/repo\nlisten: 0.0.0.0:9555\nhttp_token_file: {token}\n")
    args = argparse.Namespace(config=str(config), direct=False, daemon=None)
    assert daemonclient.endpoint(args, {}) == daemonclient.Endpoint(
        "127.0.0.1", 9555, "0123456789abcdef0123")  # fmt: skip
    token.chmod(0)  # unreadable here (not as root): no token, the daemon will say 401
    if lightsettings.token_in(token) is not None:
        token.unlink()
    assert daemonclient.endpoint(args, {}) == daemonclient.Endpoint("127.0.0.1", 9555)
    assert daemonclient.endpoint(args, {"RECONCILER_DAEMON": "[::1]:7"}) == (
        daemonclient.Endpoint("::1", 7))  # fmt: skip
    assert daemonclient.endpoint(args, {"RECONCILER_DAEMON": "none"}) is None
    assert daemonclient.endpoint(argparse.Namespace(direct=True), {}) is None
    forced = daemonclient.endpoint(argparse.Namespace(daemon="http://h:1/", direct=False), {
        "RECONCILER_CONFIG": "/dev/null", "RECONCILER_HTTP_TOKEN": "tok-9"})  # fmt: skip
    assert forced == daemonclient.Endpoint("h", 1, "tok-9", forced=True)
    assert "tok-9" not in repr(forced)
    plain = daemonclient.endpoint(argparse.Namespace(direct=False),
                                  {"RECONCILER_CONFIG": "/dev/null"})  # fmt: skip
    assert plain is not None and plain.url == "http://127.0.0.1:9400"
    with pytest.raises(settings.SettingsError, match="expected HOST:PORT"):
        daemonclient.parse_address("localhost")


PROBE = """
import json, sys
from reconciler.cli import main
code = main.main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""
HOSTS_ONLY = ("asyncssh", "cryptography", "podman", "requests", "urllib3", "pyrage", "paramiko")


def test_the_daemon_backed_diff_imports_no_ssh_stack(tmp_path: Path) -> None:
    """Fails when `diff` through a daemon that only observes (no POST /v1/diff: it plans here)
    loads asyncssh, cryptography or podman-py (a repository without encrypted Secrets:
    decrypting one needs cryptography and pyrage). The daemon-planned diff imports far less:
    tests/cli/test_dryrun.py::test_the_daemon_planned_diff_imports_little."""
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "hosts", repo / "hosts")
    (repo / "app.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: solo, namespace: default}\n"
        "spec:\n  containers:\n    - name: main\n      image: img:1\n"
    )
    executor = fake.FakeExecutor(["h1", "h2", "h3"])
    targets = sync.targets_of(loader.load_repository(repo).state)
    observer = observe.Observer(executor, lambda: targets, lambda: "r1")
    http = server.HttpServer("127.0.0.1:0", dict, metrics.Registry(), lambda: True,
                             observe=observer.answer)  # fmt: skip
    http.start()
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROBE, "diff", str(repo), "--daemon", f"127.0.0.1:{http.port}"],
            capture_output=True, text=True, timeout=120, check=False,
            env={"PATH": "/usr/bin:/bin", "RECONCILER_CONFIG": "/dev/null", "HOME": str(tmp_path)},
        )  # fmt: skip
    finally:
        http.stop()
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] == common.EXIT_CHANGES, done.stderr
    assert observer.served == 1 and "+ " in done.stdout
    loaded = sorted({m.split(".")[0] for m in result["modules"]} & set(HOSTS_ONLY))
    assert loaded == []
