"""The executor's exception tree: what went wrong on a host or with one pod, and what to do.

Outside exceptions (asyncssh, OSError, podman-py/requests) are translated into these once, at the
boundary (`sshconn`, `podmanapi`); everything above catches only `ExecutorError`. A `HostError`
makes a whole host unusable for this call (observe marks it unreachable, apply skips its actions);
a `PodError` fails one action and leaves the others on the host alone.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.model import errors


class ExecutorError(errors.ReconcilerError):
    """Base of every error the executor raises."""


class ExecutorConfigError(ExecutorError):
    """The executor itself is misconfigured (a missing key or known_hosts file)."""


# ----- whole host ------------------------------------------------------------------------------


class HostError(ExecutorError, errors.TransientError):
    """The host cannot be used right now; nothing on it is assumed changed or deleted."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"host {host}: {message}")
        self.host = host


class HostUnreachable(HostError):  # noqa: N818 (the architecture's vocabulary)
    """No SSH connection could be made or kept (refused, timed out, connection lost)."""

    def __init__(self, host: str, address: str, detail: str, *, timed_out: bool = False) -> None:
        super().__init__(
            host,
            f"unreachable at {address} ({detail}); check that the host is up, that sshd listens "
            "there and that no firewall drops the traffic. Its pods are left as they are.",
        )
        self.address = address
        self.detail = detail
        self.timed_out = timed_out


class HostKeyMismatch(HostError):  # noqa: N818 (the architecture's vocabulary)
    """The host's SSH key is not the one recorded in the known_hosts file: refused. `offered`
    and `expected` are fingerprints as OpenSSH shows them (`ssh-ed25519 SHA256:...`)."""

    def __init__(
        self,
        host: str,
        address: str,
        known_hosts: Path,
        detail: str = "",
        *,
        offered: str = "",
        expected: tuple[str, ...] = (),
    ) -> None:
        if offered:
            pinned = (f"expects {' or '.join(expected)}" if expected
                      else "has no key for it")  # fmt: skip
            what = f"it offered {offered}; the known_hosts file {known_hosts} {pinned}"
        else:
            what = f"{detail or 'not trusted'} (known_hosts file {known_hosts})"
        super().__init__(
            host,
            f"host key verification failed for {address}: {what}. Connection refused: if the "
            f"host was reinstalled, verify its new key out of band (ssh-keygen -lf on the host) "
            f"and replace its line in {known_hosts}.",
        )
        self.address = address
        self.known_hosts = known_hosts
        self.offered = offered
        self.expected = expected


class HostAuthFailed(HostError):  # noqa: N818 (the architecture's vocabulary)
    """sshd refused our client key for the host's user."""

    def __init__(self, host: str, user: str, key_file: Path) -> None:
        super().__init__(
            host,
            f"SSH login as {user!r} refused for the key {key_file}; add its public key "
            f"({key_file}.pub) to ~{user}/.ssh/authorized_keys on the host and make sure the "
            "account is not locked.",
        )
        self.user = user
        self.key_file = key_file


class PodmanMissing(HostError):  # noqa: N818 (the architecture's vocabulary)
    """The host has no `podman` command for its user."""

    def __init__(self, host: str, user: str) -> None:
        super().__init__(
            host,
            f"podman is not installed for user {user!r} (no `podman` on its PATH); install "
            "Podman 4.3 or newer and enable rootless use for that user.",
        )


class PodmanUnavailable(HostError):  # noqa: N818 (the architecture's vocabulary)
    """Podman is installed but its API service does not answer on the expected socket."""

    def __init__(self, host: str, user: str, socket: str, detail: str) -> None:
        super().__init__(
            host,
            f"the Podman API socket {socket} does not answer ({detail}); as {user!r} run "
            "`systemctl --user enable --now podman.socket` (and `loginctl enable-linger "
            f"{user}` as root), or start `podman system service --time=0 unix://{socket}`.",
        )
        self.socket = socket


class PodmanFailed(HostError):  # noqa: N818 (the architecture's vocabulary)
    """Podman answered a host-wide request (listing pods) with an error."""

    def __init__(self, host: str, operation: str, detail: str) -> None:
        super().__init__(
            host,
            f"podman failed to {operation} ({detail}); run `podman pod ps` and `podman ps -a` as "
            "the host's user to see why, and repair Podman there. The host's pods are unknown "
            "until then, not deleted.",
        )


# ----- one pod ---------------------------------------------------------------------------------


class PodError(ExecutorError):
    """One pod could not be created, replaced or deleted; other pods on the host go on."""

    def __init__(self, host: str, pod: str, message: str) -> None:
        super().__init__(f"pod {pod} on host {host}: {message}")
        self.host = host
        self.pod = pod


REASON_ERR_IMAGE_PULL = "ErrImagePull"
"""Kubernetes' reason for a failed pull, first word of every `ImagePullError`'s message."""


class ImagePullError(PodError):
    """An image could not be pulled (or is absent and imagePullPolicy is Never)."""

    def __init__(self, host: str, pod: str, image: str, detail: str) -> None:
        super().__init__(
            host,
            pod,
            f"{REASON_ERR_IMAGE_PULL}: image {image!r} could not be pulled: {detail}. Check the "
            "image name and tag, that "
            "the registry is reachable from the host, and its credentials.",
        )
        self.image = image

    @classmethod
    def never_pulled(cls, host: str, pod: str, image: str) -> ImagePullError:
        """The image is absent and imagePullPolicy is Never (the real and the fake executor)."""
        return cls(host, pod, image, "it is not present on the host and imagePullPolicy is Never")


class NameConflict(PodError):  # noqa: N818 (the architecture's vocabulary)
    """A podman object with the name we need exists and was not created by the reconciler."""

    def __init__(self, host: str, pod: str, what: str, name: str) -> None:
        super().__init__(
            host,
            pod,
            f"a {what} named {name!r} exists on the host and was not created by the "
            "reconciler; it is left alone. Rename or remove it by hand, or rename the object.",
        )
        self.name = name


class InvalidRun(PodError):  # noqa: N818 (the architecture's vocabulary)
    """The pod to run asks for something the executor refuses (e.g. a path leaving its dir)."""


class PodmanRequestFailed(PodError):  # noqa: N818 (the architecture's vocabulary)
    """Podman refused or failed a request for this pod (its message is included)."""

    def __init__(self, host: str, pod: str, operation: str, detail: str) -> None:
        super().__init__(host, pod, f"{operation} failed: {detail}")
        self.operation = operation
        self.detail = detail


class OperationFailed(ExecutorError):  # noqa: N818 (the architecture's vocabulary)
    """A podman API call or a file operation failed; raised inside the executor and re-raised
    as a `PodError` with the pod's context by `hostops`.

    `status` is the HTTP status (404 = not found, 409 = conflict), 0 when there was none.
    """

    def __init__(self, operation: str, detail: str, status: int = 0) -> None:
        super().__init__(f"{operation}: {detail}")
        self.operation = operation
        self.status = status
        self.detail = detail
