"""`volumeMounts[].subPath` and `subPathExpr` in the plan (issue 17): a configMap or secret
subPath binds only that file or directory of the volume's files; an emptyDir or claim subPath
stays on the mount for the executor to make; subPathExpr expands the container's env; what
cannot be a path is refused at the mount's field. Pod hostname and subdomain reach the PodRun and
its hash only when set."""

from __future__ import annotations

import pytest

from reconciler.model import base, claims, hoststate, workloads
from reconciler.plan import pipeline
from tests.plan import builders as b

V, T, M = workloads.Volume, workloads.VolumeType, workloads.VolumeMount
CONF = V("conf", T.CONFIG_MAP, "conf")
NESTED = V("nested", T.CONFIG_MAP, "conf", (workloads.KeyToPath("a.conf", "etc/a.conf"),))
KEYS = V("keys", T.SECRET, "keys")
SCRATCH = V("scratch", T.EMPTY_DIR)
MEMORY = V("mem", T.EMPTY_DIR, medium="Memory")
DATA = V("data", T.PERSISTENT_VOLUME_CLAIM, "data")


def _result(*mounts: workloads.VolumeMount, env: tuple[workloads.EnvVar, ...] = (),
            **spec: object) -> pipeline.PlanResult:  # fmt: skip
    app = b.container("app", volume_mounts=mounts, env=env)
    pod_spec = b.spec(app, volumes=(CONF, NESTED, KEYS, SCRATCH, MEMORY, DATA), **spec)
    claim = claims.PersistentVolumeClaim(base.ObjectMeta(name="data", namespace="default"),
                                         storage_request=1 << 30)  # fmt: skip
    conf = b.config_map("conf", {"a.conf": "x=1", "b.conf": "y=2"})
    state = b.state(b.pod("solo", pod_spec), conf, b.secret("keys", {"token": b"s3cret"}),
                    claim, b.host("h1"))  # fmt: skip
    return pipeline.build_plan(state, b.observations("h1"), "rev1")


def _plan(*mounts: workloads.VolumeMount, env: tuple[workloads.EnvVar, ...] = (),
          **spec: object) -> hoststate.PodRun:  # fmt: skip
    result = _result(*mounts, env=env, **spec)
    assert not result.errors, result.errors
    (run,) = result.runs
    return run


def _error(*mounts: workloads.VolumeMount, env: tuple[workloads.EnvVar, ...] = ()) -> str:
    """The plan's one error as `path: message`; the pod is not run."""
    result = _result(*mounts, env=env)
    assert not result.runs
    (error,) = result.errors
    return f"{error.path}: {error.message}"


def test_a_config_map_key_is_bound_as_one_file_and_an_items_directory_as_a_directory() -> None:
    run = _plan(M("conf", "/etc/app/a.conf", sub_path="a.conf"),
                M("nested", "/etc/app/conf.d", sub_path="etc"),
                M("keys", "/run/token", sub_path="token"))  # fmt: skip
    mounts = run.containers[0].mounts
    assert [(m.kind, m.source, m.target, m.read_only, m.sub_path) for m in mounts] == [
        (hoststate.MountKind.BIND, "volumes/default/solo/conf/a.conf", "/etc/app/a.conf", True, ""),
        (hoststate.MountKind.BIND, "volumes/default/solo/nested/etc", "/etc/app/conf.d", True, ""),
        (hoststate.MountKind.BIND, "volumes/default/solo/keys/token", "/run/token", True, ""),
    ]


def test_a_subpath_that_names_no_file_of_a_config_map_is_refused_at_the_mount() -> None:
    text = _error(M("conf", "/x", sub_path="missing.conf"))
    assert "spec.containers[0].volumeMounts[0].subPath" in text
    assert "'missing.conf' is no file" in text


def test_empty_dir_and_claim_subpaths_stay_on_the_mount_for_the_executor() -> None:
    run = _plan(M("scratch", "/cache", sub_path="./cache/"), M("data", "/var/lib/db",
                sub_path="mysql", read_only=True))  # fmt: skip
    scratch, data = run.containers[0].mounts
    assert (scratch.kind, scratch.source, scratch.sub_path) == (
        hoststate.MountKind.VOLUME, "default_solo_scratch", "cache")
    assert (data.kind, data.sub_path, data.read_only) == (hoststate.MountKind.CLAIM, "mysql", True)
    assert data.source == run.claims[0].volume


def test_a_memory_subpath_is_a_fresh_tmpfs_and_dot_is_the_whole_volume() -> None:
    run = _plan(M("mem", "/tmp/x", sub_path="x"), M("scratch", "/s", sub_path="."))
    mem, scratch = run.containers[0].mounts
    assert (mem.kind, mem.sub_path) == (hoststate.MountKind.TMPFS, "")
    assert scratch.sub_path == ""


def test_subpath_expr_expands_the_containers_env() -> None:
    env = (workloads.EnvVar("POD", field_path="metadata.name"), workloads.EnvVar("TIER", "db"))
    run = _plan(M("data", "/logs", sub_path_expr="$(TIER)/$(POD)/$(UNSET)"), env=env)
    assert run.containers[0].mounts[0].sub_path == "db/solo/$(UNSET)"


@pytest.mark.parametrize(("env", "wanted"), [
    ((workloads.EnvVar("NODE", field_path="spec.nodeName"),), "depends on the pod's host"),
    ((workloads.EnvVar("UP", value="../x"),), "must not contain '..'"),
    ((workloads.EnvVar("ABS", value="/etc"),), "must be a relative path"),
])  # fmt: skip
def test_subpath_expr_refuses_host_values_and_paths_that_leave_the_volume(
    env: tuple[workloads.EnvVar, ...], wanted: str
) -> None:
    text = _error(M("data", "/logs", sub_path_expr=f"$({env[0].name})"), env=env)
    assert "volumeMounts[0].subPathExpr" in text and wanted in text


def test_subpath_expr_refuses_a_secret_value() -> None:
    secret = workloads.EnvVar("S", secret_key=workloads.KeyRef("keys", "token"))
    text = _error(M("data", "/logs", sub_path_expr="$(S)"), env=(secret,))
    assert "a Secret value" in text and "s3cret" not in text


def test_mounts_without_subpath_keep_their_hash_and_a_subpath_changes_it() -> None:
    plain = _plan(M("data", "/d"))
    with_sub = _plan(M("data", "/d", sub_path="a"))
    other = _plan(M("data", "/d", sub_path="b"))
    assert len({plain.spec_hash, with_sub.spec_hash, other.spec_hash}) == 3


def test_hostname_and_subdomain_reach_the_run_and_its_hash_only_when_set() -> None:
    plain = _plan()
    named = _plan(hostname="db-0")
    sub = _plan(hostname="db-0", subdomain="db")
    assert (plain.hostname, plain.subdomain) == ("", "")
    assert (sub.hostname, sub.subdomain) == ("db-0", "db")
    assert len({plain.spec_hash, named.spec_hash, sub.spec_hash}) == 3
    assert plain.spec_hash == _plan().spec_hash
