"""`volumeMounts[].subPath`/`subPathExpr` and pod `hostname`/`subdomain` in `validate` (issue 17):
accepted for every volume kind, refused at file:line when absolute, with `..`, both set, or
naming no file of a configMap/secret volume; hostname and subdomain must be DNS labels, and a
subdomain is accepted with a warning that says what it gives here."""

from __future__ import annotations

from pathlib import Path

from reconciler.manifests import loader
from reconciler.model import workloads

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  hostname: web-0
  subdomain: backend
  containers:
    - name: app
      image: registry.example:5000/app:1
      env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
      volumeMounts:
        - {name: data, mountPath: /var/lib/mysql, subPath: mysql}
        - {name: scratch, mountPath: /logs, subPathExpr: $(POD_NAME)}
        - {name: conf, mountPath: /etc/app/app.ini, subPath: app.ini}
        - {name: items, mountPath: /etc/app/conf.d, subPath: conf.d}
  volumes:
    - {name: data, persistentVolumeClaim: {claimName: data}}
    - {name: scratch, emptyDir: {}}
    - {name: conf, configMap: {name: conf}}
    - name: items
      secret:
        secretName: keys
        items: [{key: token, path: conf.d/token}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: conf, namespace: shop}
data: {app.ini: "x = 1"}
---
apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: shop}
stringData: {token: t0ken}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
"""


def _load(tmp_path: Path, text: str) -> loader.LoadResult:
    (tmp_path / "app.yaml").write_text(text)
    return loader.load_repository(tmp_path)


def _found(result: loader.LoadResult, severity: str) -> list[tuple[int, str, str]]:
    return [(d.line, d.path, d.message) for d in result.diagnostics
            if str(d.severity) == severity]  # fmt: skip


def test_subpaths_of_every_kind_hostname_and_subdomain_are_accepted(tmp_path: Path) -> None:
    result = _load(tmp_path, POD)
    assert not result.errors, result.errors
    assert _found(result, "warning") == []  # subdomain: a headless Service's name (plan.headless)


def test_absolute_dotdot_and_both_fields_are_errors_at_their_lines(tmp_path: Path) -> None:
    text = (POD.replace("subPath: mysql}", "subPath: /mysql}")
            .replace("subPathExpr: $(POD_NAME)}", "subPathExpr: ../$(POD_NAME), subPath: x}")
            .replace("subPath: app.ini}", "subPath: a/../../app.ini}"))  # fmt: skip
    errors = [(line, path, message.split(" (")[0]) for line, path, message
              in _found(_load(tmp_path, text), "error")]  # fmt: skip
    mounts = "spec.containers[0].volumeMounts"
    assert errors == [
        (16, f"{mounts}[0].subPath", "subPath '/mysql' must be a relative path"),
        (17, f"{mounts}[1].subPathExpr",
         "subPath and subPathExpr are both set; they are mutually exclusive"),
        (17, f"{mounts}[1].subPathExpr", "subPathExpr '../$(POD_NAME)' must not contain '..'"),
        (18, f"{mounts}[2].subPath", "subPath 'a/../../app.ini' must not contain '..'"),
    ]


def test_a_subpath_naming_no_file_of_a_config_map_or_secret_is_reported(tmp_path: Path) -> None:
    text = (POD.replace("subPath: app.ini}", "subPath: other.ini}")
            .replace("subPath: conf.d}", "subPath: nope}"))  # fmt: skip
    result = _load(tmp_path, text)
    (error,) = result.errors
    assert (error.line, error.path) == (19, "spec.containers[0].volumeMounts[3].subPath")
    assert "'nope' is no file or directory of volume 'items' (its items' paths: conf.d/token)" \
        in error.message
    missing = [w for w in _found(result, "warning") if w[1].endswith("[2].subPath")]
    assert missing and "ConfigMap shop/conf has no key 'other.ini'" in missing[0][2]


def test_hostname_and_subdomain_must_be_dns_labels(tmp_path: Path) -> None:
    text = POD.replace("hostname: web-0", "hostname: Web_0").replace(
        "subdomain: backend", "subdomain: back.end")
    errors = [(d.line, d.path) for d in _load(tmp_path, text).errors]
    assert errors == [(7, "spec.hostname"), (8, "spec.subdomain")]


def test_the_pod_is_built_with_its_hostname_and_mounts(tmp_path: Path) -> None:
    result = _load(tmp_path, POD)
    (pod,) = [o for o in result.state if isinstance(o, workloads.Pod)]
    spec = pod.spec
    assert (spec.hostname, spec.subdomain) == ("web-0", "backend")
    mounts = spec.containers[0].volume_mounts
    assert [(m.sub_path, m.sub_path_expr) for m in mounts] == [
        ("mysql", ""), ("", "$(POD_NAME)"), ("app.ini", ""), ("conf.d", "")]
