"""FakeSource behaves like the git sources where the daemon can tell."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.source import errors, fake, git


def test_fake_source_follows_pushes_and_checks_out_exact_files(tmp_path: Path) -> None:
    source: git.Source = fake.FakeSource(tmp_path)
    assert isinstance(source, fake.FakeSource)
    with pytest.raises(errors.BranchNotFound):
        source.resolve()
    first = source.push({"a.yaml": "1", "apps/b.yaml": "b"}, "first")
    second = source.push({"a.yaml": "2"}, "second")
    assert source.resolve() == second != first
    assert (source.checkout(first) / "apps" / "b.yaml").read_text() == "b"
    assert not (source.checkout(second) / "apps").exists()
    assert source.describe(second).subject == "second"
    with pytest.raises(errors.RevisionNotFound):
        source.checkout("f" * 40)


def test_fake_source_raises_queued_errors_once(tmp_path: Path) -> None:
    source = fake.FakeSource(tmp_path)
    sha = source.push({})
    source.fail_next(errors.GitTimeout("fetch", 5.0))
    with pytest.raises(errors.GitTimeout) as caught:
        source.resolve()
    assert caught.value.transient
    assert source.resolve() == sha
    assert source.resolve_calls == 2
    assert source.checkout(sha).is_dir()
