"""The revision the CLI names a work tree by: a short commit id, `-dirty` for modified or
untracked files, found from a subdirectory, and "unversioned" outside any repository."""

from __future__ import annotations

from pathlib import Path

from reconciler.source import worktree
from tests.source import repos


def test_a_clean_tree_is_its_short_commit(tmp_path: Path) -> None:
    upstream = repos.Upstream(tmp_path)
    sha = upstream.commit({"app/web.yaml": "kind: Pod\n"})
    assert worktree.revision_of(upstream.work) == sha[:12]
    assert worktree.revision_of(upstream.work / "app") == sha[:12]


def test_modified_and_untracked_files_make_it_dirty(tmp_path: Path) -> None:
    upstream = repos.Upstream(tmp_path)
    sha = upstream.commit({"web.yaml": "kind: Pod\n"})
    (upstream.work / "web.yaml").write_text("kind: Deployment\n")
    assert worktree.revision_of(upstream.work) == f"{sha[:12]}-dirty"
    repos.git(upstream.work, "checkout", "--quiet", "--", "web.yaml")
    (upstream.work / "new.yaml").write_text("kind: Pod\n")
    assert worktree.revision_of(upstream.work) == f"{sha[:12]}-dirty"


def test_outside_git_and_before_any_commit(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert worktree.revision_of(plain) == worktree.UNVERSIONED
    assert worktree.revision_of(tmp_path / "missing") == worktree.UNVERSIONED
    (tmp_path / "empty").mkdir()
    upstream = repos.Upstream(tmp_path / "empty")
    assert worktree.revision_of(upstream.work) == worktree.UNVERSIONED  # no commit yet
