"""`reconciler apply / diff / get` end to end: examples/repo onto the 3 real test hosts.

The tests run in order on one copy of the example repository (module-scoped): first deploy,
no-op re-apply (counted through `podman events` on every host), one env var changed, a hand-made
container left alone, a manifest removed, one host unreachable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
EXAMPLE = labmod.REPO / "examples" / "repo"


class Cli:
    def __init__(self, lab: labmod.Lab) -> None:
        self.env = {
            **os.environ,
            "RECONCILER_SSH_KEY": str(lab.config.key_file),
            "RECONCILER_KNOWN_HOSTS": str(lab.config.known_hosts),
            "RECONCILER_CONFIG": "/dev/null",
        }

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
            env=self.env, timeout=300, check=False,
        )  # fmt: skip

    def pods(self, repo: Path) -> dict[str, dict[str, Any]]:
        result = self("get", "pods", "-f", str(repo), "-o", "json", "-n", "shop")
        assert result.returncode == 0, result.stderr
        return {item["name"]: item for item in json.loads(result.stdout)["items"]}


@pytest.fixture(scope="module")
def cli(lab: labmod.Lab) -> Cli:
    return Cli(lab)


@pytest.fixture(scope="module")
def repo(lab: labmod.Lab, cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of examples/repo; before the tests, every managed pod is pruned from the hosts."""
    path = tmp_path_factory.mktemp("repo") / "repo"
    shutil.copytree(EXAMPLE, path)
    hosts_only = tmp_path_factory.mktemp("hosts-only")
    shutil.copytree(EXAMPLE / "hosts", hosts_only / "hosts")
    assert cli("apply", "--allow-mass-prune", str(hosts_only)).returncode == 0  # prune guard
    yield path
    cli("apply", "--allow-mass-prune", str(hosts_only))


def _http(address: str, port: int) -> str:
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"http://{address}:{port}/", timeout=3) as response:
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _events_since(lab: labmod.Lab, since: str) -> list[dict[str, Any]]:
    """Every podman event on every host since `since` (pod/container/image/volume changes)."""
    found = []
    for host in lab.hosts():
        out = lab.ssh(host, "podman", "events", "--stream=false", "--since", since,
                      "--format", "json").stdout  # fmt: skip
        found += [json.loads(line) for line in out.splitlines() if line.strip()]
    return found


def test_first_apply_runs_every_pod_spread_and_the_web_app_answers(
    lab: labmod.Lab, cli: Cli, repo: Path
) -> None:
    diff = cli("diff", str(repo))
    assert diff.returncode == 1, diff.stderr
    assert "5 to create" in diff.stdout
    result = cli("apply", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 created, 0 replaced, 0 deleted, 0 failed" in result.stdout
    pods = cli.pods(repo)
    assert len(pods) == 5 and all(p["status"] == "Running" for p in pods.values()), pods
    web_hosts = {p["host"] for n, p in pods.items() if n.startswith("web-")}
    backend_hosts = {p["host"] for n, p in pods.items() if n.startswith("backend-")}
    assert web_hosts == {"h1", "h2", "h3"}
    assert len(backend_hosts) == 2
    for host in lab.hosts():
        assert "Hello from the shop" in _http(host.address, 8080)


def test_second_apply_makes_no_podman_change_and_diff_is_clean(
    lab: labmod.Lab, cli: Cli, repo: Path
) -> None:
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(1.1)  # podman's --since has one-second resolution
    result = cli("apply", str(repo))
    assert result.returncode == 0, result.stderr
    assert "0 created, 0 replaced, 0 deleted, 0 failed, 5 unchanged" in result.stdout
    assert _events_since(lab, since) == []
    diff = cli("diff", str(repo))
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert "0 to create, 0 to replace, 0 to delete, 5 unchanged" in diff.stdout


def test_changing_one_env_var_replaces_only_that_deployment(
    lab: labmod.Lab, cli: Cli, repo: Path
) -> None:
    before = cli.pods(repo)
    manifest = repo / "shop" / "backend.yaml"
    text = manifest.read_text()
    added = '            - name: FEATURE_FLAG\n              value: "on; $(echo x)"\n'
    manifest.write_text(text.replace("          env:\n", "          env:\n" + added, 1))
    diff = cli("diff", str(repo))
    assert diff.returncode == 1
    assert "FEATURE_FLAG" in diff.stdout and "web-" not in diff.stdout.split("Plan for")[0]
    result = cli("apply", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    after = cli.pods(repo)
    web_before = {n: p for n, p in before.items() if n.startswith("web-")}
    web_after = {n: p for n, p in after.items() if n.startswith("web-")}
    assert web_after.keys() == web_before.keys()
    assert all(web_after[n]["created"] == web_before[n]["created"] for n in web_before)
    old_backend = {n for n in before if n.startswith("backend-")}
    new_backend = {n for n in after if n.startswith("backend-")}
    assert len(new_backend) == 2 and not (old_backend & new_backend)
    # the value reached the container exactly as written, no shell expanded it
    host = lab.get(after[sorted(new_backend)[0]]["host"])
    pod = f"shop_{sorted(new_backend)[0]}"
    out = lab.ssh(host, "podman", "exec", f"{pod}_worker", "env")
    assert "FEATURE_FLAG=on; $(echo x)" in out.stdout.splitlines()


def test_hand_made_container_is_left_alone_and_removed_manifest_is_pruned(
    lab: labmod.Lab, cli: Cli, repo: Path
) -> None:
    h1 = lab.get("h1")
    lab.ssh(h1, "podman", "run", "-d", "--name", "handmade", lab.config.image, "sleep", "600")
    try:
        (repo / "shop" / "backend.yaml").unlink()
        result = cli("apply", str(repo))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 created, 0 replaced, 2 deleted, 0 failed, 3 unchanged" in result.stdout
        pods = cli.pods(repo)
        assert sorted(n.split("-")[0] for n in pods) == ["web", "web", "web"]
        state = lab.ssh(h1, "podman", "inspect", "--format", "{{.State.Status}}", "handmade")
        assert state.stdout.strip() == "running"
    finally:
        lab.ssh(h1, "podman", "rm", "-f", "-t", "0", "handmade", check=False)


def test_unreachable_host_is_named_and_its_pods_are_not_assumed_deleted(
    lab: labmod.Lab, cli: Cli, repo: Path
) -> None:
    before = cli.pods(repo)
    on_h3 = [n for n, p in before.items() if p["host"] == "h3"]
    assert on_h3
    config = repo / "shop" / "web-config.yaml"
    config.write_text(config.read_text().replace("LOG_LEVEL: info", "LOG_LEVEL: debug"))
    lab.kill("h3")
    try:
        result = cli("apply", str(repo))
        assert result.returncode == 4, result.stdout + result.stderr
        assert "host h3: unreachable at" in result.stderr
        listing = cli("get", "pods", "-f", str(repo), "-o", "json")
        assert listing.returncode == 4 and "h3" in listing.stderr
        items = {
            i["name"]: i for i in json.loads(listing.stdout)["items"] if i["namespace"] == "shop"
        }
        assert {i["host"] for i in items.values()} == {"h1", "h2"}
        # h1 and h2 converged to the new config: their web pods were replaced
        for name, item in items.items():
            assert item["created"] != before[name]["created"], name
    finally:
        lab.revive("h3")
    # h3 is back: its pod was never deleted; the next apply converges it too.
    still = lab.ssh(lab.get("h3"), "podman", "pod", "ps", "--format", "{{.Name}}").stdout.split()
    assert f"shop_{on_h3[0]}" in still
    result = cli("apply", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    assert cli("diff", str(repo)).returncode == 0
