"""Where the daemon gets revisions of the desired state: the `Source` protocol and its git sources.

First step of a reconcile: `sha = source.resolve()` (fetching first for a remote), then
`path = source.checkout(sha)` hands the exact tree to the manifest loader and `describe(sha)`
feeds status. `LocalRepoSource` reads a repository on this machine that users push to (pushes
are noticed by `watch.RefWatcher`); `RemoteSource` keeps a bare mirror of a URL (`watch.Poller`,
webhooks). `fake.FakeSource` is the in-memory twin for daemon tests.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from reconciler.source import errors, export, gitrun


@dataclass(frozen=True)
class RevisionInfo:
    """What status and logs say about a revision."""

    sha: str
    short: str
    author: str
    """`Name <email>`"""
    subject: str
    committed_at: datetime
    """Committer date, timezone-aware."""


class Source(Protocol):
    """A place revisions of the desired state come from. Every call may raise `SourceError`."""

    def resolve(self) -> str:
        """The commit the branch points at now (a remote is fetched first, within the timeout)."""
        ...

    def checkout(self, sha: str) -> Path:
        """A directory holding exactly commit `sha`'s tree; cached, never modified afterwards."""
        ...

    def describe(self, sha: str) -> RevisionInfo:
        """Author, subject and date of commit `sha`."""
        ...


_LOG_FORMAT = "%H%x00%h%x00%an <%ae>%x00%cI%x00%s"


class _GitRepository:
    """What both git sources share: reading commits of one repository and exporting trees."""

    def __init__(self, git_dir: Path, branch: str, checkouts: export.Checkouts, timeout: float):
        if timeout <= 0:
            raise errors.SourceConfigError(f"the git timeout must be positive, got {timeout:g}")
        self.git_dir = git_dir
        self.branch = gitrun.check_branch(branch)
        self.timeout = timeout
        self._checkouts = checkouts

    def _where(self) -> str:
        return str(self.git_dir)

    def _branch_head(self) -> str:
        ref = f"refs/heads/{self.branch}^{{commit}}"
        out = gitrun.try_run(self.git_dir, ["rev-parse", "--verify", "--quiet", ref], self.timeout)
        if out is None:
            raise errors.BranchNotFound(self._where(), self.branch)
        return out.decode("ascii").strip()

    def _require_commit(self, sha: str) -> None:
        gitrun.check_sha(sha)
        kind = gitrun.try_run(self.git_dir, ["cat-file", "-t", sha], self.timeout)
        if kind is None or kind.strip() != b"commit":
            raise errors.RevisionNotFound(self._where(), sha)

    def checkout(self, sha: str) -> Path:
        self._require_commit(sha)
        return self._checkouts.get(self.git_dir, sha, self.timeout)

    def describe(self, sha: str) -> RevisionInfo:
        self._require_commit(sha)
        out = gitrun.run(
            self.git_dir, ["show", "-s", "--no-show-signature", f"--format={_LOG_FORMAT}", sha],
            self.timeout,
        )  # fmt: skip
        full, short, author, date, subject = (
            out.decode("utf-8", errors="replace").rstrip("\n").split("\0", 4)
        )
        return RevisionInfo(full, short, author, subject, datetime.fromisoformat(date))


class LocalRepoSource(_GitRepository):
    """A bare (or non-bare) repository on this machine, read in place, never written to.

    `path` is the repository users push to (for instance over SSH as a `git` user); the daemon's
    user needs read access only. Explicitly naming the git dir means git's "dubious ownership"
    check does not apply, so the repository may belong to another user.
    """

    def __init__(
        self,
        path: Path,
        branch: str,
        state_dir: Path,
        timeout: float,
        *,
        keep_checkouts: int = export.DEFAULT_KEEP,
    ) -> None:
        checkouts = export.Checkouts(state_dir, keep_checkouts)
        super().__init__(gitrun.locate_git_dir(path), branch, checkouts, timeout)
        self.path = path

    def resolve(self) -> str:
        return self._branch_head()

    def __repr__(self) -> str:
        return f"LocalRepoSource({str(self.path)!r}, branch={self.branch!r})"


