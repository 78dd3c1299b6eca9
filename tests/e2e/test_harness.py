"""The test hosts themselves, against the real thing: sshd with strict host keys, rootless Podman,
isolation between hosts, published ports, registry pulls, kill/revive, and a clean `down`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import image
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_every_host_runs_rootless_containers_over_strict_ssh(lab: labmod.Lab) -> None:
    for host in lab.hosts():
        cmd = lab.ssh_command(
            host, "sh", "-c", "id -u; podman info --format '{{.Host.Security.Rootless}}'"
        )
        assert "StrictHostKeyChecking=yes" in cmd
        result = lab.run_ok(cmd)
        uid, rootless = result.stdout.split()
        assert uid == str(host.uid) and uid != "0"
        assert rootless == "true"
        out = lab.ssh(host, "podman", "run", "--rm", lab.config.image, "echo", f"hi {host.name}")
        assert out.stdout.strip() == f"hi {host.name}"


def test_wrong_host_key_is_refused(lab: labmod.Lab, tmp_path: Path) -> None:
    h1, h2 = lab.hosts()[:2]
    # A known_hosts that pins h2's key for h1's address: ssh must refuse to connect.
    h2_key = (lab.config.state_dir / "h2" / "ssh_host_ed25519_key.pub").read_text().split()
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{h1.address} {h2_key[0]} {h2_key[1]}\n")
    cmd = [
        arg.replace(str(lab.config.known_hosts), str(wrong)) for arg in lab.ssh_command(h1, "true")
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 255
    assert "host key" in result.stderr.lower()
    assert h2.name  # h2 itself is untouched


def test_container_on_one_host_is_invisible_on_another(lab: labmod.Lab) -> None:
    h1, h2 = lab.hosts()[:2]
    name = _unique("iso")
    lab.ssh(
        h1,
        "podman",
        "run",
        "-d",
        "--name",
        name,
        "--label",
        f"test={name}",
        lab.config.image,
        "sleep",
        "300",
    )
    try:
        on_h1 = lab.ssh(
            h1, "podman", "ps", "-a", "--filter", f"label=test={name}", "--format", "json"
        )
        on_h2 = lab.ssh(
            h2, "podman", "ps", "-a", "--filter", f"label=test={name}", "--format", "json"
        )
        assert [c["Names"][0] for c in json.loads(on_h1.stdout)] == [name]
        assert json.loads(on_h2.stdout) == []
    finally:
        lab.ssh(h1, "podman", "rm", "-f", "-t", "0", name)


def test_published_port_is_reachable_at_the_host_address(lab: labmod.Lab) -> None:
    host = lab.hosts()[1]
    name = _unique("web")
    lab.ssh(
        host,
        "podman",
        "run",
        "-d",
        "--name",
        name,
        "-p",
        "18080:80",
        lab.config.image,
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    )
    try:
        body = ""
        for _ in range(50):
            try:
                with urllib.request.urlopen(f"http://{host.address}:18080/", timeout=2) as response:
                    body = response.read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert body == "hello from the reconciler test image\n"
        # The port is the host's own: another host's address does not answer on it.
        other = lab.hosts()[0]
        with pytest.raises(OSError):
            socket.create_connection((other.address, 18080), timeout=2).close()
    finally:
        lab.ssh(host, "podman", "rm", "-f", "-t", "0", name)


def test_image_pushed_to_the_registry_is_pulled_by_a_host(lab: labmod.Lab) -> None:
    host = lab.hosts()[2]
    tag = _unique("t")
    marker = _unique("marker")
    image.push_image(lab.config.registry, "test/pushed", tag, marker=marker)
    ref = f"{lab.config.registry}/test/pushed:{tag}"
    try:
        pulled = lab.ssh(host, "podman", "pull", ref)
        assert pulled.returncode == 0
        out = lab.ssh(host, "podman", "run", "--rm", ref, "cat", "/etc/image-marker")
        assert out.stdout == marker
        missing = lab.ssh(
            host, "podman", "pull", f"{lab.config.registry}/test/pushed:nope", check=False
        )
        assert missing.returncode != 0
    finally:
        lab.ssh(host, "podman", "rmi", "-f", ref, check=False)


def test_kill_makes_a_host_unreachable_and_revive_brings_it_back(lab: labmod.Lab) -> None:
    host = lab.hosts()[2]
    lab.kill(host.name)
    try:
        assert not lab.reachable(host.name)
        result = lab.ssh(host, "true", check=False, timeout=30)
        assert result.returncode == 255
        assert lab.reachable(lab.hosts()[0].name)  # the others are fine
    finally:
        lab.revive(host.name)
    assert lab.reachable(host.name)
    assert lab.ssh(host, "echo", "back").stdout.strip() == "back"


# ----- a separate, isolated lab: idempotent up, clean down, rollback on failure ----------------


def _isolated(tmp_path: Path, subnet: int, port: int = 5000) -> labmod.Lab:
    return labmod.Lab(
        labmod.LabConfig(
            name=f"iso{subnet}",
            state_dir=tmp_path / "lab",
            bridge=f"thbr{subnet}",
            subnet=subnet,
            netns_prefix=f"t{subnet}-",
            user_prefix=f"rct{subnet}-",
            registry_port=port,
        )
    )


def _live(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not stat.split(") ", 1)[1].startswith("Z")  # a zombie is not running


def _leftovers(lab: labmod.Lab, hosts: list[labmod.Host], pids: list[int]) -> list[str]:
    found = []
    cfg = lab.config
    if Path(f"/sys/class/net/{cfg.bridge}").exists():
        found.append(f"bridge {cfg.bridge}")
    for host in hosts:
        if Path(f"/run/netns/{host.netns}").exists():
            found.append(f"netns {host.netns}")
        if Path(f"/sys/class/net/{host.veth}").exists():
            found.append(f"link {host.veth}")
        if host.user in Path("/etc/passwd").read_text():
            found.append(f"user {host.user}")
        if Path(host.runtime_dir).exists():
            found.append(host.runtime_dir)
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and _live(int(proc.name)):
                try:
                    if proc.stat().st_uid == host.uid:
                        found.append(f"process {proc.name} of {host.user}")
                except OSError:
                    pass
    found += [f"process {pid}" for pid in pids if _live(pid)]
    if cfg.state_dir.exists():
        found.append(str(cfg.state_dir))
    return found


@pytest.fixture
def isolated(tmp_path: Path) -> Iterator[labmod.Lab]:
    the_lab = _isolated(tmp_path, 9)
    yield the_lab
    the_lab.down()


def test_up_is_idempotent_and_down_leaves_nothing(isolated: labmod.Lab) -> None:
    hosts = isolated.up(1)
    first = hosts[0]
    assert first.sshd_pid and first.service_pid
    isolated.ssh(
        first,
        "podman",
        "run",
        "-d",
        "--name",
        "left-running",
        isolated.config.image,
        "sleep",
        "600",
    )
    again = isolated.up(1)[0]
    assert (again.sshd_pid, again.service_pid) == (first.sshd_pid, first.service_pid)
    registry_pid = isolated.load_state().registry_pid
    # a process listing taken while up: the container's processes belong to the host's user
    running = [
        p
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _live(int(p.name)) and p.stat().st_uid == first.uid
    ]
    assert running
    isolated.down()
    assert _leftovers(isolated, [first], [first.sshd_pid, first.service_pid, registry_pid]) == []
    isolated.down()  # twice is fine


def test_failed_up_leaves_no_half_made_host(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("0.0.0.0", 0))
    busy.listen()
    port = busy.getsockname()[1]
    the_lab = _isolated(tmp_path, 8, port)
    try:
        with pytest.raises(labmod.HarnessError, match=f"port 198.18.8.1:{port} is already in use"):
            the_lab.up(1)
        assert _leftovers(the_lab, [the_lab.host_spec(1)], []) == []
    finally:
        busy.close()
        the_lab.down()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "tests.harness", *args]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=labmod.REPO,
        env={**os.environ, "TESTHOSTS_DIR": "/nonexistent"},
    )


@pytest.mark.parametrize("count", ["0", "51", "three", "-2"])
def test_bad_count_is_a_one_line_usage_error(count: str) -> None:
    result = _cli("up", count)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "host count" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_root_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(labmod.os, "geteuid", lambda: 1000)
    the_lab = _isolated(tmp_path, 6)
    with pytest.raises(labmod.HarnessError) as error:
        the_lab.up(1)
    assert str(error.value) == (
        "must run as root (it creates network namespaces and users); try: sudo scripts/testhosts up"
    )
    assert not the_lab.config.state_dir.exists()


def test_missing_debian_package_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(labmod.REQUIRED, "definitely-not-installed-tool", "some-package")
    the_lab = _isolated(tmp_path, 7)
    with pytest.raises(
        labmod.HarnessError,
        match=r"missing Debian package\(s\) some-package: run scripts/install.sh",
    ):
        the_lab.up(1)
    assert not the_lab.config.state_dir.exists()
