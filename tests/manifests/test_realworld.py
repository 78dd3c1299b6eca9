"""Fields real manifests carry (issue 17): accepted and ignored with a warning, refused with the
reason, or used; each case is one small repository written to a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifests import loader
from reconciler.model import diagnostics as dg
from reconciler.model import objects, security, workloads

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
    - name: web
      image: registry.example:5000/web:1
{extra}"""


def _load(tmp_path: Path, text: str) -> loader.LoadResult:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "m.yaml").write_text(text)
    return loader.load_repository(tmp_path)


def _found(result: loader.LoadResult) -> list[tuple[str, str, str]]:
    return [(str(d.severity), str(d.code), d.path) for d in result.diagnostics]


def test_status_blocks_are_accepted_and_ignored_with_a_warning(tmp_path: Path) -> None:
    result = _load(tmp_path, POD.format(extra="status:\n  phase: Running\n  podIP: 10.0.0.1\n"))
    assert _found(result) == [("warning", "ignored-field", "status")]
    assert not result.errors
    assert len(result.state) == 1


def test_host_path_is_refused_with_the_reason(tmp_path: Path) -> None:
    extra = "  volumes:\n    - name: data\n      hostPath:\n        path: /srv/data\n"
    result = _load(tmp_path, POD.format(extra=extra))
    assert _found(result) == [("error", "unsupported-field", "spec.volumes[0].hostPath")]
    assert "no daemon setting allows host paths" in result.diagnostics[0].message


def test_fields_of_a_field_without_subfields_name_no_empty_list(tmp_path: Path) -> None:
    extra = "  volumes:\n    - name: data\n      emptyDir:\n        foo: Memory\n"
    result = _load(tmp_path, POD.format(extra=extra))
    (diagnostic,) = [d for d in result.diagnostics if d.code is dg.Code.UNKNOWN_FIELD]
    assert "nothing" not in diagnostic.hint


def test_secret_type_is_shown_but_values_are_not(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
        "type: bootstrap.kubernetes.io/token\nstringData:\n  password: hunter2\n"
    )
    result = _load(tmp_path, text)
    (diagnostic,) = result.diagnostics
    assert "bootstrap.kubernetes.io/token is refused" in diagnostic.message
    assert "hunter2" not in diagnostic.format() + diagnostic.hint


def test_secret_types_kubernetes_stores_unchecked_are_used_like_opaque(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ntype: kubernetes.io/rbd\n"
        "stringData:\n  key: v\n"
    )
    result = _load(tmp_path, text)
    assert result.ok and not result.diagnostics
    (secret,) = result.state
    assert isinstance(secret, objects.Secret) and secret.type == "kubernetes.io/rbd"


SECURE = """\
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  containers:
    - name: app
      image: registry.example:5000/app:1
      securityContext:
        readOnlyRootFilesystem: true
        allowPrivilegeEscalation: false
        privileged: false
        capabilities: {add: [NET_BIND_SERVICE], drop: [ALL]}
"""


def test_security_context_is_built_into_the_effective_settings(tmp_path: Path) -> None:
    text = POD.split("  containers:", maxsplit=1)[0] + SECURE
    result = _load(tmp_path, text)
    assert result.ok, [d.format() for d in result.diagnostics]
    (pod,) = result.state.pods
    (container,) = pod.spec.containers
    settings = security.effective(pod.spec.security_context, container.security_context)
    assert settings == security.Effective(
        user="1000:3000",
        read_only_root=True,
        no_new_privileges=True,
        cap_add=("CAP_NET_BIND_SERVICE",),
        cap_drop=("ALL",),
    )


@pytest.mark.parametrize(
    ("context", "path", "words"),
    [
        ("{privileged: true}", "spec.containers[0].securityContext.privileged", "rootless"),
        ("{runAsNonRoot: true, runAsUser: 0}", "spec.containers[0].securityContext.runAsUser",
         "contradicts"),
        ("{runAsGroup: 5}", "spec.containers[0].securityContext.runAsGroup", "needs runAsUser"),
        ("{capabilities: {add: [net-admin]}}",
         "spec.containers[0].securityContext.capabilities.add[0]", "not a capability"),
        ("{seccompProfile: {type: Unconfined}}",
         "spec.containers[0].securityContext.seccompProfile.type", "only RuntimeDefault"),
    ],
)
def test_security_context_refusals_say_why(
    tmp_path: Path, context: str, path: str, words: str
) -> None:
    result = _load(tmp_path, POD.format(extra="") + f"      securityContext: {context}\n")
    assert [(d.path, words in d.message) for d in result.errors] == [(path, True)], [
        d.format() for d in result.diagnostics
    ]


def test_run_as_non_root_without_a_user_is_checked_against_the_image(tmp_path: Path) -> None:
    """Accepted (the kubelet's meaning): the host checks the image's USER before the create."""
    result = _load(tmp_path, POD.format(extra="") + "      securityContext: {runAsNonRoot: true}\n")
    assert result.ok, [d.format() for d in result.diagnostics]
    (pod,) = result.state.pods
    (container,) = pod.spec.containers
    settings = security.effective(pod.spec.security_context, container.security_context)
    assert settings.verify_non_root and settings.user == ""
    with_user = security.effective(None, security.SecurityContext(run_as_user=5,
                                                                 run_as_non_root=True))
    assert not with_user.verify_non_root and with_user.user == "5"
    from_pod = security.effective(security.SecurityContext(run_as_non_root=True), None)
    assert from_pod.verify_non_root


