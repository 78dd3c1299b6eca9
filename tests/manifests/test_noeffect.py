"""Fields accepted without effect (issue 17): a service account, a termination message, a
Deployment's revision history are accepted with a warning at their file, line and field path, and
the object is built."""

from __future__ import annotations

from pathlib import Path

from reconciler.manifests import loader, noeffect, subset

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  revisionHistoryLimit: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      serviceAccountName: web
      serviceAccount: web
      automountServiceAccountToken: true
      initContainers:
        - name: setup
          image: registry.example:5000/web:1
          terminationMessagePolicy: FallbackToLogsOnError
      containers:
        - name: web
          image: registry.example:5000/web:1
          terminationMessagePath: /dev/termination-log
          terminationMessagePolicy: File
"""

CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: backup
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          serviceAccountName: backup
          containers:
            - name: backup
              image: registry.example:5000/backup:1
"""


def _load(tmp_path: Path, text: str) -> loader.LoadResult:
    (tmp_path / "app.yaml").write_text(text)
    return loader.load_repository(tmp_path)


def _warnings(result: loader.LoadResult) -> list[tuple[str, int, str, str]]:
    return [(d.file, d.line, d.path, str(d.code)) for d in result.diagnostics
            if str(d.severity) == "warning"]  # fmt: skip


def test_each_field_without_effect_is_a_warning_at_its_line_and_path(tmp_path: Path) -> None:
    result = _load(tmp_path, DEPLOYMENT)
    assert not result.errors
    assert len(result.state) == 1  # the Deployment is built
    pod = "spec.template.spec"
    assert sorted(_warnings(result)) == sorted([
        ("app.yaml", 6, "spec.revisionHistoryLimit", "ignored-field"),
        ("app.yaml", 13, f"{pod}.serviceAccountName", "ignored-field"),
        ("app.yaml", 14, f"{pod}.serviceAccount", "ignored-field"),
        ("app.yaml", 15, f"{pod}.automountServiceAccountToken", "ignored-field"),
        ("app.yaml", 19, f"{pod}.initContainers[0].terminationMessagePolicy", "ignored-field"),
        ("app.yaml", 23, f"{pod}.containers[0].terminationMessagePath", "ignored-field"),
        ("app.yaml", 24, f"{pod}.containers[0].terminationMessagePolicy", "ignored-field"),
    ])  # fmt: skip


def test_the_warnings_say_why_the_field_does_nothing(tmp_path: Path) -> None:
    result = _load(tmp_path, DEPLOYMENT)
    messages = {d.path.rsplit(".", 1)[-1]: d.message for d in result.diagnostics}
    assert "no service account token is mounted" in messages["serviceAccountName"]
    assert "no termination message is read" in messages["terminationMessagePath"]
    assert "no old ReplicaSets are kept" in messages["revisionHistoryLimit"]
    assert all(m.startswith(f"{name} has no effect: ") for name, m in messages.items())


def test_automount_false_is_what_happens_here_and_is_not_warned(tmp_path: Path) -> None:
    text = DEPLOYMENT.replace("automountServiceAccountToken: true",
                              "automountServiceAccountToken: false")  # fmt: skip
    paths = [path for _, _, path, _ in _warnings(_load(tmp_path, text))]
    assert "spec.template.spec.automountServiceAccountToken" not in paths
    assert "spec.template.spec.serviceAccountName" in paths


def test_a_cronjob_pod_template_is_warned_at_its_own_path(tmp_path: Path) -> None:
    result = _load(tmp_path, CRONJOB)
    assert not result.errors
    assert ("app.yaml", 12, "spec.jobTemplate.spec.template.spec.serviceAccountName",
            "ignored-field") in _warnings(result)  # fmt: skip


def test_a_wrong_value_of_a_field_without_effect_is_still_an_error(tmp_path: Path) -> None:
    text = DEPLOYMENT.replace("terminationMessagePolicy: File", "terminationMessagePolicy: Nope")
    result = _load(tmp_path, text)
    assert [d.path for d in result.errors] == [
        "spec.template.spec.containers[0].terminationMessagePolicy"
    ]


def test_every_field_without_effect_is_in_the_subset() -> None:
    names = {path.rsplit(".", 1)[-1] for kind in subset.KINDS for path, _ in
             subset.walk(kind.fields)}  # fmt: skip
    for item in (*noeffect.POD, *noeffect.POD_SECURITY, *noeffect.CONTAINER,
                 *noeffect.DEPLOYMENT):
        assert item.field in names


def test_fs_group_change_policy_is_a_warning_at_its_line(tmp_path: Path) -> None:
    """Only a volume's top directory is given to the group, whatever the policy says."""
    text = """\
apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  securityContext:
    runAsUser: 1000
    fsGroup: 2000
    fsGroupChangePolicy: OnRootMismatch
  containers:
    - name: app
      image: registry.example:5000/app:1
"""
    result = _load(tmp_path, text)
    assert not result.errors, [d.format() for d in result.diagnostics]
    assert ("app.yaml", 9, "spec.securityContext.fsGroupChangePolicy",
            "ignored-field") in _warnings(result)  # fmt: skip
