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

DB_FILENAME = "reconciler.db"
DEFAULT_STATE_DIR = Path("/var/lib/reconciler")
SCHEMA_VERSION = 2
KEEP_SYNCS = 1000  # history rows kept; older ones are deleted when a sync finishes
KEEP_EVENTS = 1000
BUSY_TIMEOUT_MS = 5000
INTERRUPTED = "interrupted: the daemon stopped before this sync finished"

_MIGRATIONS: tuple[str, ...] = (
    # version 0 -> 1
    """
    CREATE TABLE syncs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        revision TEXT NOT NULL,
        trigger TEXT NOT NULL,
        started REAL NOT NULL,
        duration REAL,
        result TEXT,
        counts TEXT NOT NULL DEFAULT '{}',
        errors TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE conditions (
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL,
        message TEXT NOT NULL,
        since REAL NOT NULL,
        PRIMARY KEY (kind, namespace, name, type)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time REAL NOT NULL,
        kind TEXT NOT NULL,
        object TEXT NOT NULL,
        reason TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # version 1 -> 2: rollout history (one row per template a Deployment ran) and rollbacks
    """
    CREATE TABLE rollouts (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        template_hash TEXT NOT NULL,
        revision TEXT NOT NULL,
        started REAL NOT NULL,
        completed REAL,
        failed REAL,
        PRIMARY KEY (namespace, name, template_hash)
    );
    CREATE TABLE rollbacks (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        failing_hash TEXT NOT NULL,
        target_hash TEXT NOT NULL,
        target_revision TEXT NOT NULL,
        since REAL NOT NULL,
        PRIMARY KEY (namespace, name)
    );
    """,
)
assert len(_MIGRATIONS) == SCHEMA_VERSION

_RESTARTS_TABLE = """
    CREATE TABLE IF NOT EXISTS restarts (
        namespace TEXT NOT NULL,
        pod TEXT NOT NULL,
        container TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (namespace, pod, container)
    )
"""
"""The pod lifecycle's restart records (counts, back-off), one JSON object per container; made
when missing, so a database of any schema version gains it without a migration step."""

_HOST_CONDITIONS_TABLE = """
    CREATE TABLE IF NOT EXISTS host_conditions (
        host TEXT PRIMARY KEY,
        record TEXT NOT NULL
    )
"""
"""Each host's health condition (controllers.hosthealth), one JSON object per host; made when
missing, as `restarts` is."""

_AUTOSCALERS_TABLE = """
    CREATE TABLE IF NOT EXISTS autoscalers (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (namespace, name)
    )
"""
"""Each HorizontalPodAutoscaler's replica count and last decisions (controllers.autoscale), one
JSON object per HPA; made when missing, as `restarts` is."""

_JOBS_TABLE = """
    CREATE TABLE IF NOT EXISTS jobs (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (namespace, name)
    )
"""
"""Each Job's record (controllers.jobs.Record: its pods that succeeded or failed, how it ended),
one JSON object per Job, so a finished Job never runs again; made when missing, as `restarts`."""

_CRON_JOBS_TABLE = """
    CREATE TABLE IF NOT EXISTS cron_jobs (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (namespace, name)
    )
"""
"""Each CronJob's record (controllers.cronrun.Record: its last schedule and its Jobs); made when
missing, as `restarts`."""


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


class Store:
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
                self._db.execute(_RESTARTS_TABLE)
                self._db.execute(_HOST_CONDITIONS_TABLE)
                self._db.execute(_AUTOSCALERS_TABLE)
                self._db.execute(_JOBS_TABLE)
                self._db.execute(_CRON_JOBS_TABLE)
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
                    for statement in _MIGRATIONS[version].split(";"):
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
    ) -> None:
        """Record how a reconcile ended: counts by action (created, replaced, ...), one-line
        errors (already formatted with file:line, never holding a secret value), seconds."""
        with self._write() as db:
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
        rows = self._read(f"{_SYNC_SELECT} WHERE result IS NOT NULL ORDER BY id DESC LIMIT 1")
        return _sync_of(rows[0]) if rows else None

    def history(self, limit: int = 20) -> list[cond.SyncRecord]:
        """The last `limit` syncs, newest first."""
        rows = self._read(f"{_SYNC_SELECT} ORDER BY id DESC LIMIT ?", (max(0, limit),))
        return [_sync_of(row) for row in rows]

    # --- applied revision ---------------------------------------------------------------------

    def set_applied_revision(self, sha: str) -> None:
        """The revision now running: set after a sync applied it (Succeeded or Partial), never
        for a revision that did not validate."""
        with self._write() as db:
            db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (("applied_revision", sha), ("applied_at", repr(time.time()))),
            )

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
            cond.Condition(k, ns, n, t, _status(s), reason, message, since)
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
            cond.Event(i, t, _event_kind(k), obj, reason, message)
            for i, t, k, obj, reason, message in rows
        ]

    # --- restart records (controllers.lifecycle) ----------------------------------------------

    def restart_records(self) -> list[dict[str, Any]]:
        """Every container's restart record as the lifecycle controller saved it ([] from a
        database that has none yet)."""
        try:
            rows = self._read("SELECT record FROM restarts ORDER BY namespace, pod, container")
        except StoreError as exc:
            if "no such table" in str(exc):
                return []
            raise
        found = [json.loads(row[0]) for row in rows]
        return [r for r in found if isinstance(r, dict)]

    def save_restart_records(
        self, records: Sequence[Mapping[str, Any]], forget: Sequence[tuple[str, str, str]]
    ) -> None:
        """Write (insert or replace) `records`, keyed by their namespace, pod and container,
        and delete the records of the containers in `forget`."""
        with self._write() as db:
            db.executemany(
                "DELETE FROM restarts WHERE namespace = ? AND pod = ? AND container = ?",
                [tuple(key) for key in forget],
            )
            db.executemany(
                "INSERT OR REPLACE INTO restarts VALUES (?, ?, ?, ?)",
                [
                    (str(r["namespace"]), str(r["pod"]), str(r["container"]), json.dumps(dict(r)))
                    for r in records
                ],
            )

    # --- host conditions (controllers.hosthealth) ---------------------------------------------

    def host_conditions(self) -> list[dict[str, Any]]:
        """Every host's health condition as saved ([] from a database that has none yet)."""
        try:
            rows = self._read("SELECT record FROM host_conditions ORDER BY host")
        except StoreError as exc:
            if "no such table" in str(exc):
                return []
            raise
        found = [json.loads(row[0]) for row in rows]
        return [r for r in found if isinstance(r, dict)]

    def save_host_conditions(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Replace every host's condition with `records` (each with a "host")."""
        with self._write() as db:
            db.execute("DELETE FROM host_conditions")
            db.executemany(
                "INSERT OR REPLACE INTO host_conditions VALUES (?, ?)",
                [(str(r["host"]), json.dumps(dict(r))) for r in records],
            )


    # --- records kept by name: HPAs, Jobs, CronJobs -----------------------------------------

    def _named_records(self, table: str) -> list[dict[str, Any]]:
        """Every record of `table` (one of NAMED_RECORDS) as saved; [] from a database made
        before that table existed."""
        if table not in NAMED_RECORDS:
            raise ValueError(f"not a table of named records: {table!r}")
        try:
            rows = self._read(f"SELECT record FROM {table} ORDER BY namespace, name")  # noqa: S608
        except StoreError as exc:
            if "no such table" in str(exc):
                return []
            raise
        found = [json.loads(row[0]) for row in rows]
        return [r for r in found if isinstance(r, dict)]

    def _save_named_records(
        self, table: str, records: Sequence[Mapping[str, Any]], forget: Sequence[tuple[str, str]]
    ) -> None:
        """Write `records` (keyed by namespace and name) into `table` and delete `forget`."""
        if table not in NAMED_RECORDS:
            raise ValueError(f"not a table of named records: {table!r}")
        with self._write() as db:
            db.executemany(f"DELETE FROM {table} WHERE namespace = ? AND name = ?",  # noqa: S608
                           [tuple(key) for key in forget])  # fmt: skip
            db.executemany(
                f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?)",  # noqa: S608
                [(str(r["namespace"]), str(r["name"]), json.dumps(dict(r))) for r in records],
            )

    def autoscaler_records(self) -> list[dict[str, Any]]:
        """Every HPA's record (controllers.autoscale)."""
        return self._named_records("autoscalers")

    def save_autoscaler_records(
        self, records: Sequence[Mapping[str, Any]], forget: Sequence[tuple[str, str]]
    ) -> None:
        self._save_named_records("autoscalers", records, forget)

    def job_records(self) -> list[dict[str, Any]]:
        """Every Job's record (controllers.jobrun)."""
        return self._named_records("jobs")

    def save_job_records(
        self, records: Sequence[Mapping[str, Any]], forget: Sequence[tuple[str, str]]
    ) -> None:
        self._save_named_records("jobs", records, forget)

    def cron_job_records(self) -> list[dict[str, Any]]:
        """Every CronJob's record (controllers.cronrun)."""
        return self._named_records("cron_jobs")

    def save_cron_job_records(
        self, records: Sequence[Mapping[str, Any]], forget: Sequence[tuple[str, str]]
    ) -> None:
        self._save_named_records("cron_jobs", records, forget)


