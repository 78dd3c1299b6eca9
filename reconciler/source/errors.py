"""The source's exception tree: why no revision (or no checkout of one) could be had, what to do.

Outside exceptions (OSError, subprocess, watchdog) are translated into these once, where git runs
(`gitrun`) or files are written (`export`). Each is a `model.errors.TransientError` (also
`error.transient`: retry with backoff: a timeout, a remote that did not answer) or a
`StalledError` (nothing changes until someone fixes the repository or the configuration: a
missing branch, an unsafe tree).
"""

from __future__ import annotations

from pathlib import Path

from reconciler.model import errors


class SourceError(errors.ReconcilerError):
    """Base of every error the source raises."""

    transient: bool = False
    """True when the same call may well succeed later without anyone changing anything."""


class SourceConfigError(SourceError, errors.StalledError):
    """The source itself is misconfigured (a branch name git refuses, a missing key file)."""


class RepositoryNotFound(SourceError, errors.StalledError):  # noqa: N818 (the architecture's vocabulary)
    """The configured path is not a git repository."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path} is not a git repository (no HEAD, objects/ and refs/ in it or in its .git); "
            f"create it with `git init --bare {path}` or correct the repository setting."
        )
        self.path = path


class BranchNotFound(SourceError, errors.StalledError):  # noqa: N818 (the architecture's vocabulary)
    """The branch does not exist (yet): nothing was ever pushed to it, or it was deleted."""

    def __init__(self, where: str, branch: str) -> None:
        super().__init__(
            f"branch {branch!r} does not exist in {where}; push it (`git push <remote> "
            f"HEAD:{branch}`) or correct the branch setting. The last good revision keeps running."
        )
        self.where = where
        self.branch = branch


class RevisionNotFound(SourceError, errors.StalledError):  # noqa: N818 (the architecture's vocabulary)
    """A commit asked for is not in the repository (never fetched, or garbage-collected)."""

    def __init__(self, where: str, sha: str) -> None:
        super().__init__(
            f"commit {sha} is not in {where}; only revisions returned by resolve() can be "
            "checked out (was the branch force-pushed and the old commit collected?)"
        )
        self.where = where
        self.sha = sha


class UnsafeRevision(SourceError, errors.StalledError):  # noqa: N818 (the architecture's vocabulary)
    """The commit's tree holds something a checkout must not contain (a path leaving the tree)."""

    def __init__(self, sha: str, path: str, why: str) -> None:
        super().__init__(
            f"commit {sha[:12]} is refused: {path!r} {why}. Remove or fix it in a new commit; "
            "the last good revision keeps running."
        )
        self.sha = sha
        self.path = path


class GitFailed(SourceError, errors.StalledError):  # noqa: N818 (the architecture's vocabulary)
    """A git command failed for a reason not classified more precisely; its stderr is included."""

    def __init__(self, operation: str, detail: str) -> None:
        super().__init__(f"git {operation} failed: {detail}")
        self.operation = operation
        self.detail = detail


class RemoteRefused(SourceError, errors.StalledError):  # noqa: N818 (the architecture's vocabulary)
    """The remote answered but refused us: unknown host key, login refused, no such repository.

    Not transient: retrying changes nothing until the key, known_hosts or URL is fixed.
    """

    def __init__(self, url: str, detail: str, hint: str) -> None:
        super().__init__(f"fetching {url} was refused ({detail}); {hint}")
        self.url = url
        self.detail = detail


# ----- transient: retried with backoff ---------------------------------------------------------


class TransientSourceError(SourceError, errors.TransientError):
    """A failure that may pass by itself; the daemon retries with backoff."""

    transient = True


class GitTimeout(TransientSourceError):  # noqa: N818 (the architecture's vocabulary)
    """A git command did not finish within the timeout and was killed (with its children)."""

    def __init__(self, operation: str, timeout: float) -> None:
        super().__init__(
            f"git {operation} did not finish within {timeout:g} s and was stopped; check that "
            "the remote is reachable, or raise git_timeout for a large repository."
        )
        self.operation = operation
        self.timeout = timeout


class FetchFailed(TransientSourceError):  # noqa: N818 (the architecture's vocabulary)
    """A fetch from the remote failed (network down, remote unavailable); retried later."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(
            f"fetching {url} failed: {detail}; check the network and that the remote is up. "
            "The last good revision keeps running; the fetch is retried."
        )
        self.url = url
        self.detail = detail


class CheckoutFailed(TransientSourceError):  # noqa: N818 (the architecture's vocabulary)
    """The checkout could not be written into the state directory (disk full, permissions)."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            f"cannot write the checkout under {path}: {detail}; check free space and that the "
            "daemon's user owns the state directory."
        )
        self.path = path


class WatchFailed(TransientSourceError):  # noqa: N818 (the architecture's vocabulary)
    """The filesystem watch on the repository's refs could not be set up."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            f"cannot watch {path} for pushes: {detail}; if the inotify watch limit is reached, "
            "raise fs.inotify.max_user_watches. Until then, pushes are noticed at the next resync."
        )
        self.path = path


class SignatureInvalid(SourceError, errors.StalledError):  # noqa: N818 (the architecture's vocabulary)
    """A revision's head commit is unsigned, signed by a key not allowed, or badly signed.

    Refused like an invalid revision (never applied, never pruned) until a commit signed by an
    allowed key is pushed. The message starts with `SignatureInvalid:` and names the commit and
    the signer (or `signer: none`), so status, history and logs carry both.
    """

    def __init__(self, sha: str, signer: str, why: str, hint: str) -> None:
        super().__init__(f"SignatureInvalid: commit {sha} {why} (signer: {signer}); {hint}")
        self.sha = sha
        self.signer = signer
