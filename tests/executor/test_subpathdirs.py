"""subPath mounts of emptyDir and claim volumes on the host (issue 17): `make` creates the path
below the volume's mount point with the right mode, keeps what exists, mounts an existing file,
and refuses a symbolic link or a file on the way; `bind` turns each such mount into a bind of
the host path; podmanspec refuses a subPath mount that was not made. Hostname and subdomain
reach the pod's Podman spec."""

from __future__ import annotations

import asyncio
import stat
from dataclasses import dataclass
from typing import Any

import asyncssh
import pytest

from reconciler.executor import errors, podmanspec, subpathdirs, volumegroups
from reconciler.model import base, hoststate

K = hoststate.MountKind
POINT = "/home/u/.local/share/containers/storage/volumes/v/_data"


@dataclass
class Attrs:
    permissions: int


class FakeSFTP:
    """Paths to their st_mode; mkdir makes a 0755 directory (the umask's work), chmod sets bits."""

    def __init__(self, entries: dict[str, int]) -> None:
        self.entries = dict(entries)
        self.made: list[str] = []

    async def lstat(self, path: str) -> Any:
        if path not in self.entries:
            raise asyncssh.SFTPNoSuchFile("no such file")
        return Attrs(self.entries[path])

    async def mkdir(self, path: str) -> None:
        if path in self.entries:
            raise asyncssh.SFTPFailure("exists")
        self.entries[path] = stat.S_IFDIR | 0o755
        self.made.append(path)

    async def chmod(self, path: str, mode: int) -> None:
        self.entries[path] = stat.S_IFMT(self.entries[path]) | mode


def _make(sftp: FakeSFTP, relative: str, mode: int | None = None) -> str:
    return asyncio.run(subpathdirs.make(sftp, POINT, relative, mode))


def test_make_creates_each_missing_part_with_the_mode_and_keeps_what_exists() -> None:
    sftp = FakeSFTP({POINT: stat.S_IFDIR | 0o2775, f"{POINT}/a": stat.S_IFDIR | 0o700})
    assert _make(sftp, "a/b/c") == f"{POINT}/a/b/c"
    assert sftp.made == [f"{POINT}/a/b", f"{POINT}/a/b/c"]
    assert stat.S_IMODE(sftp.entries[f"{POINT}/a/b/c"]) == 0o2775  # the volume's own mode
    assert stat.S_IMODE(sftp.entries[f"{POINT}/a"]) == 0o700  # existing: untouched
    assert _make(sftp, "x", subpathdirs.EMPTY_DIR_MODE) == f"{POINT}/x"
    assert stat.S_IMODE(sftp.entries[f"{POINT}/x"]) == 0o777


def test_make_mounts_an_existing_file_as_the_last_part_only() -> None:
    sftp = FakeSFTP({POINT: stat.S_IFDIR | 0o755, f"{POINT}/f": stat.S_IFREG | 0o644})
    assert _make(sftp, "f") == f"{POINT}/f"
    with pytest.raises(errors.OperationFailed, match="f exists in the volume and is no directory"):
        _make(sftp, "f/g")


def test_make_refuses_a_symbolic_link_anywhere_on_the_path() -> None:
    sftp = FakeSFTP({POINT: stat.S_IFDIR | 0o755, f"{POINT}/a": stat.S_IFDIR | 0o755,
                     f"{POINT}/a/up": stat.S_IFLNK | 0o777})  # fmt: skip
    with pytest.raises(errors.OperationFailed, match="a/up is a symbolic link"):
        _make(sftp, "a/up/etc")
    assert sftp.made == []


def test_make_refuses_a_path_that_is_not_normalized_and_a_mount_point_that_is_no_directory(
) -> None:  # fmt: skip
    sftp = FakeSFTP({POINT: stat.S_IFDIR | 0o755})
    with pytest.raises(errors.OperationFailed, match=r"without '\.\.'"):
        _make(sftp, "a/../../b")
    with pytest.raises(errors.OperationFailed, match="no directory"):
        _make(FakeSFTP({POINT: stat.S_IFLNK | 0o777}), "a")


def _run(*mounts: hoststate.Mount, **kw: Any) -> hoststate.PodRun:
    container = hoststate.ContainerRun("app", "img", mounts=mounts)
    init = hoststate.ContainerRun("setup", "img", mounts=mounts[:1])
    return hoststate.PodRun("ns", "web", "h1", "hash", base.FrozenMap(), (container,),
                            volumes=("ns_web_scratch",), init_containers=(init,), **kw)  # fmt: skip


