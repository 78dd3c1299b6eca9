"""`imagePullSecrets` against a registry that wants a login (issue 17), on the real test hosts:
the lab's second registry (`tests.harness.authregistry`, htpasswd at 198.18.0.1:5001) holds
`private/busybox:v1`; pods pull it with `imagePullPolicy: Always` through Podman's API.

A wrong password and a missing pull Secret fail with ErrImagePull naming the registry, the pod is
not started, and no password is printed; the Secret fixed in the repository makes the next
`apply` pull and run it. Namespace `pullsecret-e2e`; its pods are removed at the end.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import authregistry, gitdaemon, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "pullsecret-e2e"
WRONG = "not-the-Password-42"


def _manifests(registry: authregistry.AuthRegistry, password: str, anonymous: bool) -> str:
    config = base64.b64encode(registry.docker_config(password).encode()).decode()
    pods = [("private", "  imagePullSecrets:\n    - name: regcred\n")]
    if anonymous:
        pods.append(("anonymous", ""))
    text = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: v1
kind: Secret
metadata:
  name: regcred
  namespace: {NAMESPACE}
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: {config}
"""
    for name, secrets in pods:
        text += f"""\
---
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {NAMESPACE}
spec:
  terminationGracePeriodSeconds: 1
{secrets}  containers:
    - name: app
      image: {registry.image}
      imagePullPolicy: Always
      command: ["sleep", "3600"]
"""
    return text


reconciler = gitdaemon.run_cli  # `reconciler ARGS...` against the lab


@pytest.fixture(scope="module")
def registry(lab: labmod.Lab) -> Iterator[authregistry.AuthRegistry]:
    """The authenticated registry, started (and at the end stopped) here unless it ran."""
    pid_file = lab.config.state_dir / "authregistry" / "registry.pid"
    running = proc.pid_alive(proc.read_pid(pid_file))
    yield authregistry.ensure(lab)
    if not running:
        authregistry.stop(lab)


@pytest.fixture(scope="module")
def repo(
    lab: labmod.Lab, registry: authregistry.AuthRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("pullsecrets") / "repo"
    shutil.copytree(labmod.REPO / "examples" / "repo" / "hosts", path / "hosts")
    gitdaemon.remove_namespace_pods(lab, NAMESPACE)
    yield path
    gitdaemon.remove_namespace_pods(lab, NAMESPACE)


def _pods(lab: labmod.Lab) -> dict[str, dict[str, Any]]:
    found = {}
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "pod", "ps", "--format", "json", "--filter",
                         f"label=reconciler.dev/namespace={NAMESPACE}", check=False)  # fmt: skip
        for pod in json.loads(listed.stdout or "[]"):
            found[pod["Labels"]["reconciler.dev/name"]] = {"host": host, **pod}
    return found


def test_the_registry_wants_a_login(registry: authregistry.AuthRegistry) -> None:
    assert authregistry.status(registry) == 401
    assert authregistry.status(registry, registry.basic) == 200


def test_a_wrong_password_or_no_secret_fails_with_err_image_pull(
    lab: labmod.Lab, registry: authregistry.AuthRegistry, repo: Path
) -> None:
    (repo / "app.yaml").write_text(_manifests(registry, WRONG, anonymous=True))
    result = reconciler(lab, "apply", "--allow-mass-prune", str(repo))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    failed = [line for line in output.splitlines() if "... failed" in line]
    private = next(line for line in failed if f"{NAMESPACE}/private" in line)
    anonymous = next(line for line in failed if f"{NAMESPACE}/anonymous" in line)
    assert "ErrImagePull" in private and "registry 198.18.0.1:5001 refused" in private
    assert "Secret 'regcred'" in private and "unauthorized" in private
    assert "ErrImagePull" in anonymous and "imagePullSecrets" in anonymous
    assert WRONG not in output and registry.password not in output
    assert base64.b64encode(f"{registry.user}:{WRONG}".encode()).decode() not in output
    assert _pods(lab) == {}  # not started


def test_the_fixed_secret_pulls_and_runs_the_pod(
    lab: labmod.Lab, registry: authregistry.AuthRegistry, repo: Path
) -> None:
    for host in lab.hosts():  # a real pull: the image is on no host before
        lab.ssh(host, "podman", "rmi", "-f", registry.image, check=False)
    (repo / "app.yaml").write_text(_manifests(registry, registry.password, anonymous=False))
    result = reconciler(lab, "apply", "--allow-mass-prune", str(repo))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert registry.password not in output
    pod = _pods(lab)["private"]
    host = pod["host"]
    marker = lab.ssh(host, "podman", "exec", f"{NAMESPACE}_private_app", "cat",
                     "/etc/image-marker")  # fmt: skip
    assert marker.stdout.strip() == f"{authregistry.REPOSITORY}:{authregistry.TAG}"
    stored = lab.ssh(host, "sh", "-c", "cat $XDG_RUNTIME_DIR/containers/auth.json "
                     "$HOME/.config/containers/auth.json 2>/dev/null", check=False)  # fmt: skip
    assert registry.password not in stored.stdout  # the login was never written on the host


def test_the_daemon_shows_image_pull_back_off_until_the_secret_is_fixed(
    lab: labmod.Lab, registry: authregistry.AuthRegistry, tmp_path_factory: pytest.TempPathFactory
) -> None:
    base = tmp_path_factory.mktemp("pullsecrets-daemon")
    with gitdaemon.daemon_on_git(lab, base, git_user="rc-git-pull", namespace=NAMESPACE) as (
        _daemon,
        work,
    ):
        env = {**gitdaemon.cli_env(lab), "RECONCILER_STATE_DIR": str(base / "state")}

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "reconciler", *args, "-n", NAMESPACE, "-f", str(work.path)],
                capture_output=True, text=True, env=env, timeout=120, check=False,
            )  # fmt: skip

        def status() -> str:
            done = cli("get", "pods", "-o", "json")
            assert done.returncode == 0, done.stderr
            rows = {item["name"]: item for item in json.loads(done.stdout)["items"]}
            return str(rows.get("private", {}).get("status", ""))

        work.write("app.yaml", _manifests(registry, WRONG, anonymous=False))
        work.commit_and_push("a pod with the wrong registry password")
        assert proc.wait_for(lambda: status() == "ImagePullBackOff" or None,
                             "ImagePullBackOff in get pods", 240, 2.0)  # fmt: skip
        described = cli("describe", "pod", "private")
        assert described.returncode == 0, described.stderr
        text = described.stdout
        assert "Status:       ImagePullBackOff" in text and "198.18.0.1:5001" in text
        assert "ErrImagePull" in text and "Secret 'regcred'" in text
        assert _pods(lab) == {}
        work.write("app.yaml", _manifests(registry, registry.password, anonymous=False))
        work.commit_and_push("the right password")
        assert proc.wait_for(lambda: status() == "Running" or None, "the pod running", 240, 2.0)
        logged = (base / "daemon.log").read_text()
        for secret in (WRONG, registry.password, registry.basic.removeprefix("Basic ")):
            assert secret not in logged and secret not in text
