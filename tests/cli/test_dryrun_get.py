"""`reconciler get pods|deployments` answered by a daemon (POST /v1/diff, command "get") against
the fake executor: the same stdout, stderr and exit code as the rows made here (`--direct`) in
every format, with a namespace, an unreachable host and invalid manifests; a fall back to
making them here when the daemon manages other hosts or nobody answers; the other views stay
here; and the quick path imports neither the YAML library, the planner nor the SSH stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import common, get
from reconciler.cli import hpa as hpacli
from reconciler.cli import jobs as jobscli
from reconciler.cli import pvc as pvccli
from reconciler.model import hoststate
from tests.cli.test_dryrun import HEAVY, PROBE, Setup, _free_port, _run
from tests.cli.test_dryrun import setup as setup  # noqa: PLC0414 (the fixture)

Ran = tuple[int, str, str]


def _both(setup: Setup, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[Ran, Ran]:
    """(through the daemon, made here) for `get ARGV -f REPO`; checks who answered."""
    served, dialled = setup.dryrun.served, len(setup.dialled)
    through = _run(capsys, "get", *argv, "-f", str(setup.repo))
    assert setup.dryrun.served == served + 1, through  # the daemon made the rows
    assert len(setup.dialled) == dialled and setup.observer.served == 0  # nothing else asked
    here = _run(capsys, "get", *argv, "-f", str(setup.repo), "--direct")
    assert setup.dryrun.served == served + 1 and setup.dialled[dialled:] == ["direct"]
    return through, here


@pytest.mark.parametrize("resource", ["pods", "po", "deployments"])
@pytest.mark.parametrize("output", ["table", "wide", "json", "yaml"])
def test_rows_are_answered_as_here(
    setup: Setup, capsys: pytest.CaptureFixture[str], resource: str, output: str
) -> None:
    through, here = _both(setup, capsys, resource, "-o", output)
    assert through == here and through[0] == common.EXIT_OK and through[1]
    assert "backend" in through[1]


def test_a_namespace_and_an_empty_one(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    through, here = _both(setup, capsys, "pods", "-n", "shop")
    assert through == here and through[1].count("\n") > 2
    through, here = _both(setup, capsys, "pods", "-n", "nothing-here")
    assert through == here == (common.EXIT_OK, "", "No resources found.\n")


def test_an_unreachable_host_is_named_and_incomplete(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    setup.fake.kill("h2", "no answer within 4s")
    for resource in ("pods", "deployments"):
        through, here = _both(setup, capsys, resource)
        assert through == here and through[0] == common.EXIT_INCOMPLETE
        assert "reconciler: " in through[2] and "no answer within 4s" in through[2]


def test_invalid_manifests_are_told_as_here(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    (setup.repo / "shop" / "broken.yaml").write_text("apiVersion: v1\nkind: [unclosed\n")
    through, here = _both(setup, capsys, "deployments")
    assert through == here and through[0] == common.EXIT_INVALID and through[1] == ""
    assert f"{setup.repo}/shop/broken.yaml:3:1: error: invalid YAML" in through[2]
    assert "reconciler get: 1 manifest error(s)" in through[2]
    through, here = _both(setup, capsys, "pods")  # the pods are listed all the same
    assert through == here and through[0] == common.EXIT_OK and "backend" in through[1]


def test_hosts_the_daemon_does_not_manage_are_read_here(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    direct = _run(capsys, "get", "pods", "-f", str(setup.repo), "--direct")
    setup.dialled.clear()
    h1, h2, h3 = setup.hosts[0]
    setup.hosts[0] = (h1, hoststate.HostTarget("h2", "10.9.9.9", h2.port, h2.user), h3)
    assert _run(capsys, "get", "pods", "-f", str(setup.repo)) == direct
    assert setup.dryrun.served == 0 and setup.observer.served == 1  # 409: observed, made here
    assert setup.dialled == ["direct"]  # h2 read here


def test_nobody_listening_reads_here(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = _run(capsys, "get", "pods", "-f", str(setup.repo), "--direct")
    monkeypatch.setenv("RECONCILER_DAEMON", f"127.0.0.1:{_free_port()}")
    assert _run(capsys, "get", "pods", "-f", str(setup.repo)) == direct  # quietly
    code, out, err = _run(capsys, "get", "pods", "-f", str(setup.repo), "--daemon",
                          f"127.0.0.1:{_free_port()}")  # fmt: skip
    assert code == common.EXIT_USAGE and out == "" and "no daemon answers at" in err


def test_the_other_views_are_made_here(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "get", "services", "-f", str(setup.repo))
    assert code == common.EXIT_OK and "web" in out
    assert setup.dryrun.served == 0 and setup.observer.served == 1


def test_the_resource_names_are_the_views_own() -> None:
    for names in (hpacli.NAMES, jobscli.NAMES, pvccli.NAMES):
        assert {k: get.RESOURCES[k] for k in names} == names


@pytest.mark.parametrize("resource", ["pods", "deployments"])
def test_the_daemon_made_get_imports_little(setup: Setup, tmp_path: Path, resource: str) -> None:
    """Fails when `get pods|deployments` answered by the daemon loads the SSH stack,
    podman-py, requests, jsonschema, the YAML library, gitpython or the planner."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "get", resource, "-f", str(setup.repo), "--daemon",
         f"127.0.0.1:{setup.port}"],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "RECONCILER_CONFIG": "/dev/null", "HOME": str(tmp_path)},
    )  # fmt: skip
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] == common.EXIT_OK, done.stderr
    assert setup.dryrun.served == 1 and "backend" in done.stdout
    loaded = sorted(m for m in result["modules"] if m.startswith((*HEAVY, "reconciler.web")))
    assert loaded == []
    assert "reconciler.cli.daemonclient" not in result["modules"]  # nor http.client
