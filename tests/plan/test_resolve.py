"""Resolution of a desired pod: env (values, ConfigMap and Secret keys, envFrom, $(VAR)), files and
mounts of volumes, hostPath allow-list, ports, limits, pull policy, reserved labels."""

from __future__ import annotations

import pytest

from reconciler.model import base, diagnostics, hoststate, objects, workloads
from reconciler.plan import env, expand, refs, resolve

from . import builders as b

CM = b.config_map("settings", {"MODE": "fast", "LEVEL": "info", "app.ini": "[main]\nx=1\n"})
SECRET = b.secret("creds", {"PASSWORD": b"s3cr3t-value", "USER": b"admin-user"})


def _resolve(
    pod_spec: workloads.PodSpec,
    *extra: objects.Object,
    policy: resolve.Policy | None = None,
) -> resolve.ResolvedPod:
    desired = b.state(CM, SECRET, *extra)
    (pod,) = expand.expand(b.state(b.pod("p", pod_spec)), ())
    return resolve.resolve(pod, desired, policy or resolve.Policy())


def _env(*containers: workloads.Container) -> tuple[tuple[str, str], ...]:
    return _resolve(b.spec(*containers)).containers[0].env


def _error(pod_spec: workloads.PodSpec, policy: resolve.Policy | None = None) -> refs.ResolveError:
    with pytest.raises(refs.ResolveError) as caught:
        _resolve(pod_spec, policy=policy)
    return caught.value


# -- env ---------------------------------------------------------------------------------------


def test_env_values_and_key_references() -> None:
    values = _env(
        b.container(
            env=(
                workloads.EnvVar("PLAIN", "hello"),
                workloads.EnvVar("MODE", config_map_key=workloads.KeyRef("settings", "MODE")),
                workloads.EnvVar("PASS", secret_key=workloads.KeyRef("creds", "PASSWORD")),
            )
        )
    )
    assert values == (("PLAIN", "hello"), ("MODE", "fast"), ("PASS", "s3cr3t-value"))
    assert not isinstance(values[1][1], hoststate.Sensitive)
    assert isinstance(values[2][1], hoststate.Sensitive)
    assert "s3cr3t-value" not in repr(values)


def test_env_from_all_keys_with_prefix_then_env_overrides() -> None:
    values = _env(
        b.container(
            env_from=(
                workloads.EnvFrom(config_map="settings", prefix="CFG_"),
                workloads.EnvFrom(secret="creds"),
            ),
            env=(workloads.EnvVar("CFG_MODE", "slow"),),
        )
    )
    assert [name for name, _ in values] == [
        "CFG_LEVEL",
        "CFG_MODE",
        "CFG_app.ini",
        "PASSWORD",
        "USER",
    ]
    assert dict(values)["CFG_MODE"] == "slow"
    assert all(isinstance(v, hoststate.Sensitive) for n, v in values if n in ("PASSWORD", "USER"))


def test_optional_missing_references_give_no_variable() -> None:
    values = _env(
        b.container(
            env=(
                workloads.EnvVar("A", config_map_key=workloads.KeyRef("nope", "A", optional=True)),
                workloads.EnvVar("B", secret_key=workloads.KeyRef("creds", "NOPE", optional=True)),
            ),
            env_from=(workloads.EnvFrom(config_map="nope", optional=True),),
        )
    )
    assert values == ()


def test_missing_reference_names_field_and_object() -> None:
    error = _error(
        b.spec(
            b.container(),
            b.container(
                "side",
                env=(workloads.EnvVar("X", secret_key=workloads.KeyRef("vault", "KEY")),),
            ),
        )
    )
    assert error.path == "spec.containers[1].env[0].valueFrom.secretKeyRef"
    assert "Secret 'vault' not found in namespace 'default'" in error.message
    assert error.code is diagnostics.Code.MISSING_REFERENCE


def test_missing_key_is_an_error() -> None:
    error = _error(
        b.spec(
            b.container(
                env=(workloads.EnvVar("X", config_map_key=workloads.KeyRef("settings", "Q")),)
            )
        )
    )
    assert "has no key 'Q'" in error.message


def test_non_utf8_secret_cannot_be_env() -> None:
    binary = b.secret("bin", {"KEY": b"\xff\xfe"})
    with pytest.raises(refs.ResolveError, match="not UTF-8"):
        _resolve(
            b.spec(
                b.container(env=(workloads.EnvVar("K", secret_key=workloads.KeyRef("bin", "KEY")),))
            ),
            binary,
        )