class RemoteSource(_GitRepository):
    """A remote repository mirrored into `<state_dir>/mirrors/<hash of url>.git` and fetched.

    Only the configured branch is fetched. SSH always verifies host keys: against `known_hosts`
    when given (and only that file), else against the user's own known_hosts; there is no way
    to turn that off. Fetches are serialized; each one is bounded by `timeout`.
    """

    def __init__(
        self,
        url: str,
        branch: str,
        state_dir: Path,
        timeout: float,
        *,
        ssh_key: Path | None = None,
        known_hosts: Path | None = None,
        keep_checkouts: int = export.DEFAULT_KEEP,
    ) -> None:
        if not url or url.startswith("-"):
            raise errors.SourceConfigError(
                f"repository URL {url!r} is not usable; give an ssh://, https://, git:// or "
                "file:// URL, or user@host:path"
            )
        for what, file in (("ssh_key", ssh_key), ("known_hosts", known_hosts)):
            if file is not None and not file.is_file():
                raise errors.SourceConfigError(
                    f"{what} file {file} does not exist; create it or correct the {what} setting"
                )
        digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
        mirror = state_dir / "mirrors" / f"{digest}.git"
        super().__init__(mirror, branch, export.Checkouts(state_dir, keep_checkouts), timeout)
        self.url = url
        self._mux = Path(tempfile.mkdtemp(prefix="rc-git-"))  # 0700: the shared connection
        weakref.finalize(self, shutil.rmtree, self._mux, True)
        self._env = gitrun.environment(gitrun.ssh_command(ssh_key, known_hosts, self._mux))
        self._fetch_lock = threading.Lock()

    def _where(self) -> str:
        return self.url

    def _ensure_mirror(self) -> None:
        if (self.git_dir / "HEAD").is_file():
            return
        try:
            self.git_dir.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise errors.CheckoutFailed(self.git_dir.parent, str(exc.strerror)) from exc
        gitrun.run(None, ["init", "--quiet", "--bare", str(self.git_dir)], self.timeout)

    def fetch(self) -> None:
        """Bring the mirror's branch up to date (forced: the remote's history may be rewritten)."""
        ref = f"refs/heads/{self.branch}"
        with self._fetch_lock:
            self._ensure_mirror()
            args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head"]
            args += ["--", self.url, f"+{ref}:{ref}"]
            try:
                gitrun.run(self.git_dir, args, self.timeout, env=self._env)
            except errors.GitFailed as exc:
                raise _classify_fetch_error(self.url, self.branch, exc.detail) from exc

    def resolve(self) -> str:
        self.fetch()
        return self._branch_head()

    def __repr__(self) -> str:
        return f"RemoteSource({self.url!r}, branch={self.branch!r})"


def _classify_fetch_error(url: str, branch: str, detail: str) -> errors.SourceError:
    """Turn git's stderr into the error class that decides whether retrying can help."""
    lowered = detail.lower()
    if "couldn't find remote ref" in lowered:
        return errors.BranchNotFound(url, branch)
    if "host key verification failed" in lowered:
        return errors.RemoteRefused(
            url, "the server's SSH host key is not in known_hosts",
            "verify the server's key out of band and add it to the known_hosts file "
            "(ssh-keyscan HOST >> known_hosts, then compare fingerprints)",
        )  # fmt: skip
    if "permission denied" in lowered or "authentication failed" in lowered:
        return errors.RemoteRefused(
            url, "login refused",
            "add the daemon's public key as a deploy key of the repository, or fix the ssh_key "
            "setting",
        )  # fmt: skip
    if (
        "repository not found" in lowered
        or "does not appear to be a git repository" in lowered
        or "not found" in lowered.split("\n")[-1]
    ):
        return errors.RemoteRefused(
            url, detail, "check the repository URL and that the daemon's key may read it"
        )
    if "transport" in lowered and "not allowed" in lowered:
        return errors.RemoteRefused(
            url, detail, f"use one of the transports {gitrun.ALLOWED_PROTOCOLS.replace(':', ', ')}"
        )
    return errors.FetchFailed(url, detail)


def make_source(
    repository: str,
    branch: str,
    state_dir: Path,
    timeout: float,
    *,
    ssh_key: Path | None = None,
    known_hosts: Path | None = None,
) -> LocalRepoSource | RemoteSource:
    """A `RemoteSource` for a URL (`scheme://...` or `user@host:path`), else a `LocalRepoSource`
    for the path (the same rule as the daemon config's `is_remote`)."""
    if "://" in repository or (":" in repository and not repository.startswith("/")):
        return RemoteSource(
            repository, branch, state_dir, timeout, ssh_key=ssh_key, known_hosts=known_hosts
        )
    return LocalRepoSource(Path(repository), branch, state_dir, timeout)