def test_bind_makes_each_volume_subpath_once_and_binds_its_host_path() -> None:
    run = _run(
        hoststate.Mount(K.VOLUME, "ns_web_scratch", "/cache", sub_path="cache"),
        hoststate.Mount(K.CLAIM, "claimvol", "/db", read_only=True, sub_path="mysql"),
        hoststate.Mount(K.VOLUME, "ns_web_scratch", "/whole"),
        hoststate.Mount(K.BIND, "volumes/ns/web/conf/a.conf", "/a.conf", True),
    )
    made: list[tuple[str, str, int | None]] = []

    def maker(point: str, relative: str, mode: int | None) -> str:
        made.append((point, relative, mode))
        return f"{point}/{relative}"

    bound = subpathdirs.bind(lambda name: {"Mountpoint": f"/v/{name}"}, maker, run)
    assert made == [("/v/claimvol", "mysql", None), ("/v/ns_web_scratch", "cache", 0o777)]
    cache, db, whole, conf = bound.containers[0].mounts
    assert cache == hoststate.Mount(K.HOST_PATH, "/v/ns_web_scratch/cache", "/cache")
    assert db == hoststate.Mount(K.HOST_PATH, "/v/claimvol/mysql", "/db", read_only=True)
    assert (whole, conf) == run.containers[0].mounts[2:]
    assert bound.init_containers[0].mounts == (cache,)
    mounts = podmanspec.container_spec(bound, bound.containers[0], "/state", 10)["mounts"]
    assert {"type": "bind", "source": "/v/claimvol/mysql", "destination": "/db",
            "options": ["rbind", "ro"]} in mounts  # fmt: skip


def test_fs_group_goes_to_the_subpath_directory_at_its_mount_path() -> None:
    run = _run(hoststate.Mount(K.VOLUME, "ns_web_scratch", "/cache", sub_path="cache"),
               fs_group=2000)  # fmt: skip
    # `podcreate` hands volumegroups the run before `bind`: the archive lands on the bound path
    assert volumegroups.targets(run) == (("ns_web_setup", "/cache"),)


def test_bind_without_subpaths_is_the_run_itself_and_a_volume_without_mount_point_fails() -> None:
    plain = _run(hoststate.Mount(K.VOLUME, "ns_web_scratch", "/s"))
    assert subpathdirs.bind(lambda _: None, lambda *a: "", plain) is plain
    run = _run(hoststate.Mount(K.VOLUME, "ns_web_scratch", "/s", sub_path="x"))
    with pytest.raises(errors.OperationFailed, match="has no mount point"):
        subpathdirs.bind(lambda _: {}, lambda *a: "", run)


def test_podmanspec_refuses_a_subpath_mount_that_was_not_made_never_the_whole_volume() -> None:
    run = _run(hoststate.Mount(K.VOLUME, "ns_web_scratch", "/s", sub_path="x"))
    podmanspec.validate(run)
    unmade = "subPath 'x' of volume ns_web_scratch was not made"
    with pytest.raises(errors.InvalidRun, match=unmade):
        podmanspec.container_spec(run, run.containers[0], "/state", 10)
    bad = _run(hoststate.Mount(K.VOLUME, "ns_web_scratch", "/s", sub_path="../x"))
    with pytest.raises(errors.InvalidRun, match="subPath"):
        podmanspec.validate(bad)


def test_hostname_and_subdomain_reach_the_podman_spec() -> None:
    plain = _run()  # two containers: the pod's infra container holds the hostname
    assert podmanspec.pod_spec(plain)["hostname"] == "web"
    named = _run(hostname="db-0", subdomain="db", host_aliases=(("x.internal", "198.18.0.9"),))
    spec = podmanspec.pod_spec(named)
    assert spec["hostname"] == "db-0"
    assert spec["hostadd"] == ["db-0.db.ns.svc.cluster.local db-0:10.0.2.100",
                               "x.internal:198.18.0.9"]  # fmt: skip
    alone = hoststate.PodRun("ns", "web", "h1", "h", base.FrozenMap(),
                             (hoststate.ContainerRun("app", "img"),), hostname="db-0")  # fmt: skip
    spec = podmanspec.container_spec(alone, alone.containers[0], "/s", 10)  # no infra container
    assert spec["hostname"] == "db-0" and "hostadd" not in spec
    assert podmanspec.own_hosts_line(_run(subdomain="db")).startswith(
        "web.db.ns.svc.cluster.local web:")
    with pytest.raises(errors.InvalidRun, match="not a DNS label"):
        podmanspec.validate(_run(hostname="Db_0"))
