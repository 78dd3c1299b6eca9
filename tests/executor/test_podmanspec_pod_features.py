"""Pod features of real manifests (issue 17) in the libpod create bodies: securityContext."""

from __future__ import annotations

from reconciler.executor import podmanspec
from reconciler.model import base, hoststate, security

IMAGE = "registry.example:5000/app/web:1.0"


def _run(*containers: hoststate.ContainerRun) -> hoststate.PodRun:
    return hoststate.PodRun(
        namespace="shop", name="web-1", host="h1", spec_hash="h", labels=base.FrozenMap(),
        containers=containers,
    )  # fmt: skip


def test_security_settings_become_specgen_fields() -> None:
    settings = security.Effective(
        user="1000:3000", read_only_root=True, no_new_privileges=True,
        cap_add=("CAP_NET_BIND_SERVICE",), cap_drop=("ALL",),
    )  # fmt: skip
    container = hoststate.ContainerRun(name="web", image=IMAGE, security=settings)
    spec = podmanspec.container_spec(_run(container), container, "/state", 10)
    assert spec["user"] == "1000:3000"
    assert spec["read_only_filesystem"] is True
    assert spec["no_new_privileges"] is True
    assert spec["cap_add"] == ["CAP_NET_BIND_SERVICE"]
    assert spec["cap_drop"] == ["ALL"]


def test_no_security_context_adds_no_field() -> None:
    container = hoststate.ContainerRun(name="web", image=IMAGE)
    spec = podmanspec.container_spec(_run(container), container, "/state", 10)
    for key in ("user", "read_only_filesystem", "no_new_privileges", "cap_add", "cap_drop"):
        assert key not in spec


def test_a_memory_empty_dir_is_a_tmpfs_mount_of_its_container() -> None:
    tmpfs = hoststate.Mount(hoststate.MountKind.TMPFS, str(16 << 20), "/scratch")
    container = hoststate.ContainerRun(name="web", image=IMAGE, mounts=(tmpfs,))
    run = _run(container)
    podmanspec.validate(run)  # no podman volume is needed for it
    spec = podmanspec.container_spec(run, container, "/state", 10)
    assert spec["mounts"] == [{"type": "tmpfs", "source": "tmpfs", "destination": "/scratch",
                               "options": [f"size={16 << 20}"]}]  # fmt: skip
    assert "volumes" not in spec
