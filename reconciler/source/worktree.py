"""The revision of a work tree on this machine, for the CLI's `apply` and `diff` (the daemon's
revisions come from a `git.Source` instead). It names the plan and the status records:
a short commit id, `-dirty` when the tree differs from it, or "unversioned" outside git.
"""

from __future__ import annotations

from pathlib import Path

UNVERSIONED = "unversioned"
"""The revision of a directory that is not inside a git repository."""


def revision_of(path: Path) -> str:
    """The git commit of the repository holding `path` (with `-dirty` when the work tree is
    modified or has untracked files), or "unversioned" for a plain directory."""
    import git  # noqa: PLC0415 (gitpython is slow to import; only needed here)

    try:
        repo = git.Repo(path, search_parent_directories=True)
        sha: str = repo.head.commit.hexsha[:12]
        return f"{sha}-dirty" if repo.is_dirty(untracked_files=True) else sha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return UNVERSIONED
