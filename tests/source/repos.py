"""Real git repositories for source tests: a bare repository and a work clone that pushes to it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_AUTHOR_NAME": "Ada Lovelace",
    "GIT_AUTHOR_EMAIL": "ada@example.org",
    "GIT_COMMITTER_NAME": "Ada Lovelace",
    "GIT_COMMITTER_EMAIL": "ada@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.strip()


class Upstream:
    """`bare` is what users push to; `work` is a clone where commits are made."""

    def __init__(self, root: Path, branch: str = "main") -> None:
        self.bare = root / "upstream.git"
        self.work = root / "work"
        self.branch = branch
        git(root, "init", "--quiet", "--bare", "--initial-branch", branch, str(self.bare))
        git(root, "init", "--quiet", "--initial-branch", branch, str(self.work))
        git(self.work, "remote", "add", "origin", str(self.bare))

    def commit(self, files: dict[str, str | None], message: str = "change") -> str:
        """Write (or, for None, delete) files in the work clone and commit them."""
        for name, content in files.items():
            path = self.work / name
            if content is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
        git(self.work, "add", "--all")
        git(self.work, "commit", "--quiet", "-m", message)
        return git(self.work, "rev-parse", "HEAD")

    def push(self, branch: str | None = None, *extra: str) -> None:
        git(
            self.work,
            "push",
            "--quiet",
            *extra,
            "origin",
            f"HEAD:refs/heads/{branch or self.branch}",
        )
