"""scripts/bootstrap-host.sh: shellcheck-clean; refuses bad input; and, as root, run for real on
this machine (a throw-away user; systemd's loginctl/systemctl and podman replaced by stubs that
record their arguments, since no systemd runs here): twice, to show it is idempotent."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "bootstrap-host.sh"
CIDR_UNIT = Path("/etc/systemd/system/reconciler-service-cidr.service")
STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> {log}
case "$(basename "$0") $*" in
  "podman info"*) echo true ;;
  "sysctl -n net.ipv4.ip_unprivileged_port_start") echo 1024 ;;
esac
exit 0
"""


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, check=False,
        timeout=120, env=env,
    )  # fmt: skip


def test_syntax_and_shellcheck() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], check=False).returncode == 0
    assert subprocess.run(["sh", "-n", str(ROOT / "scripts" / "host-boot.sh")],
                          check=False).returncode == 0  # fmt: skip
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is missing: run scripts/install.sh (Debian package shellcheck)")
    boot = str(ROOT / "scripts" / "host-boot.sh")
    result = subprocess.run([shellcheck, str(SCRIPT), boot], capture_output=True, text=True,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_usage_errors(tmp_path: Path) -> None:
    assert _run().returncode == 2
    assert _run("--bogus", "k.pub").returncode == 2
    if os.geteuid() != 0:
        assert "run as root" in _run(str(tmp_path / "k.pub")).stderr
        return
    missing = _run(str(tmp_path / "k.pub"))
    assert missing.returncode == 1 and "cannot read the public key file" in missing.stderr
    (tmp_path / "k.pub").write_text("not a key\n")
    assert "is not an SSH public key" in _run(str(tmp_path / "k.pub")).stderr
    assert "invalid user name" in _run("--user", "Bad;Name", str(tmp_path / "k.pub")).stderr
    for bad in ("x", "1025", "-1", ""):
        refused = _run("--unprivileged-port-start", bad, str(tmp_path / "k.pub"))
        assert refused.returncode == 1 and "takes a port from 0 to 1024" in refused.stderr
    for bad in ("x", "10.96.0.0", "10.0.0.0/8;rm", ""):
        refused = _run("--service-cidr", bad, str(tmp_path / "k.pub"))
        assert refused.returncode == 1 and "--service-cidr takes a network" in refused.stderr


@pytest.fixture
def user() -> Iterator[str]:
    name = f"rcboot{os.getpid()}"
    yield name
    subprocess.run(["userdel", "-r", name], capture_output=True, check=False)


@pytest.fixture
def stubs() -> Iterator[Path]:
    """A directory the throw-away user can reach (pytest's tmp_path is root-only)."""
    directory = Path(tempfile.mkdtemp(prefix="bootstrap-stubs-"))
    directory.chmod(0o755)
    log = directory / "calls.log"
    log.touch()
    log.chmod(0o666)
    for tool in ("loginctl", "systemctl", "podman", "sysctl", "ip"):
        stub = directory / tool
        stub.write_text(STUB.format(log=log))
        stub.chmod(0o755)
    yield directory
    shutil.rmtree(directory)
    Path("/etc/sysctl.d/60-reconciler-ports.conf").unlink(missing_ok=True)  # the script wrote it
    Path("/etc/sysctl.d/61-reconciler-reserved-ports.conf").unlink(missing_ok=True)
    CIDR_UNIT.unlink(missing_ok=True)


def _subids(user: str, path: str) -> list[tuple[int, int]]:
    ranges = []
    for line in Path(path).read_text().splitlines():
        name, start, count = line.split(":")
        if name == user:
            ranges.append((int(start), int(count)))
    return ranges


@pytest.mark.skipif(os.geteuid() != 0, reason="creates a user: needs root")
def test_a_real_run_twice(user: str, stubs: Path, tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "reconciler@ctl",
                    "-f", str(tmp_path / "key")], check=True)  # fmt: skip
    public = (tmp_path / "key.pub").read_text().strip()
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"}
    args = ("--user", user, "--host", "web1.example.net", str(tmp_path / "key.pub"))

    first = _run(*args, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"user {user}: created" in first.stdout
    assert "authorized key: installed" in first.stdout
    assert "rootless podman as" in first.stdout

    entry = pwd.getpwnam(user)
    home = Path(entry.pw_dir)
    authorized = home / ".ssh" / "authorized_keys"
    assert authorized.read_text().splitlines() == [public]
    assert stat.S_IMODE(authorized.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / ".ssh").stat().st_mode) == 0o700
    assert (
        authorized.stat().st_uid == entry.pw_uid and (home / ".ssh").stat().st_uid == entry.pw_uid
    )
    shadow = {
        line.split(":")[0]: line.split(":")[1]
        for line in Path("/etc/shadow").read_text().splitlines()
    }
    assert shadow[user] == "*"  # not locked (sshd would refuse it), yet no password works
    for path in ("/etc/subuid", "/etc/subgid"):
        assert sum(count for _, count in _subids(user, path)) >= 65536

    calls = (stubs / "calls.log").read_text().splitlines()
    assert f"loginctl enable-linger {user}" in calls
    assert "systemctl --user enable --now podman.socket podman-restart.service" in calls
    assert f"systemctl start user@{entry.pw_uid}.service" in calls
    assert "systemctl --user enable reconciler-boot.service" in calls
    unit = home / ".config" / "systemd" / "user" / "reconciler-boot.service"
    assert "ExecStart=/bin/sh %h/.local/bin/reconciler-boot" in unit.read_text()
    boot = home / ".local" / "bin" / "reconciler-boot"
    assert boot.read_text() == (ROOT / "scripts" / "host-boot.sh").read_text()
    assert unit.stat().st_uid == entry.pw_uid == boot.stat().st_uid

    for pub in Path("/etc/ssh").glob("ssh_host_*_key.pub"):
        key_type, blob = pub.read_text().split()[:2]
        assert f"web1.example.net {key_type} {blob}" in first.stdout.splitlines()
    assert "SHA256:" in first.stdout
    # ports from 80 on (sysctl is a stub here: this machine's own setting is left alone)
    assert "sysctl -q -w net.ipv4.ip_unprivileged_port_start=80" in calls
    assert "net.ipv4.ip_unprivileged_port_start: 1024 -> 80" in first.stdout
    conf = Path("/etc/sysctl.d/60-reconciler-ports.conf")
    assert "net.ipv4.ip_unprivileged_port_start = 80" in conf.read_text()
    # the planner's ports kept out of the ephemeral ports of outgoing connections
    assert "sysctl -q -w net.ipv4.ip_local_reserved_ports=41000-44999" in calls
    reserved = Path("/etc/sysctl.d/61-reconciler-reserved-ports.conf").read_text()
    assert "net.ipv4.ip_local_reserved_ports = 41000-44999" in reserved
    # the service CIDR routed to lo now (ip is a stub here) and at boot by a oneshot unit
    assert "ip route replace local 10.96.0.0/12 dev lo" in calls
    assert "systemctl enable reconciler-service-cidr.service" in calls
    assert f"ExecStart={stubs}/ip route replace local 10.96.0.0/12 dev lo" in CIDR_UNIT.read_text()
    assert "service CIDR 10.96.0.0/12: routed to lo" in first.stdout

    # lose the subuid range, run again: everything is found, the range comes back, key stays once
    (start, count), = _subids(user, "/etc/subuid")  # fmt: skip
    subprocess.run(["usermod", "--del-subuids", f"{start}-{start + count - 1}", user], check=True)
    second = _run(*args, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"user {user}: exists" in second.stdout
    assert "authorized key: already installed" in second.stdout
    assert f"subuids of {user}: added " in second.stdout
    assert f"subgids of {user}: 65536" in second.stdout  # untouched
    assert authorized.read_text().splitlines() == [public]
    (new_start, new_count), = _subids(user, "/etc/subuid")  # fmt: skip
    assert new_count == 65536
    others = [
        (int(s), int(c))
        for name, s, c in (line.split(":") for line in Path("/etc/subuid").read_text().splitlines())
        if name != user
    ]
    assert all(new_start >= s + c or new_start + new_count <= s for s, c in others), "overlap"


def test_the_reserved_ports_are_the_ones_the_planner_allocates() -> None:
    from reconciler.plan import podports, probeports  # noqa: PLC0415
    from tests.harness import lab  # noqa: PLC0415

    wanted = f"{podports.RESERVED.start}-{podports.RESERVED.stop - 1}"
    assert f"\nRESERVED_PORTS={wanted}\n" in SCRIPT.read_text()
    assert wanted == lab.RESERVED_PORTS
    assert probeports.RANGE.start >= podports.RESERVED.start
    assert podports.RANGE.stop <= podports.RESERVED.stop