NETWORK = """\
  dnsPolicy: {policy}
  hostAliases:
    - ip: {ip}
      hostnames: [db.internal, cache.internal]
"""


def test_host_aliases_are_built_and_dns_policies_accepted(tmp_path: Path) -> None:
    text = POD.format(extra=NETWORK.format(policy="Default", ip="198.18.0.20"))
    result = _load(tmp_path, text)
    assert result.ok, [d.format() for d in result.diagnostics]
    (pod,) = result.state.pods
    assert pod.spec.host_aliases == (
        ("db.internal", "198.18.0.20"),
        ("cache.internal", "198.18.0.20"),
    )


def test_dns_policy_none_and_a_bad_alias_are_refused(tmp_path: Path) -> None:
    text = POD.format(extra=NETWORK.format(policy="None", ip="db.example"))
    result = _load(tmp_path, text)
    found = {d.path: d.message for d in result.errors}
    assert set(found) == {"spec.dnsPolicy", "spec.hostAliases[0].ip"}
    assert "needs dnsConfig" in found["spec.dnsPolicy"]


def test_status_of_a_service_is_ignored_with_a_warning(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n"
        "  ports: [{port: 8080}]\nstatus:\n  loadBalancer: {}\n"
    )
    result = _load(tmp_path, text)
    assert ("warning", "ignored-field", "status") in _found(result)


FIELDS = """\
      resources: {{limits: {{memory: 64Mi}}}}
      env:
        - name: NODE
          valueFrom: {{fieldRef: {{fieldPath: {path}}}}}
        - name: MEM
          valueFrom: {{resourceFieldRef: {{resource: limits.memory, divisor: 1Mi{container}}}}}
"""


def test_field_and_resource_refs_are_built(tmp_path: Path) -> None:
    text = POD.format(extra="") + FIELDS.format(path="spec.nodeName", container="")
    result = _load(tmp_path, text)
    assert result.ok, [d.format() for d in result.diagnostics]
    (pod,) = result.state.pods
    node, mem = pod.spec.containers[0].env
    assert node.field_path == "spec.nodeName"
    assert mem.resource_field == workloads.ResourceFieldRef("limits.memory", "", "1Mi")


def test_unsupported_field_paths_and_containers_are_refused(tmp_path: Path) -> None:
    text = POD.format(extra="") + FIELDS.format(path="metadata.uid", container=", containerName: x")
    result = _load(tmp_path, text)
    found = {d.path: d.message for d in result.errors}
    assert "no uid" in found["spec.containers[0].env[0].valueFrom.fieldRef.fieldPath"]
    assert "no container 'x'" in found[
        "spec.containers[0].env[1].valueFrom.resourceFieldRef.containerName"
    ]


def test_warnings_are_shown_next_to_errors(tmp_path: Path) -> None:
    privileged = "      securityContext: {privileged: true}\n"
    result = _load(tmp_path, POD.format(extra="") + privileged + "status: {phase: Running}\n")
    assert ("warning", "ignored-field", "status") in _found(result)
    assert result.errors


def _empty_dir(tmp_path: Path, empty: str, mounts: int = 1) -> loader.LoadResult:
    mount = "      volumeMounts: [{name: scratch, mountPath: /scratch}]\n"
    second = "    - name: side\n      image: registry.example:5000/web:1\n" + mount
    text = (POD.format(extra="") + mount + (second if mounts > 1 else "")
            + f"  volumes:\n    - name: scratch\n      emptyDir: {empty}\n")  # fmt: skip
    return _load(tmp_path, text)


def test_memory_empty_dir_with_size_is_built(tmp_path: Path) -> None:
    result = _empty_dir(tmp_path, "{medium: Memory, sizeLimit: 16Mi}")
    assert result.ok, [d.format() for d in result.diagnostics]
    (pod,) = result.state.pods
    (volume,) = pod.spec.volumes
    assert (volume.medium, volume.size_limit) == ("Memory", 16 << 20)


def test_empty_dir_limits_podman_cannot_honour_are_refused(tmp_path: Path) -> None:
    disk = _empty_dir(tmp_path / "disk", "{sizeLimit: 1Gi}")
    assert [d.path for d in disk.errors] == ["spec.volumes[0].emptyDir.sizeLimit"]
    shared = _empty_dir(tmp_path / "shared", "{medium: Memory}", mounts=2)
    assert [d.path for d in shared.errors] == ["spec.volumes[0].emptyDir.medium"]


def test_capability_names_in_any_case_are_read_in_capitals(tmp_path: Path) -> None:
    """`drop: [all]` and `add: [net_bind_service]` (sock-shop and others): containerd and
    Podman read them in any case, so does reconciler."""
    context = "{capabilities: {add: [net_bind_service, Cap_Chown], drop: [all]}}"
    result = _load(tmp_path, POD.format(extra="") + f"      securityContext: {context}\n")
    assert result.ok, [d.format() for d in result.diagnostics]
    (pod,) = result.state.pods
    (container,) = pod.spec.containers
    settings = security.effective(pod.spec.security_context, container.security_context)
    assert settings.cap_add == ("CAP_NET_BIND_SERVICE", "CAP_CHOWN")
    assert settings.cap_drop == ("ALL",)
