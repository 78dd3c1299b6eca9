"""initContainers and lifecycle hooks through the manifests and the plan: built from YAML,
resolved like containers (env, mounts), part of the pod template hash (a change rolls the
Deployment's pods) and of the spec hash as `init/<name>` parts; pods without them keep their
hashes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from reconciler.manifests import loader
from reconciler.model import hooks, workloads
from reconciler.plan import expand, pipeline
from tests.plan import builders as b

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      volumes: [{name: work, emptyDir: {}}]
      initContainers:
        - name: setup
          image: registry.example:5000/tools:1.0
          command: [sh, -c, "echo ready > /work/flag"]
          env: [{name: WHO, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
          volumeMounts: [{name: work, mountPath: /work}]
      containers:
        - name: app
          image: registry.example:5000/web:1.0
          ports: [{containerPort: 8080, name: http}]
          volumeMounts: [{name: work, mountPath: /work}]
          lifecycle:
            postStart: {exec: {command: [touch, /tmp/started]}}
            preStop: {httpGet: {port: http, path: /drain}}
"""


def _load(tmp_path: Path, text: str) -> workloads.Deployment:
    (tmp_path / "web.yaml").write_text(text)
    result = loader.load_repository(tmp_path)
    assert result.ok, [d.format() for d in result.diagnostics]
    (deployment,) = result.state.deployments
    return deployment


def test_init_containers_and_hooks_are_built(tmp_path: Path) -> None:
    spec = _load(tmp_path, DEPLOYMENT).template.spec
    (init,) = spec.init_containers
    assert init.name == "setup" and init.command == ("sh", "-c", "echo ready > /work/flag")
    lifecycle = spec.containers[0].lifecycle
    assert lifecycle is not None
    assert lifecycle.post_start == hooks.Handler(hooks.HookAction.EXEC, ("touch", "/tmp/started"))
    assert lifecycle.pre_stop == hooks.Handler(hooks.HookAction.HTTP_GET, port=8080, path="/drain")


def test_a_changed_init_container_rolls_the_pods(tmp_path: Path) -> None:
    deployment = _load(tmp_path, DEPLOYMENT)
    changed = _load(tmp_path, DEPLOYMENT.replace("echo ready", "echo set"))
    assert expand.template_hash(deployment.template) != expand.template_hash(changed.template)
    plain = dataclasses.replace(
        deployment.template, spec=dataclasses.replace(deployment.template.spec, init_containers=())
    )
    assert expand.template_hash(plain) != expand.template_hash(deployment.template)


def test_the_run_carries_resolved_init_containers_and_hashes_them() -> None:
    setup = b.container("setup", env=(workloads.EnvVar("WHO", field_path="metadata.name"),))
    with_init = b.pod("solo", b.spec(b.container("app"), init_containers=(setup,)))
    without = b.pod("solo", b.spec(b.container("app")))

    def run_of(pod: workloads.Pod) -> object:
        (run,) = pipeline.build_plan(
            b.state(pod, b.host("h1")), b.observations("h1"), "rev1"
        ).runs
        return run

    run = run_of(with_init)
    plain = run_of(without)
    (init,) = run.init_containers  # type: ignore[attr-defined]
    assert init.name == "setup" and dict(init.env)["WHO"] == "solo"
    assert "init/setup=" in run.labels["reconciler.dev/spec-parts"]  # type: ignore[attr-defined]
    assert "init/" not in plain.labels["reconciler.dev/spec-parts"]  # type: ignore[attr-defined]
    assert run.spec_hash != plain.spec_hash  # type: ignore[attr-defined]


def test_the_scheduler_counts_the_larger_of_the_apps_and_each_init_container() -> None:
    def sized(name: str, cpu: int, memory: int) -> workloads.Container:
        return b.container(name, resources=workloads.Resources(cpu_request=cpu,
                                                               memory_request=memory))  # fmt: skip

    spec = b.spec(sized("a", 100, 10), sized("b", 100, 10), init_containers=(sized("i", 500, 5),))
    assert (spec.cpu_request, spec.memory_request) == (500, 20)
    assert b.spec(sized("a", 100, 10)).cpu_request == 100