def test_dependent_variables_are_expanded_like_kubernetes() -> None:
    refs_env = env.expand_references
    defined = {"A": "1", "S": hoststate.Sensitive("pw")}
    assert refs_env("x$(A)y", defined) == "x1y"
    assert refs_env("$(MISSING)", defined) == "$(MISSING)"
    assert refs_env("$$(A)", defined) == "$(A)"
    assert refs_env("$(A", defined) == "$(A"
    assert refs_env("cost: 5$", defined) == "cost: 5$"
    expanded = refs_env("user:$(S)", defined)
    assert expanded == "user:pw" and isinstance(expanded, hoststate.Sensitive)


def test_env_command_and_args_expand_against_defined_variables() -> None:
    run = _resolve(
        b.spec(
            b.container(
                env=(
                    workloads.EnvVar("PASS", secret_key=workloads.KeyRef("creds", "PASSWORD")),
                    workloads.EnvVar("URL", "db://u:$(PASS)@db"),
                    workloads.EnvVar("EARLY", "$(LATE)"),
                    workloads.EnvVar("LATE", "late"),
                ),
                args=("--url", "$(URL)", "$(LATE)"),
            )
        )
    ).containers[0]
    values = dict(run.env)
    assert values["URL"] == "db://u:s3cr3t-value@db"
    assert isinstance(values["URL"], hoststate.Sensitive)
    assert values["EARLY"] == "$(LATE)"  # only what is defined before is expanded
    assert run.args == ("--url", "db://u:s3cr3t-value@db", "late")
    assert isinstance(run.args[1], hoststate.Sensitive)
    assert not isinstance(run.args[2], hoststate.Sensitive)


# -- volumes -----------------------------------------------------------------------------------


def test_config_map_and_secret_volumes_become_files_and_read_only_binds() -> None:
    resolved = _resolve(
        b.spec(
            b.container(
                volume_mounts=(
                    workloads.VolumeMount("conf", "/etc/app"),
                    workloads.VolumeMount("keys", "/run/keys"),
                )
            ),
            volumes=(
                workloads.Volume(
                    "conf",
                    workloads.VolumeType.CONFIG_MAP,
                    "settings",
                    items=(workloads.KeyToPath("app.ini", "conf.d/app.ini"),),
                ),
                workloads.Volume("keys", workloads.VolumeType.SECRET, "creds"),
            ),
        )
    )
    files = {f.path: f for f in resolved.files}
    assert sorted(files) == [
        "volumes/default/p/conf/conf.d/app.ini",
        "volumes/default/p/keys/PASSWORD",
        "volumes/default/p/keys/USER",
    ]
    conf = files["volumes/default/p/conf/conf.d/app.ini"]
    assert (conf.content, conf.mode, conf.secret) == (b"[main]\nx=1\n", 0o644, False)
    password = files["volumes/default/p/keys/PASSWORD"]
    assert (password.content, password.mode, password.secret) == (b"s3cr3t-value", 0o600, True)
    assert "s3cr3t" not in repr(resolved)
    assert resolved.containers[0].mounts == (
        hoststate.Mount(hoststate.MountKind.BIND, "volumes/default/p/conf", "/etc/app", True),
        hoststate.Mount(hoststate.MountKind.BIND, "volumes/default/p/keys", "/run/keys", True),
    )


def test_config_map_volume_includes_binary_data() -> None:
    binary = b.config_map("blobs", {"a.txt": "A"}, binary={"b.bin": b"\x00\x01"})
    resolved = _resolve(
        b.spec(volumes=(workloads.Volume("v", workloads.VolumeType.CONFIG_MAP, "blobs"),)),
        binary,
    )
    assert [(f.path, f.content) for f in resolved.files] == [
        ("volumes/default/p/v/a.txt", b"A"),
        ("volumes/default/p/v/b.bin", b"\x00\x01"),
    ]


def test_missing_optional_volume_source_gives_empty_volume() -> None:
    resolved = _resolve(
        b.spec(
            b.container(volume_mounts=(workloads.VolumeMount("v", "/v"),)),
            volumes=(workloads.Volume("v", workloads.VolumeType.SECRET, "nope", optional=True),),
        )
    )
    assert resolved.files == ()
    assert resolved.containers[0].mounts[0].source == "volumes/default/p/v"


def test_item_path_may_not_leave_the_volume() -> None:
    error = _error(
        b.spec(
            volumes=(
                workloads.Volume(
                    "v",
                    workloads.VolumeType.CONFIG_MAP,
                    "settings",
                    items=(workloads.KeyToPath("MODE", "../../escape"),),
                ),
            )
        )
    )
    assert "must be relative" in error.message


