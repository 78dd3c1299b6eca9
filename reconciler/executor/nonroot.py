"""`runAsNonRoot: true` without `runAsUser`: the image's own USER must be a non-zero numeric uid,
checked on the host after the pull and before anything is created or torn down, as the kubelet
does (`verifyRunAsNonRoot`). `podcreate.create`/`replace` call `check`; a refusal is the pod's
`CreateContainerConfigError` and leaves a running old pod in place.
"""

from __future__ import annotations

from typing import Any, Protocol

from reconciler.executor import errors
from reconciler.model import hoststate

REASON = "CreateContainerConfigError"


class ImageReader(Protocol):
    def inspect_image(self, image: str) -> dict[str, Any] | None: ...


def image_user(inspected: dict[str, Any] | None) -> str:
    """The image's configured USER ("" when none: root)."""
    config = (inspected or {}).get("Config") or {}
    user = config.get("User") if isinstance(config, dict) else None
    return user if isinstance(user, str) else ""


def problem(user: str) -> str:
    """Why an image whose USER is `user` may not run with runAsNonRoot ("" when it may)."""
    uid = user.split(":", 1)[0]
    if not uid or uid == "0":
        return "image will run as root"
    if not uid.isdigit():
        return f"image has non-numeric user ({uid}), cannot verify user is non-root"
    return ""


def check(api: ImageReader, run: hoststate.PodRun) -> None:
    """Raise `InvalidRun` for the first container that asks to run as non-root without a user
    while its image runs as root (or as a user name that cannot be verified)."""
    for container in (*run.init_containers, *run.containers):
        if not container.security.verify_non_root:
            continue
        try:
            user = image_user(api.inspect_image(container.image))
        except errors.OperationFailed as exc:
            raise errors.InvalidRun(
                run.host, run.podman_name,
                f"{REASON}: cannot read the USER of image {container.image!r} to check "
                f"runAsNonRoot: {exc.detail}",
            ) from exc  # fmt: skip
        why = problem(user)
        if why:
            raise errors.InvalidRun(
                run.host, run.podman_name,
                f"{REASON}: container has runAsNonRoot and {why} (container {container.name}); "
                "set runAsUser to a non-zero uid, or use an image whose USER is one",
            )  # fmt: skip
