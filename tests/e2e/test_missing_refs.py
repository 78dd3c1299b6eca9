"""References to objects no file declares (issue 17), on the real test hosts, as the Kubernetes API
server accepts them: `validate` warns (and `--strict` refuses), `apply` creates what it can and
exits 4; a pod whose ConfigMap is missing is listed as `CreateContainerConfigError`, one whose claim
is missing as `Pending`, and neither exists on any host (no stray volume either); a missing pull
Secret is left out; the undeclared namespace exists implicitly. Declaring the objects starts the
pods; removing the ConfigMap again under a new template keeps the running pod.

Namespace `waitref-e2e` (never declared); every managed pod is pruned at the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import gitdaemon
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "waitref-e2e"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
WEB = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {NAMESPACE}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      nodeSelector: {{zone: b}}
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: {IMAGE}
          command: ["sleep", "3600"]
          envFrom:
            - configMapRef: {{name: settings}}
          env: [{{name: STEP, value: "one"}}]
"""
PODS = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: db
  namespace: {NAMESPACE}
spec:
  nodeSelector: {{zone: b}}
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: {IMAGE}
      command: ["sleep", "3600"]
      volumeMounts: [{{name: data, mountPath: /data}}]
  volumes:
    - name: data
      persistentVolumeClaim: {{claimName: data}}
---
apiVersion: v1
kind: Pod
metadata:
  name: ok
  namespace: {NAMESPACE}
spec:
  nodeSelector: {{zone: b}}
  terminationGracePeriodSeconds: 1
  imagePullSecrets: [{{name: regcred}}]
  containers:
    - name: app
      image: {IMAGE}
      command: ["sleep", "3600"]
"""
DECLARED = f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {NAMESPACE}
data:
  GREETING: hello
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: {NAMESPACE}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 10Mi}}}}
"""

reconciler = gitdaemon.run_cli  # `reconciler ARGS...` against the lab


@pytest.fixture(scope="module")
def repo(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    repo, hosts_only = gitdaemon.hosts_repos(tmp_path_factory.mktemp, "waitref")
    (repo / "web.yaml").write_text(WEB)
    (repo / "pods.yaml").write_text(PODS)
    yield repo
    reconciler(lab, "apply", "--allow-mass-prune", str(hosts_only))
    for name in _claim_volumes(lab):
        lab.ssh(lab.get("h3"), "podman", "volume", "rm", "-f", name, check=False)


def _pods(lab: labmod.Lab, repo: Path) -> dict[str, dict[str, str]]:
    listed = reconciler(lab, "get", "pods", "-n", NAMESPACE, "-o", "json", "-f", str(repo))
    assert listed.returncode == 0, listed.stdout + listed.stderr
    items = json.loads(listed.stdout)["items"]
    return {i["name"].split("-")[0]: i for i in items}


def _claim_volumes(lab: labmod.Lab) -> list[str]:
    names = lab.ssh(lab.get("h3"), "podman", "volume", "ls", "--format", "{{.Name}}").stdout
    return [n for n in names.split() if n.startswith(f"rc-pvc-{NAMESPACE}-")]


def _env(lab: labmod.Lab, container: str) -> str:
    return lab.ssh(lab.get("h3"), "podman", "exec", container, "env").stdout


def test_missing_objects_are_warnings_and_their_pods_wait(lab: labmod.Lab, repo: Path) -> None:
    checked = reconciler(lab, "validate", str(repo))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    warned = [line for line in checked.stdout.splitlines() if ": warning: " in line]
    assert any("web.yaml:" in w and "ConfigMap waitref-e2e/settings does not exist" in w
               for w in warned), warned  # fmt: skip
    assert any("PersistentVolumeClaim waitref-e2e/data does not exist" in w for w in warned)
    assert any("Secret waitref-e2e/regcred does not exist: images are pulled without it" in w
               for w in warned)  # fmt: skip
    assert any("Namespace waitref-e2e does not exist" in w for w in warned)
    assert reconciler(lab, "validate", "--strict", str(repo)).returncode == 1

    applied = reconciler(lab, "apply", "--allow-mass-prune", str(repo))
    assert applied.returncode == 4, applied.stdout + applied.stderr
    assert "ConfigMap 'settings' not found in namespace 'waitref-e2e'" in applied.stdout
    pods = _pods(lab, repo)
    assert pods["ok"]["status"] == "Running" and pods["ok"]["host"] == "h3"
    assert pods["web"]["status"] == "CreateContainerConfigError" and pods["web"]["host"] == ""
    assert pods["db"]["status"] == "Pending" and pods["db"]["host"] == ""
    described = reconciler(lab, "describe", "pod", "db", "-n", NAMESPACE, "-f", str(repo))
    assert "Pending (not created: a claim it mounts is not declared)" in described.stdout
    assert "persistentVolumeClaim.claimName" in described.stdout
    names = lab.ssh(lab.get("h3"), "podman", "pod", "ps", "--format", "{{.Name}}").stdout.split()
    assert f"{NAMESPACE}_ok" in names
    assert not [n for n in names if n.startswith((f"{NAMESPACE}_web", f"{NAMESPACE}_db"))]
    assert _claim_volumes(lab) == []  # no volume made for a claim nobody declared


def test_declaring_them_starts_the_pods(lab: labmod.Lab, repo: Path) -> None:
    (repo / "declared.yaml").write_text(DECLARED)
    checked = reconciler(lab, "validate", str(repo))
    warned = [line for line in checked.stdout.splitlines() if ": warning: " in line]
    left = ("Namespace waitref-e2e does not exist", "Secret waitref-e2e/regcred does not exist")
    assert warned and all(any(x in w for x in left) for w in warned), warned  # only these
    applied = reconciler(lab, "apply", str(repo))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    pods = _pods(lab, repo)
    assert {pods[n]["status"] for n in ("web", "db", "ok")} == {"Running"}
    assert "GREETING=hello" in _env(lab, f"{NAMESPACE}_{pods['web']['name']}_app")
    assert len(_claim_volumes(lab)) == 1


def test_a_new_template_without_its_config_map_keeps_the_running_pod(
    lab: labmod.Lab, repo: Path
) -> None:
    before = _pods(lab, repo)["web"]
    (repo / "declared.yaml").write_text(DECLARED.split("---\n")[1])  # the claim only
    (repo / "web.yaml").write_text(WEB.replace('value: "one"', 'value: "two"'))
    applied = reconciler(lab, "apply", str(repo))
    assert applied.returncode == 4, applied.stdout + applied.stderr
    listed = reconciler(lab, "get", "pods", "-n", NAMESPACE, "-o", "json", "-f", str(repo))
    items = [i for i in json.loads(listed.stdout)["items"] if i["name"].startswith("web-")]
    by_status = {i["status"]: i["name"] for i in items}
    assert by_status == {"Running": before["name"], "CreateContainerConfigError": by_status.get(
        "CreateContainerConfigError", "")} and len(items) == 2  # fmt: skip
    assert "GREETING=hello" in _env(lab, f"{NAMESPACE}_{before['name']}_app")
