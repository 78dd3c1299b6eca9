"""`runAsNonRoot: true` without `runAsUser` on the real test hosts: the host checks the image's
USER, as the kubelet does. busybox (no USER: root) is refused with CreateContainerConfigError and
nothing is created; an image whose USER is 1000 (made on h1 with `podman commit`) runs as 1000.

Namespace `nonroot-e2e`, removed at the end.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import gitdaemon, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "nonroot-e2e"
BUSYBOX = "198.18.0.1:5000/demo/busybox:latest"
NONROOT = "localhost/rc-nonroot-e2e:1"


def pod(name: str, image: str) -> str:
    return f"""\
---
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {NAMESPACE}
spec:
  nodeSelector: {{kubernetes.io/hostname: h1}}
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsNonRoot: true
  containers:
    - name: app
      image: {image}
      imagePullPolicy: IfNotPresent
      command: ["sleep", "3600"]
"""


MANIFESTS = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
{pod("as-root", BUSYBOX)}{pod("as-user", NONROOT)}"""


reconciler = gitdaemon.run_cli  # `reconciler ARGS...` against the lab


@pytest.fixture
def repo(lab: labmod.Lab, tmp_path: Path) -> Iterator[Path]:
    h1 = lab.get("h1")
    source = "rc-nonroot-e2e-src"
    lab.ssh(h1, "podman", "rm", "-f", source, check=False)
    lab.ssh(h1, "podman", "create", "--name", source, BUSYBOX, "true")
    lab.ssh(h1, "podman", "commit", "-q", "--change", "USER=1000", source, NONROOT)
    lab.ssh(h1, "podman", "rm", source)
    path = tmp_path / "repo"
    shutil.copytree(gitdaemon.EXAMPLE / "hosts", path / "hosts")
    (path / "app.yaml").write_text(MANIFESTS)
    gitdaemon.remove_namespace_pods(lab, NAMESPACE)
    yield path
    (path / "app.yaml").unlink()
    reconciler(lab, "apply", "--allow-mass-prune", str(path))
    gitdaemon.remove_namespace_pods(lab, NAMESPACE)
    lab.ssh(h1, "podman", "rmi", NONROOT, check=False)


def test_the_images_user_decides(lab: labmod.Lab, repo: Path) -> None:
    validated = reconciler(lab, "validate", str(repo))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    applied = reconciler(lab, "apply", "--allow-mass-prune", str(repo))
    said = applied.stdout + applied.stderr
    assert applied.returncode != 0, said  # one pod could not be created
    assert "CreateContainerConfigError: container has runAsNonRoot and image will run as " \
        "root (container app)" in said, said
    h1 = lab.get("h1")
    listed = lab.ssh(h1, "podman", "pod", "ps", "--format", "{{.Name}}", "--filter",
                     f"label=reconciler.dev/namespace={NAMESPACE}").stdout.split()  # fmt: skip
    assert not [name for name in listed if "as-root" in name], listed
    (user_pod,) = [name for name in listed if "as-user" in name]
    containers = lab.ssh(h1, "podman", "ps", "--format", "{{.Names}}", "--filter",
                         f"pod={user_pod}").stdout.split()  # fmt: skip
    (app,) = [c for c in containers if not c.endswith("-infra")]
    proc.wait_for(
        lambda: lab.ssh(h1, "podman", "exec", app, "id", "-u", check=False).stdout.strip()
        == "1000",
        "the as-user pod running as uid 1000",
        30,
    )
