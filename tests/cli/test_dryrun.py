"""`reconciler diff` planned by a daemon (POST /v1/diff) against the fake executor: the same
stdout, stderr and exit code as the plan made here (`--direct`) in every case (changes, none,
JSON, broken YAML, schema errors, an unreachable host, a held prune), secret values never in
the answer, a fall back to planning here when the daemon manages other hosts or nobody answers,
and the quick path imports neither the YAML library, the planner nor the SSH stack."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli import common, main
from reconciler.manifests import loader
from reconciler.model import hoststate
from reconciler.web import dryrun, metrics, server
from reconciler.web.ui import auth
from tests.cli import daemonserve

Setup = daemonserve.Setup


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    with daemonserve.serve(tmp_path, monkeypatch, plans=True) as served:
        yield served


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _both(setup: Setup, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[
    tuple[int, str, str], tuple[int, str, str]
]:  # fmt: skip
    """(through the daemon, planned here) for `diff ARGV REPO`; checks who answered."""
    served, dialled = setup.dryrun.served, len(setup.dialled)
    through = _run(capsys, "diff", *argv, str(setup.repo))
    assert setup.dryrun.served == served + 1, through  # the daemon planned it
    assert len(setup.dialled) == dialled and setup.observer.served == 0  # nothing else asked
    here = _run(capsys, "diff", *argv, str(setup.repo), "--direct")
    assert setup.dryrun.served == served + 1 and setup.dialled[dialled:] == ["direct"]
    return through, here


@pytest.mark.parametrize("argv", [(), ("-o", "json")])
def test_changes_and_no_change_are_answered_as_here(
    setup: Setup, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    through, here = _both(setup, capsys, *argv)
    assert through == here and through[0] == common.EXIT_CHANGES and through[1]
    backend = setup.repo / "shop" / "backend.yaml"
    backend.write_text(backend.read_text().replace("replicas: 3", "replicas: 2"))
    through, here = _both(setup, capsys, *argv)
    assert through == here and through[0] == common.EXIT_OK


def test_broken_yaml_and_schema_errors_name_the_users_files(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    (setup.repo / "shop" / "broken.yaml").write_text("apiVersion: v1\nkind: [unclosed\n")
    web = setup.repo / "shop" / "web.yaml"
    web.write_text(web.read_text().replace("replicas:", "replicas: many\n  x-replicas:", 1))
    through, here = _both(setup, capsys)
    assert through == here and through[0] == common.EXIT_INVALID and through[1] == ""
    assert f"{setup.repo}/shop/broken.yaml:3:1: error: invalid YAML" in through[2]
    assert f"{setup.repo}/shop/web.yaml:" in through[2]
    assert "reconciler-dryrun" not in through[2]  # never the daemon's own folder


def test_an_unreachable_host_is_named_and_incomplete(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.fake.kill("h2", "no answer within 4s")
    through, here = _both(setup, capsys)
    assert through == here and through[0] == common.EXIT_INCOMPLETE
    assert "no answer within 4s" in through[2]


def test_a_held_prune_is_told_and_planned_on(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(setup.repo / "shop")  # deletes most managed pods: the guard would hold it
    through, here = _both(setup, capsys)
    assert through == here and "apply would be held" in through[2]
    (setup.repo / ".reconciler").mkdir()
    (setup.repo / ".reconciler" / "allow-prune").write_text("yes\n")  # the override file
    through, here = _both(setup, capsys)
    assert through == here and "apply would be held" not in through[2]


def test_secret_values_never_leave_the_daemon(setup: Setup) -> None:
    loaded = loader.load_repository(setup.repo)
    secret = loaded.state.secrets[0]
    values = [v.decode() for v in secret.data.values() if len(v) >= 8]  # "shop" is everywhere
    assert values  # the password
    for output in ("text", "json"):
        body = _request(setup.repo, output=output)
        code, document = setup.dryrun.answer(body)
        raw = json.dumps(document)
        assert code == 200 and document["code"] == common.EXIT_CHANGES
        assert not [v for v in values if v in raw] and "<redacted>" in raw  # in the new pod


def test_hosts_the_daemon_does_not_manage_are_planned_here(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    direct = _run(capsys, "diff", str(setup.repo), "--direct")
    setup.dialled.clear()
    h1, h2, h3 = setup.hosts[0]
    setup.hosts[0] = (h1, hoststate.HostTarget("h2", "10.9.9.9", h2.port, h2.user), h3)
    code, out, err = _run(capsys, "diff", str(setup.repo), "-v")
    assert (code, out) == direct[:2] and setup.dryrun.served == 0
    assert "answered /v1/diff with HTTP 409" in err and "h2" in err  # -v says why
    assert setup.observer.served == 1 and setup.dialled == ["direct"]  # h2 read here


def test_nobody_listening_plans_here(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = _run(capsys, "diff", str(setup.repo), "--direct")
    monkeypatch.setenv("RECONCILER_DAEMON", f"127.0.0.1:{_free_port()}")
    assert _run(capsys, "diff", str(setup.repo)) == direct  # quietly
    code, _, err = _run(capsys, "diff", str(setup.repo), "-v")
    assert code == direct[0] and "no daemon answers at" in err and "planning here" in err
    code, out, err = _run(capsys, "diff", str(setup.repo), "--daemon", f"127.0.0.1:{_free_port()}")
    assert code == common.EXIT_USAGE and out == "" and "no daemon answers at" in err


def test_verbose_says_the_daemon_planned(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "diff", str(setup.repo), "-v")
    assert code == common.EXIT_CHANGES
    assert f"planned by the daemon at http://127.0.0.1:{setup.port}" in err


def test_the_daemon_only_observes(setup: Setup) -> None:
    before = len(setup.fake.calls)
    code, document = setup.dryrun.answer(_request(setup.repo))
    assert code == 200 and document["code"] == common.EXIT_CHANGES
    made = setup.fake.calls[before:]
    assert made and all(call.startswith("observe") for call in made), made
    guarded = dryrun.ReadOnly(setup.fake)
    with pytest.raises(Exception, match="a dry run does not apply a plan"):
        guarded.apply(hoststate.Plan(), setup.hosts[0])


def _request(repo: Path, output: str = "text") -> bytes:
    from reconciler.cli import dryrunclient, lightsettings  # noqa: PLC0415

    chosen = lightsettings.DryRunSettings(None, "10.96.0.0/12", 50.0, False)
    body = dryrunclient.body_for(repo, str(repo), output, chosen)
    assert body is not None
    return body


PROBE = """
import json, sys
from reconciler.cli import main
code = main.main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""
HEAVY = ("asyncssh", "cryptography", "podman", "requests", "urllib3", "pyrage", "paramiko",
         "jsonschema", "ruamel", "git", "reconciler.controllers", "reconciler.plan",
         "reconciler.manifests.loader", "reconciler.executor")  # fmt: skip


