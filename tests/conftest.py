"""Shared pytest fixtures: the session's test hosts (tests/harness) for end-to-end tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import lab as labmod

E2E_HOSTS = 3
AGE_KEY = Path(__file__).resolve().parent / "harness" / "age" / "demo.key"
"""The test-only age key of examples/repo's encrypted Secret: every command and test that loads
examples/repo (and every subprocess and daemon they start) decrypts it with this key."""
os.environ.setdefault("SOPS_AGE_KEY_FILE", str(AGE_KEY))
os.environ.setdefault("RECONCILER_DAEMON", "none")
"""`diff`/`get` read hosts directly in tests, whatever daemon listens on this machine's 9400
(tests of the daemon-backed mode set their own address: tests/cli/test_daemonclient.py)."""


@pytest.fixture(scope="session")
def lab() -> Iterator[labmod.Lab]:
    """Three real hosts (h1..h3): sshd + rootless Podman each, plus a registry with the image.

    Hosts already up before the session (a developer's lab) are reused and left up; hosts this
    session created are removed at its end (set KEEP_HOSTS=1 to keep them).
    """
    if os.geteuid() != 0:
        pytest.fail(
            "end-to-end tests need root to build test hosts: run them as root "
            "(or deselect them with -m 'not e2e')"
        )
    the_lab = labmod.Lab()
    existed = bool(the_lab.hosts())
    the_lab.up(E2E_HOSTS)
    yield the_lab
    if not existed and not os.environ.get("KEEP_HOSTS"):
        the_lab.down()
