"""`FakeSource`: the in-memory twin of the git sources, for daemon and controller tests.

Revisions are dicts of file contents "pushed" by the test; `checkout` writes them under
`<state_dir>/checkouts/<sha>/` like the real sources do. Errors can be queued to test the
daemon's retry and keep-last-good paths without git or a network.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.source import errors, git


class FakeSource:
    """A `git.Source` whose branch moves when the test calls `push(files)`."""

    def __init__(self, state_dir: Path, branch: str = "main") -> None:
        self.state_dir = state_dir
        self.branch = branch
        self.resolve_calls = 0
        self._lock = threading.Lock()
        self._trees: dict[str, dict[str, str]] = {}
        self._info: dict[str, git.RevisionInfo] = {}
        self._head: str | None = None
        self._failures: list[errors.SourceError] = []

    def push(self, files: Mapping[str, str], subject: str = "change") -> str:
        """Make a new revision with exactly `files` (path ▶ text) and move the branch to it."""
        with self._lock:
            seed = f"{self._head}\0{subject}\0{sorted(files.items())}\0{len(self._trees)}"
            sha = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()
            self._trees[sha] = dict(files)
            when = datetime.now(UTC).replace(microsecond=0)
            self._info[sha] = git.RevisionInfo(
                sha, sha[:7], "Test <test@example.org>", subject, when
            )
            self._head = sha
            return sha

    def fail_next(self, error: errors.SourceError) -> None:
        """Make the next `resolve()` raise `error` (queued in order)."""
        with self._lock:
            self._failures.append(error)

    def resolve(self) -> str:
        with self._lock:
            self.resolve_calls += 1
            if self._failures:
                raise self._failures.pop(0)
            if self._head is None:
                raise errors.BranchNotFound("the fake source", self.branch)
            return self._head

    def checkout(self, sha: str) -> Path:
        with self._lock:
            if sha not in self._trees:
                raise errors.RevisionNotFound("the fake source", sha)
            root = self.state_dir / "checkouts" / sha
            if not root.is_dir():
                for name, text in self._trees[sha].items():
                    path = root / name
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(text, encoding="utf-8")
                root.mkdir(parents=True, exist_ok=True)  # an empty revision
            return root

    def describe(self, sha: str) -> git.RevisionInfo:
        with self._lock:
            if sha not in self._info:
                raise errors.RevisionNotFound("the fake source", sha)
            return self._info[sha]


if TYPE_CHECKING:  # mypy checks that each implementation satisfies the protocol
    _SOURCES: tuple[type[git.Source], ...] = (FakeSource, git.LocalRepoSource, git.RemoteSource)