def test_the_daemon_planned_diff_imports_little(setup: Setup, tmp_path: Path) -> None:
    """Fails when `diff` planned by the daemon loads the SSH stack, podman-py, requests,
    jsonschema, the YAML library, gitpython or the reconciler's planner."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "diff", str(setup.repo), "--daemon",
         f"127.0.0.1:{setup.port}"],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "RECONCILER_CONFIG": "/dev/null", "HOME": str(tmp_path)},
    )  # fmt: skip
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] == common.EXIT_CHANGES, done.stderr
    assert setup.dryrun.served == 1 and "+ " in done.stdout
    loaded = sorted(m for m in result["modules"] if m.startswith(HEAVY))
    assert loaded == []


def test_the_token_is_sent_and_never_shown(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    guarded = server.HttpServer("127.0.0.1:0", dict, metrics.Registry(), lambda: True,
                                dryrun=setup.dryrun.answer,
                                access=auth.Access("s3cret-token"))  # fmt: skip
    guarded.start()
    try:
        monkeypatch.setenv("RECONCILER_DAEMON", f"127.0.0.1:{guarded.port}")
        code, out, err = _run(capsys, "diff", str(setup.repo), "-v")  # no token: 401
        assert code == common.EXIT_CHANGES and setup.dryrun.served == 0
        assert "HTTP 401" in err and setup.dialled == ["direct"]  # planned here
        monkeypatch.setenv("RECONCILER_HTTP_TOKEN", "s3cret-token")
        assert _run(capsys, "diff", str(setup.repo), "-v") == (
            code, out, f"reconciler diff: planned by the daemon at {guarded.url}\n")  # fmt: skip
        assert setup.dryrun.served == 1 and "s3cret" not in err + out
    finally:
        guarded.stop()


def test_a_config_file_the_quick_reader_leaves_is_read_fully(
    setup: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"  # a list: left to the YAML library, still the daemon's
    config.write_text(f"verify_commits:\n  - ABCDEF0123\nlisten: 127.0.0.1:{setup.port}\n")
    here = _run(capsys, "diff", str(setup.repo), "--direct")
    assert _run(capsys, "diff", str(setup.repo), "--config", str(config)) == here
    assert setup.dryrun.served == 1


def test_a_file_over_the_loaders_limit_is_refused_as_here(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    big = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big, namespace: shop}\ndata:\n"
    big += "".join(f"  k{i}: {'x' * 1000}\n" for i in range(1100))  # over 1 MiB
    (setup.repo / "shop" / "big.yaml").write_text(big)
    through, here = _both(setup, capsys)
    assert through == here and through[0] == common.EXIT_INVALID
    assert "big.yaml" in through[2] and "limit" in through[2]


def test_a_secret_the_daemons_key_cannot_read_is_planned_here(
    setup: Setup, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The daemon's own age key does not open the repository's Secret: it says so (409) and
    the command plans with the user's key, as `--direct` does."""
    blind = dryrun.DryRun(setup.fake, lambda: setup.hosts[0], tmp_path / "no-such-key.txt")
    code, document = blind.answer(_request(setup.repo))
    assert code == 409 and document["sops"] is True and blind.served == 0
    http = server.HttpServer("127.0.0.1:0", dict, metrics.Registry(), lambda: True,
                             dryrun=blind.answer)  # fmt: skip
    http.start()
    try:
        here = _run(capsys, "diff", str(setup.repo), "--direct")
        monkeypatch.setenv("RECONCILER_DAEMON", f"127.0.0.1:{http.port}")
        through = _run(capsys, "diff", str(setup.repo))
    finally:
        http.stop()
    assert through[:2] == here[:2] and here[0] == common.EXIT_CHANGES
    assert "/v1/observe with HTTP 404" in through[2]  # this daemon serves no observation
