"""The daemon's memory: one SQLite file in the state directory with the sync history, the applied
revision, the current conditions of every object and recent events.

The daemon loop is the one writer (opening with create=True, which also closes syncs a previous
daemon left unfinished); the HTTP server's threads and `reconciler status|history` (other
processes, create=False) read. WAL mode lets readers in other processes read while the daemon
writes; inside one process a lock serialises the (millisecond) statements on the one connection.

Nothing secret is stored here: errors, messages and events are written as the daemon formats them,
and the daemon must never put a Secret's value into them (logs.redact does the same for logs).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reconciler.state import conditions as cond
from reconciler.state import records, tables
from reconciler.state import rows as rowsmod

DB_FILENAME = "reconciler.db"
DEFAULT_STATE_DIR = Path("/var/lib/reconciler")
SCHEMA_VERSION = tables.SCHEMA_VERSION
KEEP_SYNCS = 1000  # history rows kept; older ones are deleted when a sync finishes
KEEP_EVENTS = 1000
BUSY_TIMEOUT_MS = 5000
INTERRUPTED = "interrupted: the daemon stopped before this sync finished"

class StoreError(Exception):
    """The state database cannot be opened or used; the message names the file."""


def default_state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """$RECONCILER_STATE_DIR, else systemd's $STATE_DIRECTORY (StateDirectory=), else
    /var/lib/reconciler."""
    explicit = environ.get("RECONCILER_STATE_DIR")
    if explicit:
        return Path(explicit)
    systemd = environ.get("STATE_DIRECTORY")
    if systemd:
        return Path(systemd.split(":")[0])
    return DEFAULT_STATE_DIR


def path_in(state_dir: Path) -> Path:
    return state_dir / DB_FILENAME


def _lock_writer(path: Path) -> int:
    """Hold an exclusive lock on `<db>.lock` while writing: a second daemon (or a manual
    `reconciler daemon` next to the service) on the same state directory is refused, so one
    writer it is, and closing the syncs an earlier writer left unfinished is safe."""
    lock_path = path.with_name(path.name + ".lock")
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise StoreError(
            f"{path}: another reconciler daemon is using this state database "
            f"(it holds {lock_path.name})"
        ) from None
    return descriptor


class Store(records.RecordTables):
    """The state database at `path`. `create=False` opens an existing file for reading only
    (what the CLI does, so it never makes an empty database in a wrong place)."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._readonly = not create
        self._writer_lock: int | None = None
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._writer_lock = _lock_writer(path)
                self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            else:
                if not path.is_file():
                    raise StoreError(f"{path}: no state database (has the daemon run here?)")
                uri = f"{path.resolve().as_uri()}?mode=ro"
                self._db = sqlite3.connect(
                    uri, uri=True, check_same_thread=False, isolation_level=None
                )
        except sqlite3.Error as exc:
            self._release_writer()
            raise StoreError(f"{path}: cannot open the state database: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"{path}: cannot open the state directory: {exc}") from exc
        try:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if create:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._migrate()
                for table in tables.RECORD_TABLES:
                    self._db.execute(table)
                self._close_interrupted()
            else:
                self._check_version()
                self._give_sidecars_to_owner()
        except BaseException as exc:
            self.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"{path}: cannot open the state database: {exc}") from exc
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._release_writer()
        if self._readonly:
            self._give_sidecars_to_owner()

    def _release_writer(self) -> None:
        if self._writer_lock is not None:
            os.close(self._writer_lock)  # closing the descriptor releases the flock
            self._writer_lock = None

    def _give_sidecars_to_owner(self) -> None:
        """A reader running as root (`sudo reconciler status`) makes the WAL's -wal and -shm
        files when the daemon is not running; left owned by root, they would keep the daemon's
        own user from opening its database. Hand them to the database file's owner."""
        if os.geteuid() != 0:
            return
        for suffix in ("-wal", "-shm"):
            sidecar = self.path.with_name(self.path.name + suffix)
            try:
                owner, info = self.path.stat(), sidecar.stat()
                if (info.st_uid, info.st_gid) != (owner.st_uid, owner.st_gid):
                    os.chown(sidecar, owner.st_uid, owner.st_gid)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreError(f"{self.path}: cannot give {sidecar.name} back: {exc}") from exc

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema -------------------------------------------------------------------------------

    def _version(self) -> int:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        return version

    def _check_version(self) -> None:
        version = self._version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {version} was written by a newer reconciler "
                f"(this one knows {SCHEMA_VERSION}); upgrade this reconciler"
            )
        if version < SCHEMA_VERSION and self._readonly:
            raise StoreError(
                f"{self.path}: schema version {version} is older than {SCHEMA_VERSION}; "
                "start the daemon once to upgrade it"
            )

    def _migrate(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._check_version()
                for version in range(self._version(), SCHEMA_VERSION):
                    for statement in tables.MIGRATIONS[version].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {version + 1}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _close_interrupted(self) -> None:
        """Syncs a previous daemon began and never finished (killed, crashed, host rebooted)
        would show as running forever: the one writer opening the file marks them Failed."""
        with self._write() as db:
            db.execute(
                "UPDATE syncs SET result = ?, errors = ? WHERE result IS NULL",
                (cond.SyncResult.FAILED.value, json.dumps([INTERRUPTED])),
            )

    # --- plumbing -----------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock; sqlite errors become StoreError."""
        if self._readonly:
            raise StoreError(f"{self.path}: opened read-only")
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc

    def _read_optional(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self._read(sql)
        except StoreError as exc:
            if "no such table" in str(exc):
                return []
            raise

    # --- syncs --------------------------------------------------------------------------------

    def begin_sync(self, revision: str, trigger: str) -> int:
        """Record that a reconcile of `revision` started now; its id for finish_sync."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO syncs (revision, trigger, started) VALUES (?, ?, ?)",
                (revision, str(trigger), time.time()),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def finish_sync(
        self,
        sync_id: int,
        result: cond.SyncResult,
        counts: Mapping[str, int],
        errors: Sequence[str],
        duration: float,
        *,
        applied: str | None = None,
    ) -> None:
        """Record how a reconcile ended: counts by action (created, replaced, ...), one-line
        errors (already formatted with file:line, never holding a secret value), seconds; and,
        in the same transaction, `applied` as the revision now running (a reader never sees a
        new applied revision next to a last finished sync that is not the one that applied it)."""
        with self._write() as db:
            if applied is not None:
                _set_applied(db, applied)
            updated = db.execute(
                "UPDATE syncs SET result = ?, counts = ?, errors = ?, duration = ? WHERE id = ?",
                (
                    cond.SyncResult(result).value,
                    json.dumps({str(k): int(v) for k, v in counts.items()}),
                    json.dumps([str(e) for e in errors]),
                    float(duration),
                    sync_id,
                ),
            ).rowcount
            if updated != 1:
                raise StoreError(f"{self.path}: no sync with id {sync_id}")
            db.execute(
                "DELETE FROM syncs WHERE id <= (SELECT MAX(id) FROM syncs) - ?", (KEEP_SYNCS,)
            )

    def last_sync(self) -> cond.SyncRecord | None:
        """The most recent sync, finished or not."""
        found = self.history(1)
        return found[0] if found else None

    def last_finished_sync(self) -> cond.SyncRecord | None:
        rows = self._read(
            f"{rowsmod.SYNC_SELECT} WHERE result IS NOT NULL ORDER BY id DESC LIMIT 1"
        )
        return rowsmod.sync_of(rows[0]) if rows else None

    def history(self, limit: int = 20) -> list[cond.SyncRecord]:
        """The last `limit` syncs, newest first."""
        rows = self._read(f"{rowsmod.SYNC_SELECT} ORDER BY id DESC LIMIT ?", (max(0, limit),))
        return [rowsmod.sync_of(row) for row in rows]

    # --- applied revision ---------------------------------------------------------------------

    def set_applied_revision(self, sha: str) -> None:
        """The revision now running: set after a sync applied it (Succeeded or Partial), never
        for a revision that did not validate."""
        with self._write() as db:
            _set_applied(db, sha)

    def applied_revision(self) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = 'applied_revision'")
        return str(rows[0][0]) if rows else None

    def applied_at(self) -> float | None:
        rows = self._read("SELECT value FROM meta WHERE key = 'applied_at'")
        return float(rows[0][0]) if rows else None

    # --- conditions ---------------------------------------------------------------------------

    def set_conditions(self, conditions: Sequence[cond.Condition]) -> None:
        """Replace every condition with `conditions`. A condition whose object and status were
        already recorded keeps its earlier `since` (the last transition time); a new or changed
        one gets its own `since`, or now when that is 0."""
        now = time.time()
        with self._write() as db:
            before = {
                tuple(row[:4]): tuple(row)
                for row in db.execute(
                    "SELECT kind, namespace, name, type, status, reason, message, since "
                    "FROM conditions"
                )
            }
            rows = {}
            for c in conditions:
                previous = before.get(c.key)
                since = c.since or now
                if previous is not None and previous[4] == c.status.value:
                    since = previous[7]
                rows[c.key] = (*c.key, c.status.value, str(c.reason), c.message, since)
            # only the rows that changed are written: a resync that changed nothing writes none
            gone = [key for key in before if key not in rows]
            changed = [row for key, row in rows.items() if before.get(key) != row]
            db.executemany(
                "DELETE FROM conditions WHERE kind = ? AND namespace = ? AND name = ? AND type = ?",
                gone,
            )
            db.executemany(
                "INSERT OR REPLACE INTO conditions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", changed
            )

    def conditions(self) -> list[cond.Condition]:
        """Every condition, ordered by kind, namespace, name, type."""
        rows = self._read(
            "SELECT kind, namespace, name, type, status, reason, message, since "
            "FROM conditions ORDER BY kind, namespace, name, type"
        )
        return [
            cond.Condition(k, ns, n, t, rowsmod.status(s), reason, message, since)
            for k, ns, n, t, s, reason, message, since in rows
        ]

    # --- events -------------------------------------------------------------------------------

    def record_event(self, kind: cond.EventKind, obj: str, reason: str, message: str) -> None:
        """Remember an event about `obj` (`Kind/namespace/name`); the oldest beyond
        KEEP_EVENTS are dropped."""
        with self._write() as db:
            db.execute(
                "INSERT INTO events (time, kind, object, reason, message) VALUES (?, ?, ?, ?, ?)",
                (time.time(), cond.EventKind(kind).value, obj, str(reason), message),
            )
            db.execute(
                "DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?", (KEEP_EVENTS,)
            )

    def events(self, limit: int = 50) -> list[cond.Event]:
        """The last `limit` events, newest first."""
        rows = self._read(
            "SELECT id, time, kind, object, reason, message FROM events ORDER BY id DESC LIMIT ?",
            (max(0, limit),),
        )
        return [
            cond.Event(i, t, rowsmod.event_kind(k), obj, reason, message)
            for i, t, k, obj, reason, message in rows
        ]


def _set_applied(db: sqlite3.Connection, sha: str) -> None:
    db.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (("applied_revision", sha), ("applied_at", repr(time.time()))),
    )
