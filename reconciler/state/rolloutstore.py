"""Rollout history and rollbacks (`controllers.rollouts`) in the daemon's state database
(`state.store`): one row per pod template a Deployment ran, and the rollback each Deployment is
held at, if any."""

from __future__ import annotations

from reconciler.state import conditions as cond
from reconciler.state import store as storemod


class RolloutStore:
    """Rollout history and rollbacks, in the same database (see `controllers.rollouts`)."""

    def __init__(self, store: storemod.Store) -> None:
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
