"""Exporting one commit's exact tree into `<state_dir>/checkouts/<sha>/` for the manifest loader.

Sits between `git.py` (which knows the repository) and the loader (which reads the directory).
The tree is read object by object (`ls-tree` + `cat-file`), not through `git archive` or
`checkout-index`, so `.gitattributes` (export-ignore, export-subst, eol, filters) cannot alter it.
Each checkout is written into a temporary directory and renamed into place, so a directory under
`checkouts/` named by a commit is always complete; the least recently used ones are pruned.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reconciler.source import errors, gitrun

DEFAULT_KEEP = 5
STALE_TEMP_SECONDS = 600.0
"""Temporary directories older than this are leftovers of a crash and are removed when pruning."""

_MODES = {"100644": 0o644, "100755": 0o755, "120000": -1, "160000": -2}
_SYMLINK, _GITLINK = -1, -2


@dataclass(frozen=True)
class Entry:
    """One file of a commit's tree (from `git ls-tree -r`)."""

    mode: int
    """0o644 or 0o755 for a file; -1 for a symlink; -2 for a submodule (an empty directory)."""
    sha: str
    path: PurePosixPath


def list_tree(git_dir: Path, sha: str, timeout: float) -> list[Entry]:
    """Every blob, symlink and submodule of commit `sha`, with paths checked to stay inside."""
    out = gitrun.run(git_dir, ["ls-tree", "-r", "-z", "--full-tree", sha], timeout)
    entries = []
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, _kind, object_sha = meta.decode("ascii").split(" ")
        name = os.fsdecode(raw_path)
        path = PurePosixPath(name)
        if any(part in {"", ".", ".."} or part.lower() == ".git" for part in name.split("/")):
            raise errors.UnsafeRevision(sha, name, "is not a path git would check out")
        if mode not in _MODES:
            raise errors.UnsafeRevision(sha, name, f"has a file mode git does not know ({mode})")
        entries.append(Entry(_MODES[mode], object_sha, path))
    return entries


def write_tree(git_dir: Path, sha: str, entries: list[Entry], root: Path, timeout: float) -> None:
    """Write `entries` under the empty directory `root`: files first, then symlinks.

    Symlinks come last and files are opened with O_NOFOLLOW|O_EXCL, so nothing is ever written
    through a link; a link that resolves outside `root` refuses the whole commit.
    """
    links: list[tuple[Path, bytes]] = []
    with gitrun.CatFile(git_dir, timeout) as reader:
        for entry in entries:
            target = root.joinpath(*entry.path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            if entry.mode == _GITLINK:
                target.mkdir()  # an uninitialised submodule, as `git checkout` leaves it
            elif entry.mode == _SYMLINK:
                links.append((target, reader.read_into(entry.sha, None)))
            else:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                with os.fdopen(os.open(target, flags, entry.mode), "wb") as out:
                    reader.read_into(entry.sha, out)
    for target, link in links:
        os.symlink(os.fsdecode(link), target)
    # checked once all exist: a link may lead through links created after it
    real_root = root.resolve()
    for target, link in links:
        shown = target.relative_to(root).as_posix()
        try:
            inside = target.resolve().is_relative_to(real_root)
        except RuntimeError as exc:  # Python 3.11 reports a symlink loop this way
            raise errors.UnsafeRevision(sha, shown, "is part of a symlink loop") from exc
        if not inside:
            raise errors.UnsafeRevision(
                sha, shown, f"is a symlink to {os.fsdecode(link)!r}, outside the repository"
            )


class Checkouts:
    """The cache of exported trees in `<state_dir>/checkouts/`, keeping the `keep` newest.

    Thread-safe. "Newest" is by last use: a cache hit refreshes the directory's mtime, so the
    revision the daemon keeps running (and re-reads on every resync) is never the one pruned.
    """

    def __init__(self, state_dir: Path, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise errors.SourceConfigError(f"keep must be at least 1 checkout, got {keep}")
        self.directory = state_dir / "checkouts"
        self.keep = keep
        self._lock = threading.Lock()

    def get(self, git_dir: Path, sha: str, timeout: float) -> Path:
        """The directory holding commit `sha`'s tree, exported now unless already cached."""
        final = self.directory / sha
        with self._lock:
            try:
                if final.is_dir():
                    os.utime(final)
                else:
                    self._export(git_dir, sha, final, timeout)
                self._prune(keep_also=final)
            except OSError as exc:
                raise errors.CheckoutFailed(self.directory, _describe(exc)) from exc
        return final

    def _export(self, git_dir: Path, sha: str, final: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        entries = list_tree(git_dir, sha, timeout)
        self.directory.mkdir(parents=True, exist_ok=True)
        # mkdtemp makes it 0700: only the daemon's user reads checkouts (they may hold Secrets)
        temp = Path(tempfile.mkdtemp(prefix=f".tmp-{sha[:12]}-", dir=self.directory))
        try:
            write_tree(git_dir, sha, entries, temp, max(deadline - time.monotonic(), 0.1))
            os.rename(temp, final)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise

    def cached(self) -> list[str]:
        """The commits with a complete checkout, most recently used first."""
        with contextlib.suppress(FileNotFoundError):
            dirs = [p for p in self.directory.iterdir() if gitrun.SHA_RE.match(p.name)]
            dirs.sort(key=_mtime, reverse=True)
            return [p.name for p in dirs]
        return []

    def _prune(self, keep_also: Path) -> None:
        names = self.cached()
        for name in names[self.keep :]:
            if name != keep_also.name:
                _remove(self.directory / name)
        now = time.time()
        for path in self.directory.glob(".tmp-*"):
            if now - _mtime(path) > STALE_TEMP_SECONDS:
                _remove(path)


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except FileNotFoundError:
        return 0.0


def _remove(path: Path) -> None:
    """Remove a checkout or a leftover; git trees have no directory modes, so ours are writable."""
    shutil.rmtree(path, ignore_errors=True)


def _describe(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"
