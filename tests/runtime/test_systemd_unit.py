"""The systemd unit: `systemd-analyze verify` accepts it without a word on stderr (it exits 0 even
on warnings), its hardening scores as "OK" in `systemd-analyze security`, and the daemon's
libraries need no writable+executable memory (MemoryDenyWriteExecute=yes would stop them)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "reconciler.service"
INSTALLED_BINARY = "/opt/reconciler/.venv/bin/reconciler"
MAX_EXPOSURE = 1.1  # systemd-analyze security: below 2 is "OK"; 1.1 with every free point taken


def _analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze is missing: run scripts/install.sh (Debian package systemd)")
    return found


def _testable_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's reconciler (verify checks that the
    binary exists); nothing else differs."""
    local_binary = Path(sys.executable).parent / "reconciler"
    assert local_binary.exists(), "the package is not installed in this virtualenv"
    text = UNIT.read_text()
    assert text.count(f"ExecStart={INSTALLED_BINARY} ") == 1
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(f"ExecStart={INSTALLED_BINARY} ", f"ExecStart={local_binary} "))
    changed = [
        (a, b)
        for a, b in zip(text.splitlines(), copy.read_text().splitlines(), strict=True)
        if a != b
    ]
    assert len(changed) == 1 and changed[0][0].startswith("ExecStart=")
    return copy


def test_verify_is_silent(tmp_path: Path) -> None:
    result = subprocess.run(
        [_analyze(), "verify", str(_testable_copy(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == ""


def test_verify_would_catch_a_mistake(tmp_path: Path) -> None:
    """The check above is not vacuous: an unknown key is reported on stderr (exit code 0)."""
    copy = _testable_copy(tmp_path)
    copy.write_text(copy.read_text().replace("WatchdogSec=60", "WatchdogSecs=60"))
    result = subprocess.run(
        [_analyze(), "verify", str(copy)], capture_output=True, text=True, check=False, timeout=60
    )
    assert "WatchdogSecs" in result.stderr


def test_hardening_exposure_is_ok(tmp_path: Path) -> None:
    result = subprocess.run(
        [_analyze(), "security", "--offline=yes", "--no-pager", str(_testable_copy(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for reconciler.service: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


def test_the_unit_says_what_the_daemon_relies_on() -> None:
    settings = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, value)
    assert settings["Type"] == "notify"
    assert settings["WatchdogSec"] == "60"
    assert settings["Restart"] == "on-failure"
    assert settings["StateDirectory"] == "reconciler"
    assert settings["User"] == "reconciler"
    assert settings["ExecStart"].endswith("daemon --config /etc/reconciler/config.yaml")
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "MemoryDenyWriteExecute",
                "PrivateMounts", "PrivateUsers"):
        assert settings[key] == "yes", key
    assert settings["ProtectSystem"] == "strict"


NO_WX_PROBE = """
import importlib, pkgutil, sqlite3
import asyncssh, reconciler
for module in pkgutil.walk_packages(reconciler.__path__, "reconciler."):
    if not module.name.endswith("__main__"):
        importlib.import_module(module.name)
key = asyncssh.generate_private_key("ssh-ed25519")
key.sign(b"data", b"ssh-ed25519")
sqlite3.connect(":memory:").execute("select 1")
with open("/proc/self/maps") as maps:
    for line in maps:
        perms = line.split()[1]
        if "w" in perms and "x" in perms:
            print(line.strip())
"""


def test_the_daemons_libraries_need_no_writable_executable_memory() -> None:
    """MemoryDenyWriteExecute=yes refuses mappings that are writable and executable at once;
    after importing every reconciler module and using the SSH crypto, there is none."""
    result = subprocess.run(
        [sys.executable, "-c", NO_WX_PROBE],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
