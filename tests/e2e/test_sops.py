"""A SOPS-encrypted Secret end to end (namespace sops-e2e): `reconciler apply` decrypts it with the
test-only age key, the container on a real host sees the plaintext (env and 0600 file, read with
podman exec), and the canary value never appears in apply, diff or get output."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import gitdaemon
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
EXAMPLE = labmod.REPO / "examples" / "repo"
CASES = labmod.REPO / "tests" / "cases" / "sops"
NAMESPACE = "sops-e2e"
CANARY = "sops-e2e-canary-4b1d7c0e"  # the plaintext inside tests/cases/sops/e2e-secret.enc.yaml
DEPLOYMENT = f"""apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reader
  namespace: {NAMESPACE}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: reader}}
  template:
    metadata:
      labels: {{app: reader}}
    spec:
      containers:
        - name: main
          image: 198.18.0.1:5000/demo/busybox:latest
          imagePullPolicy: IfNotPresent
          command: ["sleep", "3600"]
          env:
            - name: CANARY_TOKEN
              valueFrom:
                secretKeyRef: {{name: canary, key: CANARY_TOKEN}}
          volumeMounts:
            - {{name: canary, mountPath: /etc/canary, readOnly: true}}
      volumes:
        - name: canary
          secret: {{secretName: canary}}
"""


def _cli(lab: labmod.Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
        env=gitdaemon.cli_env(lab), timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture()
def repo(lab: labmod.Lab, tmp_path: Path) -> Iterator[Path]:
    """The hosts of examples/repo, the encrypted Secret and a Deployment that reads it."""
    path = tmp_path / "repo"
    shutil.copytree(EXAMPLE / "hosts", path / "hosts")
    (path / NAMESPACE).mkdir()
    shutil.copy(CASES / "e2e-secret.enc.yaml", path / NAMESPACE / "secret.yaml")
    (path / NAMESPACE / "reader.yaml").write_text(DEPLOYMENT)
    yield path
    gitdaemon.remove_namespace_pods(lab, NAMESPACE)


def test_encrypted_secret_reaches_the_container_and_no_output(lab: labmod.Lab, repo: Path) -> None:
    outputs = []
    applied = _cli(lab, "apply", str(repo))
    outputs.append(applied)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    found = [
        (host, name)
        for host in lab.hosts()
        for name in lab.ssh(
            host,
            "podman",
            "ps",
            "--format",
            "{{.Names}}",
            "--filter",
            f"label=reconciler.dev/namespace={NAMESPACE}",
        ).stdout.split()
        if name.endswith("_main")
    ]
    assert len(found) == 1, found
    host, container = found[0]
    env = lab.ssh(host, "podman", "exec", container, "sh", "-c", 'echo "$CANARY_TOKEN"')
    assert env.stdout.strip() == CANARY
    mounted = lab.ssh(host, "podman", "exec", container, "cat", "/etc/canary/CANARY_TOKEN")
    assert mounted.stdout == CANARY
    outputs += [
        _cli(lab, "diff", str(repo)),
        _cli(lab, "get", "pods", "-f", str(repo), "-n", NAMESPACE, "-o", "yaml"),
        _cli(lab, "get", "deployments", "-f", str(repo), "-n", NAMESPACE, "-o", "json"),
        _cli(lab, "validate", str(repo), "-o", "json"),
    ]
    for result in outputs:
        assert CANARY not in result.stdout + result.stderr, result.args
    assert outputs[1].returncode == 0, outputs[1].stdout  # nothing left to change


def test_wrong_key_refuses_and_changes_nothing(lab: labmod.Lab, repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    shutil.copy(CASES / "sops-keys.txt", other)
    env = {**gitdaemon.cli_env(lab), "SOPS_AGE_KEY_FILE": str(other)}
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", str(repo)], capture_output=True,
        text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert f"{NAMESPACE}/secret.yaml:" in result.stdout + result.stderr
    assert "age180hs5usywh5ketmczcvc0y3y6txg3luxutx5n845545snmzw5qssj2gkz6" in (
        result.stderr + result.stdout
    )
    assert CANARY not in result.stdout + result.stderr
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "pod", "ps", "-q", "--filter",
                         f"label=reconciler.dev/namespace={NAMESPACE}", check=False)  # fmt: skip
        assert listed.stdout.strip() == ""


def test_the_daemon_decrypts_it_and_the_canary_stays_out_of_its_log_status_and_database(
    lab: labmod.Lab, tmp_path: Path
) -> None:
    """Through a real git push: the daemon (config age_key_file) runs the pod with the
    plaintext, and the canary is in none of its log, /status, /metrics, history or state files."""
    import json  # noqa: PLC0415

    from tests.harness import proc  # noqa: PLC0415

    key = labmod.REPO / "tests" / "harness" / "age" / "demo.key"
    config = f"age_key_file: {key}\n"
    with gitdaemon.daemon_on_git(
        lab, tmp_path, git_user="rc-git-sops", namespace=NAMESPACE, extra_config=config
    ) as (daemon, work):
        (work.path / NAMESPACE).mkdir()
        shutil.copy(CASES / "e2e-secret.enc.yaml", work.path / NAMESPACE / "secret.yaml")
        (work.path / NAMESPACE / "reader.yaml").write_text(DEPLOYMENT)
        pushed = work.commit_and_push("an encrypted secret")

        def applied() -> bool:
            status = daemon.status() or {}
            return (status.get("revision") or {}).get("applied") == pushed

        proc.wait_for(applied, "the daemon to apply the encrypted Secret", 120)
        env = ""
        for host in lab.hosts():
            label = f"label=reconciler.dev/namespace={NAMESPACE}"
            listed = lab.ssh(host, "podman", "ps", "--format", "{{.Names}}", "--filter", label)
            names = listed.stdout.split()
            for name in names:
                env += lab.ssh(host, "podman", "exec", name, "env").stdout
        assert f"CANARY_TOKEN={CANARY}" in env  # the container sees the plaintext
        seen = [daemon.get("/status") or "", daemon.get("/metrics") or "",
                json.dumps(daemon.status())]  # fmt: skip
        seen.append((tmp_path / "daemon.log").read_text(errors="replace"))
        for path in (tmp_path / "state").rglob("*"):
            if path.is_file():  # checkouts included: they hold only ciphertext
                seen.append(path.read_bytes().decode("latin-1"))
        assert all(CANARY not in text for text in seen)