def test_empty_dir_is_a_podman_volume() -> None:
    resolved = _resolve(
        b.spec(
            b.container(volume_mounts=(workloads.VolumeMount("scratch", "/tmp/s"),)),
            volumes=(workloads.Volume("scratch", workloads.VolumeType.EMPTY_DIR),),
        )
    )
    assert resolved.volumes == ("default_p_scratch",)
    assert resolved.containers[0].mounts == (
        hoststate.Mount(hoststate.MountKind.VOLUME, "default_p_scratch", "/tmp/s", False),
    )


def _host_path_spec(path: str) -> workloads.PodSpec:
    return b.spec(
        b.container(volume_mounts=(workloads.VolumeMount("data", "/data", read_only=True),)),
        volumes=(workloads.Volume("data", workloads.VolumeType.HOST_PATH, path),),
    )


def test_host_path_is_refused_without_allow_list() -> None:
    error = _error(_host_path_spec("/srv/data"))
    assert error.path == "spec.volumes[0].hostPath.path"
    assert "not under an allowed host path prefix (none are allowed)" in error.message


def test_host_path_under_allowed_prefix() -> None:
    policy = resolve.Policy(host_path_allow=("/srv/data/",))
    for path in ("/srv/data", "/srv/data/app"):
        mount = _resolve(_host_path_spec(path), policy=policy).containers[0].mounts[0]
        assert mount == hoststate.Mount(hoststate.MountKind.HOST_PATH, path, "/data", True)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/srv/database", "not under an allowed"),
        ("/srv/data/../../etc", "normalized absolute"),
        ("/srv/data/", "normalized absolute"),
        ("srv/data", "normalized absolute"),
        ("//srv/data", "normalized absolute"),
    ],
)
def test_host_path_outside_or_unnormalized_is_refused(path: str, message: str) -> None:
    policy = resolve.Policy(host_path_allow=("/srv/data", "relative/ignored"))
    assert message in _error(_host_path_spec(path), policy).message


def test_mount_of_an_undeclared_volume_is_an_error() -> None:
    error = _error(b.spec(b.container(volume_mounts=(workloads.VolumeMount("ghost", "/g"),))))
    assert error.path == "spec.containers[0].volumeMounts[0].name"


# -- containers, ports, labels -----------------------------------------------------------------


def test_ports_limits_and_restart_policy() -> None:
    resolved = _resolve(
        b.spec(
            b.container(
                ports=(
                    workloads.ContainerPort(8080, host_port=80),
                    workloads.ContainerPort(53, 5353, workloads.Protocol.UDP, host_ip="127.0.0.1"),
                    workloads.ContainerPort(9090),
                ),
                resources=workloads.Resources(cpu_request=100, cpu_limit=500, memory_limit=1 << 27),
            ),
            restart_policy=workloads.RestartPolicy.ON_FAILURE,
        )
    )
    assert resolved.ports == (
        hoststate.PortMapping(80, 8080, "tcp"),
        hoststate.PortMapping(5353, 53, "udp", "127.0.0.1"),
    )
    run = resolved.containers[0]
    assert (run.cpu_limit_millis, run.memory_limit_bytes) == (500, 1 << 27)


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("registry:5000/nginx", "Always"),
        ("registry:5000/nginx:1.25", "IfNotPresent"),
        ("nginx:1.25", "IfNotPresent"),
        ("nginx@sha256:abc", "IfNotPresent"),
        ("nginx:latest@sha256:abc", "Always"),
    ],
)
def test_default_pull_policy(image: str, policy: str) -> None:
    assert resolve.default_pull_policy(image).value == policy
    assert _resolve(b.spec(b.container(image=image))).containers[0].pull_policy == policy


def test_explicit_pull_policy_wins() -> None:
    container = b.container(image="nginx:latest", image_pull_policy=workloads.PullPolicy.NEVER)
    assert _resolve(b.spec(container)).containers[0].pull_policy == "Never"


def test_reserved_labels_are_refused() -> None:
    pod = b.pod("p")
    labelled = workloads.Pod(
        base.ObjectMeta("p", "default", base.FrozenMap({hoststate.LABEL_OWNER: "me"})), pod.spec
    )
    (desired_pod,) = expand.expand(b.state(labelled), ())
    with pytest.raises(refs.ResolveError, match="set by the reconciler"):
        resolve.resolve(desired_pod, b.state(labelled), resolve.Policy())


def test_deployment_error_paths_point_into_the_template() -> None:
    deployment = b.deployment(
        pod_spec=b.spec(b.container(env_from=(workloads.EnvFrom(config_map="gone"),)))
    )
    (first, _) = expand.expand(b.state(deployment), ())
    with pytest.raises(refs.ResolveError) as caught:
        resolve.resolve(first, b.state(deployment), resolve.Policy())
    assert caught.value.path == "spec.template.spec.containers[0].envFrom[0].configMapRef"
