"""Fixtures for the state store's tests: a fresh store in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.state import store as storemod


@pytest.fixture
def store(tmp_path: Path) -> Iterator[storemod.Store]:
    with storemod.Store(storemod.path_in(tmp_path / "state")) as the_store:
        yield the_store
