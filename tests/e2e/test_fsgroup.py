"""A pod's `securityContext.fsGroup` and `supplementalGroups` on a real test host (issue 17): two
containers running as uids 1000 and 1001 with fsGroup 2000 both write into their disk emptyDir
and their PersistentVolumeClaim, have the groups (their process's), and what they make belongs
to group 2000; a Memory emptyDir (which fsGroup does not reach, with a warning) is writable by
all.

Namespace `fsgroup-e2e`; the pods are pruned and the claim's volume reclaimed at the end.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import gitdaemon
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "fsgroup-e2e"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
POD = f"{NAMESPACE}_writer"
MANIFESTS = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: {NAMESPACE}
  annotations: {{reconciler.dev/reclaim-policy: Delete}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 10Mi}}}}
---
apiVersion: v1
kind: Pod
metadata:
  name: writer
  namespace: {NAMESPACE}
spec:
  nodeSelector: {{zone: b}}
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsUser: 1000
    runAsNonRoot: true
    fsGroup: 2000
    fsGroupChangePolicy: OnRootMismatch
    supplementalGroups: [3000]
  containers:
    - name: one
      image: {IMAGE}
      command: ["sleep", "3600"]
      volumeMounts:
        - {{name: scratch, mountPath: /scratch}}
        - {{name: data, mountPath: /data}}
        - {{name: mem, mountPath: /mem}}
    - name: two
      image: {IMAGE}
      command: ["sleep", "3600"]
      securityContext: {{runAsUser: 1001}}
      volumeMounts:
        - {{name: scratch, mountPath: /scratch}}
        - {{name: data, mountPath: /data}}
  volumes:
    - {{name: scratch, emptyDir: {{}}}}
    - {{name: data, persistentVolumeClaim: {{claimName: data}}}}
    - {{name: mem, emptyDir: {{medium: Memory}}}}
"""


reconciler = gitdaemon.run_cli  # `reconciler ARGS...` against the lab


@pytest.fixture(scope="module")
def applied(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    repo, hosts_only = gitdaemon.hosts_repos(tmp_path_factory.mktemp, "fsgroup")
    (repo / "app.yaml").write_text(MANIFESTS)
    result = reconciler(lab, "apply", "--allow-mass-prune", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    yield repo
    reconciler(lab, "apply", "--allow-mass-prune", str(hosts_only))  # the pod goes
    reconciler(lab, "apply", "--allow-mass-prune", str(hosts_only))  # then its claim (Delete)


def _sh(lab: labmod.Lab, container: str, script: str) -> str:
    """Run `script` with sh in the pod's container on h3; its output (waits for the start)."""
    name = f"{POD}_{container}"
    deadline = time.monotonic() + 30
    while True:
        result = lab.ssh(lab.get("h3"), "podman", "exec", name, "sh", "-c", script, check=False)
        if result.returncode == 0:
            return result.stdout.strip()
        assert time.monotonic() < deadline, result.stdout + result.stderr
        time.sleep(0.5)


def test_every_container_has_the_groups(lab: labmod.Lab, applied: Path) -> None:
    """Read from the container's own process (pid 1): `podman exec` adds a group of its own."""
    for container, uid in (("one", "1000"), ("two", "1001")):
        status = _sh(lab, container, "grep -E '^(Uid|Gid|Groups):' /proc/1/status")
        fields = {line.split(":")[0]: line.split(":")[1].split() for line in status.splitlines()}
        assert fields == {"Uid": [uid] * 4, "Gid": ["0"] * 4, "Groups": ["0", "2000", "3000"]}


def test_both_users_write_the_volumes_and_the_files_belong_to_fs_group(
    lab: labmod.Lab, applied: Path
) -> None:
    for directory in ("/scratch", "/data"):
        assert _sh(lab, "one", f"stat -c '%u %g %A' {directory}") == "0 2000 drwxrwsr-x"
        _sh(lab, "one", f"echo one > {directory}/one && mkdir -p {directory}/sub")
        _sh(lab, "two", f"echo two > {directory}/two")
        listing = _sh(lab, "two", f"stat -c '%n %u %g' {directory}/one {directory}/two "
                      f"{directory}/sub")  # fmt: skip
        assert listing.splitlines() == [
            f"{directory}/one 1000 2000", f"{directory}/two 1001 2000", f"{directory}/sub 1000 2000"
        ]


def test_a_memory_empty_dir_is_writable_by_all_and_validate_says_so(
    lab: labmod.Lab, applied: Path
) -> None:
    assert _sh(lab, "one", "stat -c '%a' /mem && touch /mem/x && stat -c '%g' /mem/x").split() == [
        "1777", "0"
    ]  # fmt: skip
    result = reconciler(lab, "validate", str(applied))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "spec.volumes[2].emptyDir.medium: fsGroup does not reach a Memory emptyDir" in (
        result.stdout
    )
