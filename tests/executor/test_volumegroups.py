"""fsGroup on a pod's volumes in the executor (`volumegroups`, `podmanspec`, `claimvolumes`):
the one-entry archive, which container and path receive it, the volume create options, and the
containers' `groups`; against a fake API."""

from __future__ import annotations

import io
import tarfile
import types
from typing import Any

from reconciler.executor import claimvolumes, podmanspec, volumegroups
from reconciler.model import base, claims, hoststate, security

IMAGE = "registry.example:5000/app/web:1.0"
K = hoststate.MountKind


def _run(*containers: hoststate.ContainerRun, fs_group: int | None = 2000,
         inits: tuple[hoststate.ContainerRun, ...] = ()) -> hoststate.PodRun:
    return hoststate.PodRun(
        namespace="shop", name="web-1", host="h1", spec_hash="h", labels=base.FrozenMap(),
        containers=containers, init_containers=inits, volumes=("shop_web-1_scratch",),
        fs_group=fs_group,
    )  # fmt: skip


def _container(name: str, *mounts: hoststate.Mount) -> hoststate.ContainerRun:
    return hoststate.ContainerRun(name=name, image=IMAGE, mounts=mounts)


class FakeApi:
    def __init__(self) -> None:
        self.puts: list[tuple[str, str, bytes]] = []

    def put_archive(self, container_id: str, path: str, archive: bytes) -> None:
        self.puts.append((container_id, path, archive))


def test_the_archive_holds_only_the_directory_owned_by_root_and_the_group() -> None:
    with tarfile.open(fileobj=io.BytesIO(volumegroups.archive(2000, 1_700_000_000))) as tar:
        (entry,) = tar.getmembers()
    assert (entry.name, entry.isdir(), entry.uid, entry.gid) == (".", True, 0, 2000)
    assert entry.mode == 0o2775 and entry.mtime == 1_700_000_000


def test_each_volume_goes_to_the_first_container_mounting_it_read_write() -> None:
    scratch_ro = hoststate.Mount(K.VOLUME, "shop_web-1_scratch", "/ro", read_only=True)
    scratch = hoststate.Mount(K.VOLUME, "shop_web-1_scratch", "/scratch")
    claim = hoststate.Mount(K.CLAIM, "rc-pvc-shop-data-x", "/data")
    only_read = hoststate.Mount(K.CLAIM, "rc-pvc-shop-logs-x", "/logs", read_only=True)
    others = (hoststate.Mount(K.TMPFS, "", "/mem"), hoststate.Mount(K.BIND, "volumes/a", "/cfg"))
    run = _run(_container("app", scratch_ro, claim, only_read, *others),
               _container("side", scratch), inits=(_container("init", claim),))  # fmt: skip
    assert volumegroups.targets(run) == (
        ("shop_web-1_init", "/data"),  # init containers are created too, and run first
        ("shop_web-1_side", "/scratch"),
    )


def test_apply_puts_the_archive_once_per_volume_and_nothing_without_fs_group() -> None:
    scratch = hoststate.Mount(K.VOLUME, "shop_web-1_scratch", "/scratch")
    api = FakeApi()
    assert volumegroups.apply(api, _run(_container("app", scratch)), now=5) == 1
    assert api.puts == [("shop_web-1_app", "/scratch", volumegroups.archive(2000, 5))]
    api = FakeApi()
    assert volumegroups.apply(api, _run(_container("app", scratch), fs_group=None)) == 0
    assert api.puts == []


def test_volumes_are_made_owned_by_the_group_and_containers_get_the_groups() -> None:
    settings = security.Effective(user="1000", groups=(2000, 3000))
    container = hoststate.ContainerRun(name="app", image=IMAGE, security=settings)
    run = _run(container)
    assert podmanspec.volume_spec(run, "shop_web-1_scratch")["Options"] == {
        "o": "uid=0,gid=2000"
    }
    assert "Options" not in podmanspec.volume_spec(_run(container, fs_group=None), "v")
    spec = podmanspec.container_spec(run, container, "/state", 10)
    assert spec["groups"] == ["2000", "3000"]
    plain = hoststate.ContainerRun(name="app", image=IMAGE)
    assert "groups" not in podmanspec.container_spec(_run(plain), plain, "/state", 10)


def test_a_new_claim_volume_is_made_owned_by_the_group() -> None:
    made: list[dict[str, Any]] = []
    api = types.SimpleNamespace(inspect_volume=lambda name: None, create_volume=made.append)
    volume = claims.ClaimVolume("shop", "data", claims.volume_name("shop", "data"))
    run = hoststate.PodRun("shop", "web-0", "h1", "x", base.FrozenMap(), (), claims=(volume,),
                           fs_group=2000)  # fmt: skip
    claimvolumes.prepare(types.SimpleNamespace(api=api), run)  # type: ignore[arg-type]
    assert made[0]["Options"] == {"o": "uid=0,gid=2000"}
