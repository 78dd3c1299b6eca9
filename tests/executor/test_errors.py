"""Error messages name the object and say what to do; outside exceptions are translated once."""

from __future__ import annotations

from pathlib import Path

import asyncssh
import pytest

from reconciler.executor import errors, podman_ssh, sshconn
from reconciler.model import hoststate

TARGET = hoststate.HostTarget("h1", "192.0.2.1", 2222, "deploy")
SETTINGS = sshconn.SSHSettings(
    known_hosts=Path("/etc/rc/known_hosts"), key_file=Path("/etc/rc/key")
)


def test_host_key_mismatch_names_the_file() -> None:
    exc = sshconn.translate(
        TARGET, SETTINGS, asyncssh.HostKeyNotVerifiable("Host key is not trusted")
    )
    assert isinstance(exc, errors.HostKeyMismatch)
    assert "/etc/rc/known_hosts" in str(exc) and "host h1" in str(exc)


def test_translation_of_connection_failures() -> None:
    denied = sshconn.translate(TARGET, SETTINGS, asyncssh.PermissionDenied("no"))
    assert isinstance(denied, errors.HostAuthFailed) and "/etc/rc/key.pub" in str(denied)
    timeout = sshconn.translate(TARGET, SETTINGS, TimeoutError())
    assert isinstance(timeout, errors.HostUnreachable) and timeout.timed_out
    assert "no answer within 10s" in str(timeout)
    refused = sshconn.translate(TARGET, SETTINGS, ConnectionRefusedError(111, "Connection refused"))
    assert isinstance(refused, errors.HostUnreachable) and not refused.timed_out
    assert "deploy@192.0.2.1:2222" in str(refused) and "Connection refused" in str(refused)
    lost = sshconn.translate(TARGET, SETTINGS, asyncssh.ConnectionLost("gone"))
    assert isinstance(lost, errors.HostUnreachable) and "gone" in str(lost)


def test_messages_say_what_to_do() -> None:
    assert "install Podman" in str(errors.PodmanMissing("h1", "deploy"))
    unavailable = errors.PodmanUnavailable("h1", "deploy", "/run/user/1000/podman/podman.sock", "x")
    assert "podman.socket" in str(unavailable) and "/run/user/1000" in str(unavailable)
    pull = errors.ImagePullError("h1", "shop_web", "reg/app:9", "manifest unknown")
    assert "'reg/app:9'" in str(pull) and "shop_web" in str(pull) and "h1" in str(pull)
    conflict = errors.NameConflict("h1", "shop_web", "podman pod", "shop_web")
    assert "not created by the reconciler" in str(conflict)


def test_missing_files_are_a_config_error(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("")
    with pytest.raises(errors.ExecutorConfigError, match=r"known_hosts file .*does not exist"):
        podman_ssh.PodmanSSHExecutor(tmp_path / "nope", key)


def test_sensitive_values_stay_out_of_reprs() -> None:
    container = hoststate.ContainerRun("c", "img", env=(("T", hoststate.Sensitive("s3cret")),))
    assert "s3cret" not in repr(container)
    assert "s3cret" not in repr(hoststate.HostFile("d/f", b"s3cret", secret=True))


def test_probe_output_parsing() -> None:
    assert sshconn.parse_probe("/run/user/1000\n/home/u\n/usr/bin/podman\n") == (
        "/run/user/1000",
        "/home/u",
        True,
    )
    assert sshconn.parse_probe("/run/user/1000\n/home/u\n") == ("/run/user/1000", "/home/u", False)
    assert sshconn.parse_probe("") == ("", "", False)
    chatty = f"Welcome!\n{sshconn.PROBE_MARKER}\n/run/user/7\n/home/x\n/bin/podman\n"
    assert sshconn.parse_probe(chatty) == ("/run/user/7", "/home/x", True)


def test_probe_is_fixed_text() -> None:
    assert sshconn.PROBE == (
        "printf '%s\\n%s\\n%s\\n' --reconciler-probe-- "
        '"${XDG_RUNTIME_DIR:-/run/user/$(id -u)}" "$HOME"; command -v podman; '
        'test -S "${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/podman/podman.sock" && '
        "echo --reconciler-socket--; true"
    )


def test_probe_tells_whether_the_default_socket_is_there() -> None:
    found = f"{sshconn.PROBE_MARKER}\n/run/user/7\n/home/x\n/bin/podman\n{sshconn.SOCKET_MARKER}\n"
    assert sshconn.parse_probe(found) == ("/run/user/7", "/home/x", True)
    assert sshconn.default_socket_found(found)
    absent = f"{sshconn.PROBE_MARKER}\n/run/user/7\n/home/x\n/bin/podman\n"
    assert not sshconn.default_socket_found(absent)
    no_podman = f"{sshconn.PROBE_MARKER}\n/run/user/7\n/home/x\n{sshconn.SOCKET_MARKER}\n"
    assert sshconn.parse_probe(no_podman) == ("/run/user/7", "/home/x", False)
