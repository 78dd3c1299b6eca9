"""The validation benchmark's generator writes a valid repository of the requested size."""

from __future__ import annotations

from pathlib import Path

from bench import validate_bench
from reconciler.manifests import loader


def test_generated_repository_is_valid(tmp_path: Path) -> None:
    count = validate_bench.generate(tmp_path, 100)
    result = loader.load_repository(tmp_path)
    assert count == 100
    assert result.ok, [d.format() for d in result.errors[:3]]
    assert len(result.state) == 100
    assert len(result.state.deployments) == 2 * (100 // 9)
