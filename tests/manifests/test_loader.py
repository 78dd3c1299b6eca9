"""The loader on the example repository: typed objects, API of LoadResult, redaction."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.manifests import loader
from reconciler.model import base, objects, workloads
from tests.manifests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def example() -> loader.LoadResult:
    return loader.load_repository(EXAMPLES)


def test_example_repository_is_valid(example: loader.LoadResult) -> None:
    assert example.ok, [d.format() for d in example.diagnostics]
    assert [(d.code, d.severity, d.file) for d in example.diagnostics] == []
    kinds = sorted(str(key.kind) for key in example.state.objects)
    assert kinds == [
        "ConfigMap",
        "CronJob",
        "Deployment",
        "Deployment",
        "Host",
        "Host",
        "Host",
        "Namespace",
        "Namespace",
        "Secret",
        "Service",
    ]


def test_web_deployment(example: loader.LoadResult) -> None:
    web = example.state.get(base.ObjectKey(base.Kind.DEPLOYMENT, "shop", "web"))
    assert isinstance(web, workloads.Deployment)
    assert web.replicas == 3
    assert dict(web.selector) == {"app": "web"}
    [container] = web.template.spec.containers
    assert container.image == "198.18.0.1:5000/demo/busybox:latest"
    assert container.command[:2] == ("sh", "-c") and "exec httpd" in container.command[2]
    assert container.ports == (workloads.ContainerPort(8080, 8080, workloads.Protocol.TCP, "http"),)
    assert container.resources == workloads.Resources(100, 64 * 2**20, 500, 128 * 2**20)
    assert container.env_from == (workloads.EnvFrom(config_map="web-config"),)
    assert container.volume_mounts == (workloads.VolumeMount("www", "/www", True),)
    assert web.template.spec.volumes[0].type is workloads.VolumeType.CONFIG_MAP
    assert web.template.spec.volumes[0].source == "web-config"
    assert web.template.spec.cpu_request == 100
    assert web.template.spec.host_ports == ((8080, workloads.Protocol.TCP),)
    assert web.source == base.SourceRef("shop/web.yaml", 4)


def test_backend_and_service(example: loader.LoadResult) -> None:
    backend = example.state.get(base.ObjectKey(base.Kind.DEPLOYMENT, "shop", "backend"))
    assert isinstance(backend, workloads.Deployment)
    assert backend.replicas == 2
    [container] = backend.template.spec.containers
    assert container.env_from == (workloads.EnvFrom(secret="web-secret"),)
    assert container.env[0].config_map_key == workloads.KeyRef("web-config", "LOG_LEVEL")
    [service] = example.state.services
    assert service.key == base.ObjectKey(base.Kind.SERVICE, "shop", "web")
    assert service.ports[0].target_port == "http"


def test_hosts(example: loader.LoadResult) -> None:
    hosts = example.state.hosts
    assert [h.meta.name for h in hosts] == ["h1", "h2", "h3"]
    for index, host in enumerate(hosts, start=1):
        assert host.address == f"198.18.0.1{index}"
        assert (host.ssh_user, host.ssh_port) == (f"rc-h{index}", 22)
        assert (host.cpu_capacity, host.memory_capacity) == (2000, 2 * 2**30)
        assert host.key.namespace == ""
        assert "zone" in host.meta.labels


def test_secret_is_decoded_and_redacted(example: loader.LoadResult) -> None:
    [secret] = example.state.secrets
    assert secret.data["DB_PASSWORD"] == b"demo-only-password"
    assert secret.data["DB_USER"] == b"shop"
    assert "demo-only-password" not in repr(secret)
    assert "demo-only-password" not in repr(example.state)
    assert "DB_PASSWORD" in repr(secret)


def test_objects_are_frozen(example: loader.LoadResult) -> None:
    namespace = example.state.namespaces[0]
    with pytest.raises(AttributeError):
        namespace.meta = base.ObjectMeta("x")  # type: ignore[misc]
    with pytest.raises(TypeError):
        namespace.meta.labels["x"] = "y"  # type: ignore[index]
    assert hash(base.ObjectKey(base.Kind.POD, "a", "b")) == hash(
        base.ObjectKey(base.Kind.POD, "a", "b")
    )


def test_secret_values_never_in_diagnostics(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ntype: Fancy\n"
        "data:\n  a: 'hunter2!'\n  b: yes\nstringData:\n  c: 12345\n"
    )
    result = loader.load_repository(tmp_path)
    text = "\n".join(d.format() + d.hint for d in result.diagnostics)
    assert len(result.diagnostics) >= 2
    for secret in ("hunter2", "12345"):
        assert secret not in text


def test_optional_references_may_be_missing(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
        "    - name: c\n      image: img:1\n      envFrom:\n        - configMapRef:\n"
        "            name: nothing\n            optional: true\n"
    )
    result = loader.load_repository(tmp_path)
    assert result.ok, [d.format() for d in result.diagnostics]
    [pod] = result.state.pods
    assert pod.spec.restart_policy is workloads.RestartPolicy.ALWAYS


def test_all_errors_are_reported_across_files(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "repo")
    shop = tmp_path / "repo" / "shop"
    web, backend = shop / "web.yaml", shop / "backend.yaml"
    web.write_text(web.read_text().replace("replicas: 3", "replicas: -1"))
    backend.write_text(backend.read_text().replace("cpu: 50m", "cpu: lots"))
    (tmp_path / "repo" / "hosts" / "h1.yaml").write_text("kind: Host\n")
    result = loader.load_repository(tmp_path / "repo")
    assert not result.ok
    assert [(d.file, d.path) for d in result.errors] == [
        ("hosts/h1.yaml", ""),
        ("shop/backend.yaml", "spec.template.spec.containers[0].resources.requests.cpu"),
        ("shop/web.yaml", "spec.replicas"),
    ]
    # objects valid on their own are still built (e.g. for status), but ok is False
    assert len(result.state.hosts) == 2


def test_dot_folders_and_other_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "ci.yaml").write_text("on: push\n")
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")
    (tmp_path / "README.md").write_text("# hi\n")
    (tmp_path / "ns.yml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n")
    result = loader.load_repository(tmp_path)
    assert result.ok
    assert result.files == ("ns.yml",)


def test_unusable_root_raises_repository_error(tmp_path: Path) -> None:
    with pytest.raises(loader.RepositoryError):
        loader.load_repository(tmp_path / "missing")
    (tmp_path / "file.yaml").write_text("a: 1\n")
    with pytest.raises(loader.RepositoryError):
        loader.load_repository(tmp_path / "file.yaml")


def test_desired_state_accessors(example: loader.LoadResult) -> None:
    state = example.state
    assert len(state) == 11
    assert [d.meta.name for d in state.deployments] == ["backend", "web"]
    assert isinstance(state.config_maps[0], objects.ConfigMap)
    assert state.config_maps[0].keys() == {"GREETING", "LOG_LEVEL", "index.html"}
    unused = {base.Kind.POD, base.Kind.HORIZONTAL_POD_AUTOSCALER,
              base.Kind.POD_DISRUPTION_BUDGET, base.Kind.JOB}
    unused.add(base.Kind.PERSISTENT_VOLUME_CLAIM)  # the example repository has no claim
    assert set(state.by_kind()) == set(base.Kind) - unused


def test_an_empty_namespace_is_the_default_one_as_kubectl_reads_it(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: ""}\ndata: {k: v}\n'
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "    - {name: c, image: busybox, envFrom: [{configMapRef: {name: a}}]}\n"
    )
    result = loader.load_repository(tmp_path)
    assert result.ok and not result.diagnostics, [d.format() for d in result.diagnostics]
    (config_map,) = result.state.config_maps
    assert config_map.meta.namespace == base.DEFAULT_NAMESPACE