NAMED_RECORDS = frozenset({"autoscalers", "jobs", "cron_jobs"})
"""Tables of JSON records keyed by (namespace, name); never a name from input."""

_SYNC_SELECT = "SELECT id, revision, trigger, started, duration, result, counts, errors FROM syncs"


class RolloutStore:
    """Rollout history and rollbacks, in the same database (see `controllers.rollouts`)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def started(self, namespace: str, name: str, template_hash: str, revision: str,
                when: float) -> None:  # fmt: skip
        """A Deployment began running `template_hash` (introduced by `revision`); a template
        run before keeps its first row (its revision and start)."""
        with self._store._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO rollouts (namespace, name, template_hash, revision, "
                "started) VALUES (?, ?, ?, ?, ?)",
                (namespace, name, template_hash, revision, when),
            )

    def finished(self, namespace: str, name: str, template_hash: str, *, failed: bool,
                 when: float) -> None:  # fmt: skip
        column = "failed" if failed else "completed"
        with self._store._write() as db:
            db.execute(
                f"UPDATE rollouts SET {column} = ? WHERE namespace = ? AND name = ? "  # noqa: S608
                "AND template_hash = ?",
                (when, namespace, name, template_hash),
            )

    def history(self, namespace: str, name: str) -> list[cond.RolloutRecord]:
        rows = self._store._read(
            "SELECT namespace, name, template_hash, revision, started, completed, failed "
            "FROM rollouts WHERE namespace = ? AND name = ? ORDER BY started, rowid",
            (namespace, name),
        )
        return [cond.RolloutRecord(*row) for row in rows]

    def set_rollback(self, rollback: cond.Rollback | None, namespace: str, name: str) -> None:
        with self._store._write() as db:
            db.execute("DELETE FROM rollbacks WHERE namespace = ? AND name = ?",
                       (namespace, name))  # fmt: skip
            if rollback is not None:
                db.execute(
                    "INSERT INTO rollbacks VALUES (?, ?, ?, ?, ?, ?)",
                    (namespace, name, rollback.failing_hash, rollback.target_hash,
                     rollback.target_revision, rollback.since),
                )  # fmt: skip

    def rollback(self, namespace: str, name: str) -> cond.Rollback | None:
        rows = self._store._read(
            "SELECT failing_hash, target_hash, target_revision, since FROM rollbacks "
            "WHERE namespace = ? AND name = ?",
            (namespace, name),
        )
        return cond.Rollback(*rows[0]) if rows else None


def _sync_of(row: tuple[Any, ...]) -> cond.SyncRecord:
    sync_id, revision, trigger, started, duration, result, counts, errors = row
    return cond.SyncRecord(
        id=sync_id,
        revision=revision,
        trigger=trigger,
        started=started,
        duration=duration,
        result=_result(result),
        counts=json.loads(counts),
        errors=tuple(json.loads(errors)),
    )


def _result(value: str | None) -> cond.SyncResult | None:
    if value is None:
        return None
    try:
        return cond.SyncResult(value)
    except ValueError:  # written by a newer daemon: report it as failed rather than crash
        return cond.SyncResult.FAILED


def _status(value: str) -> cond.ConditionStatus:
    try:
        return cond.ConditionStatus(value)
    except ValueError:
        return cond.ConditionStatus.UNKNOWN


def _event_kind(value: str) -> cond.EventKind:
    try:
        return cond.EventKind(value)
    except ValueError:
        return cond.EventKind.WARNING
