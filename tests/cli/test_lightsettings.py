"""The quick `diff` client reads settings and the revision without the YAML library or
gitpython: wherever it answers, it answers as `settings`, `daemonclient` and
`source.worktree` do (else it gives None and they are asked); its copies of constants agree."""

from __future__ import annotations

import argparse
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from reconciler.cli import common, daemonclient, dryrunclient, lightsettings, settings
from reconciler.model import clusterips
from reconciler.plan import pruneguard
from reconciler.runtime import config as configmod
from reconciler.source import worktree
from reconciler.web import dryrun, planout

CONFIGS = [
    "",
    "listen: 127.0.0.1:9555\n",
    "# a comment\nrepository: /srv/repo   # trailing\nlisten: ':9556'\n\n"
    "service_cidr: 10.0.0.0/16\n",
    "prune_guard_percent: 20\nallow_mass_prune: true\nconnect_timeout: 3\n",
    'allow_mass_prune: False\nprune_guard_percent: 12.5\nlisten: "[::1]:9557"\n',
    "http_token_file: {token}\nlisten: 0.0.0.0:9558\n",
    "service_cidr: 10.96.0.1/12\n",  # host bits: settings refuses it
    "listen: nowhere\n",  # not HOST:PORT
    "allow_mass_prune: yes\n",  # a string in YAML 1.2
    "allow_mass_prune: 'true'\n",  # quoted: a string
    "prune_guard_percent: '30'\n",
    "verify_commits:\n  - ABCDEF\n",  # nested: left to settings
    "listen: &a 127.0.0.1:1\n",
    "unknown_key: 1\n",
    "connect_timeout: soon\n",
    "listen:\n",
    "---\nlisten: 127.0.0.1:9559\n",
]


def _slow(args: argparse.Namespace, env: dict[str, str]) -> tuple[object, ...] | str:
    try:
        resolved = settings.resolve(args, env)
        where = daemonclient.endpoint(args, env)
    except settings.SettingsError as exc:
        return f"error: {exc}"
    return (where, resolved.service_cidr, resolved.prune_guard_percent, resolved.allow_mass_prune)


@pytest.mark.parametrize("text", CONFIGS)
@pytest.mark.parametrize("flags", [{}, {"direct": True}, {"daemon": "127.0.0.1:7"},
                                   {"service_cidr": "10.1.0.0/16"}])  # fmt: skip
def test_where_it_answers_it_answers_as_settings(
    tmp_path: Path, text: str, flags: dict[str, object]
) -> None:
    token = tmp_path / "token"
    token.write_text("tok-0123456789\n")
    config = tmp_path / "config.yaml"
    config.write_text(text.format(token=token))
    args = argparse.Namespace(config=str(config), direct=False, daemon=None, service_cidr=None,
                              connect_timeout=None, command_timeout=None)  # fmt: skip
    for name, value in flags.items():
        setattr(args, name, value)
    env = {"HOME": str(tmp_path)}
    quick = lightsettings.resolve(args, env)
    slow = _slow(args, env)
    if quick is None:
        return  # left to settings
    assert not isinstance(slow, str), f"the quick path accepted what settings refuses: {slow}"
    assert (quick.where, quick.service_cidr, quick.prune_guard_percent,
            quick.allow_mass_prune) == slow  # fmt: skip


def test_the_usual_configs_take_the_quick_path(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    for text in CONFIGS[:6]:
        config.write_text(text.format(token=tmp_path / "token"))
        args = argparse.Namespace(config=str(config), direct=False, daemon=None)
        assert lightsettings.resolve(args, {}) is not None, text


def test_copies_agree() -> None:
    assert {*settings.FIELDS, *configmod.DEFAULTS, *configmod.REQUIRED} == lightsettings.KNOWN
    assert lightsettings.DEFAULT_CIDR == clusterips.DEFAULT_CIDR
    assert configmod.DEFAULTS["prune_guard_percent"] == lightsettings.DEFAULT_PRUNE_PERCENT
    assert configmod.DEFAULTS["listen"] == lightsettings.DEFAULT_ADDRESS
    assert dryrunclient.OVERRIDE_FILE == pruneguard.OVERRIDE_FILE
    assert dryrunclient.UNVERSIONED == worktree.UNVERSIONED
    assert dryrunclient.MAX_BODY == dryrun.MAX_BODY and dryrunclient.ROUTE == dryrun.ROUTE
    assert dryrunclient.VERSION == dryrun.VERSION
    codes = ("EXIT_OK", "EXIT_CHANGES", "EXIT_USAGE", "EXIT_INVALID", "EXIT_INCOMPLETE")
    assert [getattr(planout, c) for c in codes] == [getattr(common, c) for c in codes]


def _git(repo: Path, *argv: str) -> None:
    subprocess.run(["git", "-C", str(repo), *argv], check=True, capture_output=True)


def test_the_revision_is_the_one_gitpython_finds(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.yaml").write_text("a: 1\n")
    seen = []

    def same() -> None:
        quick, slow = dryrunclient.revision_of(repo), worktree.revision_of(repo)
        assert quick == slow
        seen.append(quick)

    same()  # a plain folder
    _git(repo, "init", "-q")
    same()  # no commit yet
    _git(repo, "add", "app.yaml")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    same()  # clean
    (repo / "app.yaml").write_text("a: 2\n")
    same()  # modified
    _git(repo, "add", "app.yaml")
    same()  # staged
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "two")
    (repo / "new.yaml").write_text("b: 1\n")
    same()  # untracked
    (repo / "new.yaml").unlink()
    (repo / "sub").mkdir()
    same()  # clean again (an empty folder is not a change)
    assert seen[0] == "unversioned" and seen[1] == "unversioned"
    assert seen[2] != seen[3] and seen[3].endswith("-dirty") and not seen[-1].endswith("-dirty")


def test_an_answer_is_read_by_its_length_not_the_close(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that keeps the connection open after a whole answer: the client stops at its
    Content-Length (it would else wait out the timeout and call it no answer)."""
    monkeypatch.setattr(dryrunclient, "ANSWER_TIMEOUT", 5.0)
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        peer, _ = listener.accept()
        with peer:
            while b"\r\n\r\n" not in peer.recv(65536):
                pass
            body = b'{"version": 1, "stdout": "x\\n", "stderr": "", "code": 1}'
            peer.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            done.wait(30)  # open until the test ends

    threading.Thread(target=serve, daemon=True).start()
    try:
        where = lightsettings.Endpoint("127.0.0.1", listener.getsockname()[1])
        assert dryrunclient.post(where, b"{}") == (
            200, {"version": 1, "stdout": "x\n", "stderr": "", "code": 1})  # fmt: skip
    finally:
        done.set()
        listener.close()
