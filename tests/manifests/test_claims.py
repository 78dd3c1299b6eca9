"""PersistentVolumeClaim manifests: what is accepted (built with its fields), what is refused
with a reason (shared access modes, a missing claim, ReadWriteOncePod
used by more than one pod at a time), storage classes of other clusters accepted with a warning
(not honoured), and ephemeral-storage requests and Host capacity."""

from __future__ import annotations

from pathlib import Path

from reconciler.manifests import loader
from reconciler.model import claims, workloads
from reconciler.model import diagnostics as dg

CLAIM = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  annotations:
    reconciler.dev/reclaim-policy: {policy}
spec:
  accessModes: [{mode}]
  storageClassName: {klass}
  volumeMode: Filesystem
  resources:
    requests:
      storage: 2Gi
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  strategy: {{type: {strategy}}}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: c
        image: busybox
        resources:
          requests: {{ephemeral-storage: 1Gi}}
          limits: {{ephemeral-storage: 2Gi}}
        volumeMounts: [{{name: d, mountPath: /data}}]
      volumes:
      - name: d
        persistentVolumeClaim: {{claimName: {claim}, readOnly: true}}
"""


def _load(tmp_path: Path, *, policy: str = "Delete", mode: str = "ReadWriteOnce",
          klass: str = '""', replicas: int = 2, strategy: str = "RollingUpdate",
          claim: str = "data") -> loader.LoadResult:  # fmt: skip
    (tmp_path / "claim.yaml").write_text(CLAIM.format(policy=policy, mode=mode, klass=klass))
    (tmp_path / "web.yaml").write_text(
        DEPLOYMENT.format(replicas=replicas, strategy=strategy, claim=claim)
    )
    return loader.load_repository(tmp_path)


def _messages(result: loader.LoadResult) -> list[str]:
    return [f"{d.path}: {d.message}" for d in result.errors]


def test_claim_and_its_volume_are_built(tmp_path: Path) -> None:
    result = _load(tmp_path, klass="local")
    assert result.ok, _messages(result)
    [claim] = result.state.claims
    assert claim.access_modes == (claims.AccessMode.READ_WRITE_ONCE,)
    assert claim.storage_request == 2 << 30
    assert claim.storage_class == "local"
    assert claim.reclaim_policy is claims.ReclaimPolicy.DELETE
    [web] = result.state.deployments
    [volume] = web.template.spec.volumes
    assert volume.type is workloads.VolumeType.PERSISTENT_VOLUME_CLAIM
    assert (volume.source, volume.read_only) == ("data", True)
    resources = web.template.spec.containers[0].resources
    assert resources.ephemeral_storage_request == 1 << 30
    assert resources.ephemeral_storage_limit == 2 << 30
    assert web.template.spec.ephemeral_storage_request == 1 << 30


def test_shared_access_modes_are_refused_with_the_reason(tmp_path: Path) -> None:
    for mode in ("ReadWriteMany", "ReadOnlyMany"):
        result = _load(tmp_path, mode=mode)
        [message] = _messages(result)
        assert f"access mode {mode} is refused" in message and "one host" in message


def test_a_cloud_storage_class_is_accepted_with_a_warning(tmp_path: Path) -> None:
    for klass in ("standard", "gp2", "managed-premium", "fast.ssd"):
        result = _load(tmp_path, klass=klass)
        assert result.ok, _messages(result)
        [warning] = result.diagnostics
        assert warning.severity is dg.Severity.WARNING
        assert warning.code is dg.Code.IGNORED_FIELD
        assert (warning.file, warning.line, warning.path) == (
            "claim.yaml", 9, "spec.storageClassName"
        )
        assert warning.message.startswith(f"storage class {klass!r} is not honoured")
        assert "one kind of storage, a Podman named volume on the pod's host" in warning.message
        assert "no provisioner" in warning.message
        assert result.state.claims[0].storage_class == klass


def test_local_or_no_storage_class_has_no_warning(tmp_path: Path) -> None:
    for klass in ("local", '""'):
        assert _load(tmp_path, klass=klass).diagnostics == ()


def test_a_storage_class_name_must_be_a_subdomain(tmp_path: Path) -> None:
    result = _load(tmp_path, klass="Fast_SSD")
    [error] = result.errors
    where = (error.line, error.path, error.code)
    assert where == (9, "spec.storageClassName", dg.Code.INVALID_NAME)


def test_shared_access_modes_stay_refused_whatever_the_class(tmp_path: Path) -> None:
    result = _load(tmp_path, mode="ReadWriteMany", klass="nfs-client")
    [message] = _messages(result)
    assert "access mode ReadWriteMany is refused" in message


def test_unknown_reclaim_policy_is_refused(tmp_path: Path) -> None:
    [message] = _messages(_load(tmp_path, policy="Recycle"))
    assert "reconciler.dev/reclaim-policy" in message


def test_missing_claim_is_a_warning_with_its_place(tmp_path: Path) -> None:
    result = _load(tmp_path, claim="nothing")
    [warning] = result.diagnostics
    assert result.ok and warning.file == "web.yaml" and warning.line == 21
    assert warning.message == ("PersistentVolumeClaim default/nothing does not exist: the pods "
                               "that mount it wait (Pending) until it is declared")  # fmt: skip


def test_read_write_once_pod_allows_one_pod_at_a_time(tmp_path: Path) -> None:
    result = _load(tmp_path, mode="ReadWriteOncePod", replicas=2)
    [message] = _messages(result)
    assert "allows one pod at a time, and replicas > 1" in message
    result = _load(tmp_path, mode="ReadWriteOncePod", replicas=1)
    [message] = _messages(result)
    assert "a RollingUpdate starts the new pod first" in message
    assert _load(tmp_path, mode="ReadWriteOncePod", replicas=1, strategy="Recreate").ok


def test_host_ephemeral_storage_capacity(tmp_path: Path) -> None:
    (tmp_path / "h.yaml").write_text(
        "apiVersion: reconciler.dev/v1alpha1\nkind: Host\nmetadata: {name: h1}\n"
        "spec:\n  address: 192.0.2.1\n  ssh: {user: rc}\n"
        "  capacity: {cpu: '2', memory: 2Gi, ephemeral-storage: 10Gi}\n"
    )
    result = loader.load_repository(tmp_path)
    assert result.ok, _messages(result)
    assert result.state.hosts[0].ephemeral_storage_capacity == 10 << 30
