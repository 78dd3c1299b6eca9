"""File modes of configMap and secret volumes in the plan (issue 17): `defaultMode` and
`items[].mode` become the modes of the HostFiles the executor writes (an item's mode wins);
unset, configMap files are 0644 and secret files 0600; a changed mode changes the spec hash
(the pod is replaced); secret contents never show in the plan's repr."""

from __future__ import annotations

from reconciler.model import hoststate, workloads
from reconciler.plan import pipeline, volumes
from tests.plan import builders as b

K = workloads.KeyToPath


def _files(*pod_volumes: workloads.Volume) -> tuple[dict[str, int], hoststate.PodRun]:
    mounts = tuple(workloads.VolumeMount(v.name, f"/{v.name}") for v in pod_volumes)
    pod = b.pod("solo", b.spec(b.container("app", volume_mounts=mounts), volumes=pod_volumes))
    conf = b.config_map("conf", {"a.conf": "x=1", "b.conf": "y=2"})
    keys = b.secret("keys", {"token": b"t0ken-s3cret", "other": b"s3cond"})
    state = b.state(pod, conf, keys, b.host("h1"))
    (run,) = pipeline.build_plan(state, b.observations("h1"), "rev1").runs
    return {f.path.removeprefix("volumes/default/solo/"): f.mode for f in run.files}, run


def test_default_modes_when_unset() -> None:
    modes, _ = _files(
        workloads.Volume("c", workloads.VolumeType.CONFIG_MAP, "conf"),
        workloads.Volume("s", workloads.VolumeType.SECRET, "keys"),
    )
    assert volumes.CONFIG_MAP_FILE_MODE == 0o644 and volumes.SECRET_FILE_MODE == 0o600
    assert modes == {"c/a.conf": 0o644, "c/b.conf": 0o644, "s/other": 0o600, "s/token": 0o600}


def test_default_mode_and_item_modes_reach_the_host_files() -> None:
    modes, run = _files(
        workloads.Volume("c", workloads.VolumeType.CONFIG_MAP, "conf", default_mode=0o400),
        workloads.Volume(
            "s", workloads.VolumeType.SECRET, "keys",
            (K("token", "t", mode=0o640), K("other", "o")), default_mode=0o644,
        ),
    )  # fmt: skip
    assert modes == {"c/a.conf": 0o400, "c/b.conf": 0o400, "s/t": 0o640, "s/o": 0o644}
    secret_files = [f for f in run.files if f.secret]
    assert len(secret_files) == 2
    assert "t0ken" not in repr(run) and "mode=640" in repr(secret_files[0])


def test_a_changed_mode_changes_the_spec_hash() -> None:
    def spec_hash(mode: int | None) -> str:
        volume = workloads.Volume("s", workloads.VolumeType.SECRET, "keys", default_mode=mode)
        return _files(volume)[1].spec_hash

    assert len({spec_hash(None), spec_hash(0o400), spec_hash(0o440)}) == 3
    assert spec_hash(None) == spec_hash(None)
