"""The controllers' records in the state database (`state.store.Store` inherits them): restart
records (controllers.lifecycle), host conditions (controllers.hosthealth) and the records kept by
name for HPAs, Jobs and CronJobs. Each is one JSON object per row; a database made before a table
existed reads as having no records."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

NAMED_RECORDS = frozenset({"autoscalers", "jobs", "cron_jobs"})
"""Tables of JSON records keyed by (namespace, name); never a name from input."""


class RecordTables:
    """The record methods of `Store`, written against its two primitives."""

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read_optional(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of `sql`; [] when its table does not exist yet."""
        raise NotImplementedError

    def _json_records(self, sql: str) -> list[dict[str, Any]]:
        found = [json.loads(row[0]) for row in self._read_optional(sql)]
        return [r for r in found if isinstance(r, dict)]

    # --- restart records (controllers.lifecycle) ----------------------------------------------

    def restart_records(self) -> list[dict[str, Any]]:
        """Every container's restart record as the lifecycle controller saved it."""
        return self._json_records("SELECT record FROM restarts ORDER BY namespace, pod, container")

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
        """Every host's health condition as saved."""
        return self._json_records("SELECT record FROM host_conditions ORDER BY host")

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
        """Every record of `table` (one of NAMED_RECORDS) as saved."""
        if table not in NAMED_RECORDS:
            raise ValueError(f"not a table of named records: {table!r}")
        return self._json_records(f"SELECT record FROM {table} ORDER BY namespace, name")  # noqa: S608

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
