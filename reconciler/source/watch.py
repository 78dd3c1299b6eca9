"""What tells the daemon to look at the source again: a filesystem watch on a local repository's
refs (`RefWatcher`, a push is noticed at once) or a timer for remotes (`Poller`).

Both only say "look now" by calling `on_change()` from their own thread; the daemon then calls
`source.resolve()` and compares the sha (level-triggered), so a spurious call costs one lookup
and is harmless. `on_change` should be quick (enqueue work); an exception from it is logged.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from watchdog import events, observers

from reconciler.source import errors, git, gitrun

DEBOUNCE_SECONDS = 0.01
"""A push writes a lock file, renames it, maybe packs refs: one call for such a burst. Only the
rename into place counts for a loose ref, so the wait adds little: it is a push's latency."""

_LOG = logging.getLogger(__name__)

_WRITES: list[type[events.FileSystemEvent]] = [
    events.FileCreatedEvent,
    events.FileModifiedEvent,
    events.FileMovedEvent,
    events.FileDeletedEvent,
    events.FileClosedEvent,
    events.DirCreatedEvent,
    events.DirMovedEvent,
    events.DirDeletedEvent,
]
"""Events that can mean a ref changed. Opening or reading a ref (git reads them all the time,
the daemon's own `resolve()` included) must not count, or the daemon would wake itself up."""


class Trigger(Protocol):
    """Something that calls its `on_change` callback when the source may have a new revision."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _call(on_change: Callable[[], None], who: str) -> None:
    try:
        on_change()
    except Exception:  # a callback bug must not end the watch
        _LOG.exception("%s: on_change callback failed", who)


class RefWatcher:
    """Calls `on_change` promptly after the branch's ref changes in a repository on this machine.

    Watches (inotify, through watchdog) the loose ref `refs/heads/<branch>` (git writes
    `<branch>.lock` and renames it into place), `packed-refs`, `HEAD` and a `reftable/` directory
    if the repository uses one. Events within `debounce` seconds are merged into one call;
    an event arriving while `on_change` runs causes one more call afterwards, so the last change
    is never lost. Start the watcher before the first `resolve()` so no push slips between them.
    """

    def __init__(
        self,
        repo_path: Path,
        branch: str,
        on_change: Callable[[], None],
        debounce: float = DEBOUNCE_SECONDS,
    ) -> None:
        self.git_dir = gitrun.locate_git_dir(repo_path)
        self.branch = gitrun.check_branch(branch)
        self._on_change = on_change
        self._debounce = debounce
        heads = self.git_dir / "refs" / "heads"
        ref = heads.joinpath(*branch.split("/"))
        self._files = {
            os.fsencode(path) for path in (ref, self.git_dir / "packed-refs", self.git_dir / "HEAD")
        }
        # directories of a branch like deploy/prod: git may create or remove refs/heads/deploy
        self._dirs = {
            os.fsencode(parent)
            for parent in ref.parents
            if parent != heads and parent.is_relative_to(heads)
        }
        self._reftable = os.fsencode(self.git_dir / "reftable") + b"/"
        self._pending = threading.Event()
        self._stopping = threading.Event()
        self._observer: observers.api.BaseObserver | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching; `WatchFailed` if the watch cannot be set up (e.g. inotify limits)."""
        if self._observer is not None:
            return
        handler = _Handler(self._is_relevant, self._pending.set)
        observer = observers.Observer()
        try:
            observer.schedule(handler, str(self.git_dir), event_filter=_WRITES)
            heads = self.git_dir / "refs" / "heads"
            if heads.is_dir():
                observer.schedule(handler, str(heads), recursive=True, event_filter=_WRITES)
            if (self.git_dir / "reftable").is_dir():
                observer.schedule(handler, str(self.git_dir / "reftable"), event_filter=_WRITES)
            observer.start()
        except OSError as exc:
            observer.stop()
            raise errors.WatchFailed(self.git_dir, exc.strerror or str(exc)) from exc
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._deliver, name=f"refwatch-{self.branch}", daemon=True
        )
        self._thread.start()
        self._observer = observer

    def stop(self) -> None:
        """Stop watching and wait for the delivery thread (and a running `on_change`) to end."""
        observer, thread = self._observer, self._thread
        self._observer = self._thread = None
        self._stopping.set()
        self._pending.set()  # wake the delivery thread
        if observer is not None:
            observer.stop()
            observer.join()
        if thread is not None:
            thread.join()
        self._pending.clear()

    def _is_relevant(self, path: bytes, is_directory: bool) -> bool:
        if is_directory:
            return path in self._dirs
        return path in self._files or path.startswith(self._reftable)

    def _deliver(self) -> None:
        while True:
            self._pending.wait()
            if self._stopping.wait(self._debounce):  # gather the rest of the burst
                return
            self._pending.clear()  # before the call: a change during it triggers one more
            _call(self._on_change, f"watch of {self.git_dir} ({self.branch})")

    def __enter__(self) -> RefWatcher:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Handler(events.FileSystemEventHandler):
    def __init__(self, relevant: Callable[[bytes, bool], bool], notify: Callable[[], None]):
        self._relevant = relevant
        self._notify = notify

    def on_any_event(self, event: events.FileSystemEvent) -> None:
        paths = [event.src_path, getattr(event, "dest_path", "")]
        for path in paths:
            if path and self._relevant(os.fsencode(path), event.is_directory):
                self._notify()
                return


class Poller:
    """Calls `on_change` every `interval` seconds (a remote cannot tell us when it changes).

    The first call comes one interval after `start()`. `stop()` returns at once unless a call is
    in progress, which it waits for.
    """

    def __init__(self, interval: float, on_change: Callable[[], None]) -> None:
        if interval <= 0:
            raise errors.SourceConfigError(f"the poll interval must be positive, got {interval:g}")
        self.interval = interval
        self._on_change = on_change
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._stopping.set()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            _call(self._on_change, f"poll every {self.interval:g} s")

    def __enter__(self) -> Poller:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def trigger_for(
    source: git.LocalRepoSource | git.RemoteSource,
    on_change: Callable[[], None],
    poll_interval: float,
) -> Trigger:
    """The natural trigger for a source: a `RefWatcher` on a local repository, else a `Poller`."""
    if isinstance(source, git.LocalRepoSource):
        return RefWatcher(source.path, source.branch, on_change)
    return Poller(poll_interval, on_change)
