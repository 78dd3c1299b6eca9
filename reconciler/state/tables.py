"""The state database's tables (`state.store`): the versioned migrations of the core tables,
and the controllers' record tables, each made when missing so that a database of any schema
version gains them without a migration step."""

from __future__ import annotations

SCHEMA_VERSION = 2

MIGRATIONS: tuple[str, ...] = (
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
assert len(MIGRATIONS) == SCHEMA_VERSION

RESTARTS_TABLE = """
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

HOST_CONDITIONS_TABLE = """
    CREATE TABLE IF NOT EXISTS host_conditions (
        host TEXT PRIMARY KEY,
        record TEXT NOT NULL
    )
"""
"""Each host's health condition (controllers.hosthealth), one JSON object per host; made when
missing, as `restarts` is."""

AUTOSCALERS_TABLE = """
    CREATE TABLE IF NOT EXISTS autoscalers (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (namespace, name)
    )
"""
"""Each HorizontalPodAutoscaler's replica count and last decisions (controllers.autoscale), one
JSON object per HPA; made when missing, as `restarts` is."""

JOBS_TABLE = """
    CREATE TABLE IF NOT EXISTS jobs (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (namespace, name)
    )
"""
"""Each Job's record (controllers.jobs.Record: its pods that succeeded or failed, how it ended),
one JSON object per Job, so a finished Job never runs again; made when missing, as `restarts`."""

CRON_JOBS_TABLE = """
    CREATE TABLE IF NOT EXISTS cron_jobs (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (namespace, name)
    )
"""
"""Each CronJob's record (controllers.cronrun.Record: its last schedule and its Jobs); made when
missing, as `restarts`."""

RECORD_TABLES = (RESTARTS_TABLE, HOST_CONDITIONS_TABLE, AUTOSCALERS_TABLE, JOBS_TABLE,
                 CRON_JOBS_TABLE)  # fmt: skip
