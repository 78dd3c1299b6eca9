"""PodRun ▶ libpod JSON bodies and labels (pure mapping, no hosts)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from reconciler.executor import errors, podmanspec
from reconciler.model import base, hoststate

IMAGE = "registry.example:5000/app/web:1.0"
HOSTILE = 'it\'s "quoted"; $(touch /tmp/pwned) `id`\nline two ü 🚀'


def make_run(**changes: object) -> hoststate.PodRun:
    fields: dict[str, object] = {
        "namespace": "shop",
        "name": "web-1",
        "host": "h1",
        "spec_hash": "h123",
        "labels": base.FrozenMap({"app": "web", hoststate.LABEL_REVISION: "abc"}),
        "containers": (
            hoststate.ContainerRun(
                name="web",
                image=IMAGE,
                command=("httpd",),
                args=("-f", "-p", "8080"),
                working_dir="/www",
                env=(("PLAIN", "v"), ("TOKEN", hoststate.Sensitive("s3cret"))),
                mounts=(
                    hoststate.Mount(
                        hoststate.MountKind.BIND, "pods/shop/web-1/cfg", "/etc/cfg", True
                    ),
                    hoststate.Mount(hoststate.MountKind.VOLUME, "shop_web-1_cache", "/cache"),
                    hoststate.Mount(hoststate.MountKind.HOST_PATH, "/srv/data", "/data"),
                ),
                cpu_limit_millis=250,
                memory_limit_bytes=64 * 1024 * 1024,
            ),
            hoststate.ContainerRun(name="side", image=IMAGE, args=("sleep", "1000")),
        ),
        "ports": (
            hoststate.PortMapping(8080, 80),
            hoststate.PortMapping(5353, 53, "UDP", "127.0.0.1"),
        ),
        "restart_policy": "OnFailure",
        "files": (
            hoststate.HostFile("pods/shop/web-1/cfg/app.conf", b"x=1\n"),
            hoststate.HostFile("pods/shop/web-1/secret/token", b"s3cret", secret=True),
        ),
        "volumes": ("shop_web-1_cache",),
        "owner": "Deployment/web",
    }
    fields.update(changes)
    return hoststate.PodRun(**fields)  # type: ignore[arg-type]


def test_pod_name_matches_the_contract() -> None:
    run = make_run()
    assert podmanspec.pod_name(run.namespace, run.name) == run.podman_name == "shop_web-1"


def test_pod_labels_carry_identity_and_win_over_user_labels() -> None:
    run = make_run(labels=base.FrozenMap({hoststate.LABEL_NAME: "spoofed", "app": "web"}))
    labels = podmanspec.pod_labels(run)
    assert labels[hoststate.MANAGED_BY] == hoststate.MANAGER
    assert labels[hoststate.LABEL_NAMESPACE] == "shop"
    assert labels[hoststate.LABEL_NAME] == "web-1"
    assert labels[hoststate.LABEL_SPEC_HASH] == "h123"
    assert labels[hoststate.LABEL_OWNER] == "Deployment/web"
    assert labels["app"] == "web"
    assert labels[podmanspec.LABEL_CONTAINERS] == "web,side"
    assert json.loads(labels[podmanspec.LABEL_DIRS]) == [
        "pods/shop/web-1/cfg",
        "pods/shop/web-1/secret",
    ]


def test_long_names_make_a_valid_hostname() -> None:
    name = "a" * 62 + "-b" + "c" * 10
    assert podmanspec.pod_spec(make_run(name=name))["hostname"] == "a" * 62


def test_pod_spec_publishes_ports() -> None:
    spec = podmanspec.pod_spec(make_run())
    assert spec["name"] == "shop_web-1"
    assert spec["hostname"] == "web-1"
    assert spec["portmappings"] == [
        {"host_ip": "", "host_port": 8080, "container_port": 80, "protocol": "tcp"},
        {"host_ip": "127.0.0.1", "host_port": 5353, "container_port": 53, "protocol": "udp"},
    ]
    assert "portmappings" not in podmanspec.pod_spec(make_run(ports=()))
    assert "no_infra" not in spec  # two containers share the infra container's namespaces
    for container in make_run().containers:
        body = podmanspec.container_spec(make_run(), container, "/s", 10)
        assert "portmappings" not in body and "hostname" not in body


def test_a_single_container_pod_has_no_infra_and_publishes_its_own_ports() -> None:
    run = make_run(name="api-1", containers=make_run().containers[:1])
    pod = podmanspec.pod_spec(run)
    assert pod["no_infra"] is True
    assert "portmappings" not in pod and "hostname" not in pod
    body = podmanspec.container_spec(run, run.containers[0], "/s", 10)
    assert body["hostname"] == "api-1"
    assert body["pod"] == "shop_api-1"
    assert body["portmappings"] == [
        {"host_ip": "", "host_port": 8080, "container_port": 80, "protocol": "tcp"},
        {"host_ip": "127.0.0.1", "host_port": 5353, "container_port": 53, "protocol": "udp"},
    ]
    no_ports = dataclasses.replace(run, ports=())
    assert "portmappings" not in podmanspec.container_spec(no_ports, run.containers[0], "/s", 10)


def test_container_spec_maps_every_field() -> None:
    run = make_run()
    spec = podmanspec.container_spec(run, run.containers[0], "/home/u/.local/share/reconciler", 7)
    assert spec["name"] == "shop_web-1_web"
    assert spec["pod"] == "shop_web-1"
    assert spec["image"] == IMAGE
    assert spec["entrypoint"] == ["httpd"]
    assert spec["command"] == ["-f", "-p", "8080"]
    assert spec["work_dir"] == "/www"
    assert spec["env"] == {"PLAIN": "v", "TOKEN": "s3cret"}
    assert type(spec["env"]["TOKEN"]) is str  # the secret's value, not its redacted repr
    assert spec["restart_policy"] == "no"  # the reconciler restarts it (lifecycle)
    assert spec["stop_timeout"] == 7  # no grace period in the run: the executor default
    graceful = dataclasses.replace(run, termination_grace_seconds=3)
    assert podmanspec.container_spec(graceful, run.containers[0], "/s", 7)["stop_timeout"] == 3
    assert spec["labels"][hoststate.LABEL_CONTAINER] == "web"
    assert spec["labels"][hoststate.MANAGED_BY] == hoststate.MANAGER
    assert spec["mounts"] == [
        {
            "type": "bind",
            "source": "/home/u/.local/share/reconciler/pods/shop/web-1/cfg",
            "destination": "/etc/cfg",
            "options": ["rbind", "ro"],
        },
        {"type": "bind", "source": "/srv/data", "destination": "/data", "options": ["rbind", "rw"]},
    ]
    assert spec["volumes"] == [{"Name": "shop_web-1_cache", "Dest": "/cache", "Options": []}]
    assert spec["resource_limits"] == {
        "memory": {"limit": 64 * 1024 * 1024},
        "cpu": {"quota": 25_000, "period": 100_000},
    }
    assert "s3cret" in json.dumps(spec)  # it must reach podman (only the repr is redacted)


def test_args_without_command_keep_the_image_entrypoint() -> None:
    run = make_run()
    spec = podmanspec.container_spec(run, run.containers[1], "/s", 10)
    assert "entrypoint" not in spec
    assert spec["command"] == ["sleep", "1000"]
    assert "mounts" not in spec and "volumes" not in spec and "resource_limits" not in spec


def test_command_without_args_drops_the_image_cmd() -> None:
    container = hoststate.ContainerRun(name="c", image=IMAGE, command=("sleep", "5"))
    run = make_run(containers=(container,))
    spec = podmanspec.container_spec(run, container, "/s", 10)
    assert spec["entrypoint"] == ["sleep", "5"]
    assert spec["command"] == []


@pytest.mark.parametrize("policy", ["Always", "OnFailure", "Never"])
def test_restart_policies_are_a_pod_label_and_podman_never_restarts(policy: str) -> None:
    run = make_run(restart_policy=policy)
    assert podmanspec.container_spec(run, run.containers[0], "/s", 1)["restart_policy"] == "no"
    assert podmanspec.pod_labels(run)[podmanspec.LABEL_RESTART_POLICY] == policy


def test_hostile_strings_are_json_values_untouched() -> None:
    container = hoststate.ContainerRun(
        name="c", image=IMAGE, command=("sh", "-c", HOSTILE), args=(HOSTILE,), env=(("X", HOSTILE),)
    )
    run = make_run(containers=(container,), labels=base.FrozenMap({"note": HOSTILE}))
    spec = podmanspec.container_spec(run, container, "/s", 1)
    decoded = json.loads(json.dumps(spec))
    assert decoded["entrypoint"] == ["sh", "-c", HOSTILE]
    assert decoded["command"] == [HOSTILE]
    assert decoded["env"]["X"] == HOSTILE
    assert decoded["labels"]["note"] == HOSTILE


def test_volume_spec_is_labelled_with_the_pod() -> None:
    spec = podmanspec.volume_spec(make_run(), "shop_web-1_cache")
    assert spec["Name"] == "shop_web-1_cache"
    assert spec["Label"] == {
        hoststate.MANAGED_BY: hoststate.MANAGER,
        hoststate.LABEL_NAMESPACE: "shop",
        hoststate.LABEL_NAME: "web-1",
    }


def test_images_once_each_always_wins() -> None:
    containers = (
        hoststate.ContainerRun("a", "img:1", pull_policy="IfNotPresent"),
        hoststate.ContainerRun("b", "img:2", pull_policy="Never"),
        hoststate.ContainerRun("c", "img:1", pull_policy="Always"),
    )
    assert podmanspec.images(make_run(containers=containers)) == [
        ("img:1", "Always"),
        ("img:2", "Never"),
    ]


def test_validate_accepts_the_sample() -> None:
    podmanspec.validate(make_run())


@pytest.mark.parametrize(
    "path", ["../escape", "/etc/passwd", "a/../../b", "", ".", "pods/\x00x", "a/b/../../.."]
)
def test_validate_refuses_paths_leaving_the_state_dir(path: str) -> None:
    with pytest.raises(errors.InvalidRun, match="shop_web-1"):
        podmanspec.validate(make_run(files=(hoststate.HostFile(path, b""),)))


def test_normal_relative_normalizes() -> None:
    assert podmanspec.normal_relative("a//b/./c") == "a/b/c"
    assert podmanspec.normal_relative("a/../b") == "b"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"restart_policy": "Sometimes"}, "restartPolicy"),
        ({"containers": ()}, "at least one container"),
        ({"name": "we$(b)"}, "not a valid podman name"),
        ({"volumes": ("a;b",)}, "not a valid podman name"),
        ({"containers": (hoststate.ContainerRun("c'", IMAGE),)}, "not a valid podman name"),
        (
            {
                "containers": (
                    hoststate.ContainerRun("a", IMAGE),
                    hoststate.ContainerRun("a", IMAGE),
                )
            },
            "unique",
        ),
        (
            {"containers": (hoststate.ContainerRun("a", IMAGE, pull_policy="Sometimes"),)},
            "imagePullPolicy",
        ),
        (
            {
                "containers": (
                    hoststate.ContainerRun(
                        "a",
                        IMAGE,
                        mounts=(hoststate.Mount(hoststate.MountKind.VOLUME, "nope", "/x"),),
                    ),
                )
            },
            "not among the pod's volumes",
        ),
        (
            {
                "containers": (
                    hoststate.ContainerRun(
                        "a",
                        IMAGE,
                        mounts=(hoststate.Mount(hoststate.MountKind.HOST_PATH, "rel", "/x"),),
                    ),
                )
            },
            "must be absolute",
        ),
    ],
)
def test_validate_refuses(changes: dict[str, object], message: str) -> None:
    with pytest.raises(errors.InvalidRun, match=message):
        podmanspec.validate(make_run(**changes))


def test_file_dirs_unique_and_sorted() -> None:
    files = (
        hoststate.HostFile("p/b/x", b""),
        hoststate.HostFile("p/a/y", b""),
        hoststate.HostFile("p/a/z", b""),
    )
    assert podmanspec.file_dirs(make_run(files=files)) == ("p/a", "p/b")


def test_validate_refuses_a_file_outside_a_directory() -> None:
    with pytest.raises(errors.InvalidRun, match="directory of the pod's own"):
        podmanspec.validate(make_run(files=(hoststate.HostFile("top", b""),)))
