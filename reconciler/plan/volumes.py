"""Pod volumes as the host sees them, resolved by `resolve` for each pod: configMap and secret
volumes become files under `volumes/<namespace>/<pod>/<volume>/` (relative to the host user's
state directory) bind-mounted read-only, with the volume's `defaultMode` or item `mode` (else
0644, or 0600 for a Secret; the container sees these bits, its root owning the files);
emptyDir a podman volume `<namespace>_<pod>_<volume>`; hostPath a bind mount of the host path,
only under an allow-list; persistentVolumeClaim the claim's podman volume
(`model.claims.volume_name`), which outlives the pod. A mount's `subPath` is resolved by
`subpaths`.

The allow-list check is lexical (the path must be normalized and under an allowed prefix): the
executor, which can see the host, should also refuse a path whose real path leaves the prefix.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.model import base, claims, hoststate, workloads
from reconciler.plan import expand, refs, subpaths

CONFIG_MAP_FILE_MODE = 0o644
SECRET_FILE_MODE = 0o600
HOST_PATH_TYPES = frozenset({"", "Directory", "File"})
"""hostPath types that a plain bind mount honours (the path must exist); the others need checks
or creation on the host that the executor does not do."""


@dataclass(frozen=True)
class VolumeSource:
    """Where a pod volume comes from on the host; configMap/secret volumes are always read-only."""

    kind: hoststate.MountKind
    source: str
    always_read_only: bool = False


@dataclass(frozen=True)
class PodVolumes:
    files: tuple[hoststate.HostFile, ...] = ()
    podman_volumes: tuple[str, ...] = ()
    by_name: base.FrozenMap[str, VolumeSource] = field(default_factory=base.FrozenMap)


def volume_dir(namespace: str, pod: str, volume: str) -> str:
    return f"volumes/{namespace}/{pod}/{volume}"


def podman_volume_name(namespace: str, pod: str, volume: str) -> str:
    return f"{namespace}_{pod}_{volume}"


def pod_volumes(
    pod: expand.DesiredPod,
    spec_path: str,
    sources: refs.Sources,
    host_path_allow: tuple[str, ...],
) -> PodVolumes:
    """The pod's volumes; `spec_path` is where its spec sits in the manifest (error paths)."""
    files: list[hoststate.HostFile] = []
    podman_volumes: list[str] = []
    by_name: dict[str, VolumeSource] = {}
    for index, volume in enumerate(pod.spec.volumes):
        path = f"{spec_path}.volumes[{index}]"
        if volume.type in (workloads.VolumeType.CONFIG_MAP, workloads.VolumeType.SECRET):
            directory = volume_dir(pod.namespace, pod.name, volume.name)
            files.extend(_files(volume, directory, sources, path))
            by_name[volume.name] = VolumeSource(hoststate.MountKind.BIND, directory, True)
        elif volume.type is workloads.VolumeType.EMPTY_DIR and volume.medium == "Memory":
            size = "" if volume.size_limit is None else str(volume.size_limit)
            by_name[volume.name] = VolumeSource(hoststate.MountKind.TMPFS, size)
        elif volume.type is workloads.VolumeType.PERSISTENT_VOLUME_CLAIM:
            if not sources.has_claim(volume.source):  # waits, as a Pending pod does
                raise sources.missing(
                    f"{path}.persistentVolumeClaim.claimName",
                    base.Kind.PERSISTENT_VOLUME_CLAIM, volume.source,
                )  # fmt: skip
            claim = claims.volume_name(pod.namespace, volume.source)
            by_name[volume.name] = VolumeSource(hoststate.MountKind.CLAIM, claim, volume.read_only)
        elif volume.type is workloads.VolumeType.EMPTY_DIR:
            name = podman_volume_name(pod.namespace, pod.name, volume.name)
            podman_volumes.append(name)
            by_name[volume.name] = VolumeSource(hoststate.MountKind.VOLUME, name)
        else:
            checked = _host_path(volume, host_path_allow, path)
            by_name[volume.name] = VolumeSource(hoststate.MountKind.HOST_PATH, checked)
    return PodVolumes(tuple(files), tuple(podman_volumes), base.FrozenMap(by_name))


def container_mounts(
    container: workloads.Container,
    volumes: PodVolumes,
    path: str,
    env: Mapping[str, str] | None = None,
) -> tuple[hoststate.Mount, ...]:
    """The container's mounts; `env` (its resolved variables) expands `subPathExpr`."""
    mounts = []
    for index, mount in enumerate(container.volume_mounts):
        where = f"{path}.volumeMounts[{index}]"
        source = volumes.by_name.get(mount.name)
        if source is None:
            raise refs.ResolveError(
                f"{where}.name",
                f"no volume named {mount.name!r} in the pod",
                "add it to spec.volumes, or fix the name",
            )
        read_only = source.always_read_only or mount.read_only
        sub_path = subpaths.relative(mount, env or {}, where)
        if sub_path:
            mounts.append(subpaths.mount(
                source.kind, source.source, sub_path, target=mount.mount_path,
                read_only=read_only, files=volumes.files, path=where,
            ))  # fmt: skip
            continue
        mounts.append(hoststate.Mount(source.kind, source.source, mount.mount_path, read_only))
    return tuple(mounts)


def _files(
    volume: workloads.Volume, directory: str, sources: refs.Sources, path: str
) -> list[hoststate.HostFile]:
    data: dict[str, bytes]
    if volume.type is workloads.VolumeType.SECRET:
        kind, secret, mode = base.Kind.SECRET, True, SECRET_FILE_MODE
        found_secret = sources.secret(volume.source)
        data = dict(found_secret.data) if found_secret is not None else {}
        found = found_secret is not None
    else:
        kind, secret, mode = base.Kind.CONFIG_MAP, False, CONFIG_MAP_FILE_MODE
        config_map = sources.config_map(volume.source)
        data = {}
        if config_map is not None:
            data = {key: value.encode("utf-8") for key, value in config_map.data.items()}
            data.update(config_map.binary_data)
        found = config_map is not None
    if not found:
        if volume.optional:
            return []
        raise sources.missing(f"{path}.{volume.type}", kind, volume.source)
    if volume.default_mode is not None:
        mode = volume.default_mode
    if volume.items:
        chosen: list[tuple[str, str, int]] = []
        for index, item in enumerate(volume.items):
            if item.key in data:
                chosen.append((item.key, item.path, mode if item.mode is None else item.mode))
            elif not volume.optional:
                where = f"{path}.{volume.type}.items[{index}].key"
                raise sources.missing_key(where, kind, volume.source, item.key)
    else:
        chosen = [(key, key, mode) for key in sorted(data)]
    files = []
    for key, relative, file_mode in chosen:
        _check_relative(relative, f"{path}.{volume.type}.items")
        files.append(hoststate.HostFile(f"{directory}/{relative}", data[key], file_mode, secret))
    return files


def _check_relative(relative: str, path: str) -> None:
    parts = relative.split("/")
    if relative.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise refs.ResolveError(
            path,
            f"file path {relative!r} must be relative, without '.', '..' or empty parts",
            "write a plain relative path such as `conf/app.ini`",
        )
    if "\x00" in relative:
        raise refs.ResolveError(path, "file path contains a NUL character")


def _host_path(volume: workloads.Volume, allow: tuple[str, ...], path: str) -> str:
    where = f"{path}.hostPath"
    source = volume.source
    normalized = source.startswith("/") and posixpath.normpath(source) == source
    if not normalized or source.startswith("//"):
        raise refs.ResolveError(
            f"{where}.path",
            f"hostPath {source!r} must be a normalized absolute path",
            "write it without '.', '..', repeated or trailing slashes",
        )
    if volume.host_path_type not in HOST_PATH_TYPES:
        raise refs.ResolveError(
            f"{where}.type",
            f"hostPath type {volume.host_path_type!r} is not supported: the path is bind-mounted "
            "as it is and must already exist",
            "use type Directory or File, or leave the type out",
        )
    if not any(_under(source, prefix) for prefix in allow):
        allowed = ", ".join(allow) if allow else "none are allowed"
        raise refs.ResolveError(
            f"{where}.path",
            f"hostPath {source!r} is not under an allowed host path prefix ({allowed})",
            "use a configMap, secret or emptyDir volume, or have the operator add the prefix "
            "to the daemon's hostPath allow-list",
        )
    return source


def _under(path: str, prefix: str) -> bool:
    """True if `path` is `prefix` or inside it; a prefix that is not absolute allows nothing."""
    if not prefix.startswith("/"):
        return False
    prefix = posixpath.normpath(prefix)
    return prefix in ("/", path) or path.startswith(prefix + "/")
