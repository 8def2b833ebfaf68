"""Opening the DuckDB file, its lock, and the numbered schema migrations."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb

from logsync_tui.errors import StoreError, StoreLockedError

log = logging.getLogger(__name__)

Migration = Callable[[duckdb.DuckDBPyConnection], None]

_V1 = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL,
    applied_at TIMESTAMP NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS sync_run_seq START 1;
CREATE TABLE sync_runs (
    run_id BIGINT PRIMARY KEY DEFAULT nextval('sync_run_seq'),
    kind VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,
    keys BIGINT NOT NULL DEFAULT 0,
    scanned BIGINT NOT NULL DEFAULT 0,
    inserted BIGINT NOT NULL DEFAULT 0,
    duplicates BIGINT NOT NULL DEFAULT 0,
    conflicts BIGINT NOT NULL DEFAULT 0,
    malformed BIGINT NOT NULL DEFAULT 0,
    skipped BIGINT NOT NULL DEFAULT 0,
    verified BOOLEAN,
    error VARCHAR
);
CREATE TABLE debug_logs (
    id VARCHAR NOT NULL,
    trace_id VARCHAR NOT NULL,
    user_id VARCHAR,
    system VARCHAR NOT NULL,
    level VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    timestamp BIGINT NOT NULL,
    context VARCHAR,
    stack VARCHAR,
    raw_data VARCHAR NOT NULL USING COMPRESSION zstd,
    raw_bytes BLOB,
    source_key VARCHAR,
    synced_at TIMESTAMP NOT NULL,
    sync_run_id BIGINT NOT NULL
);
CREATE TABLE quarantine (
    source_key VARCHAR NOT NULL,
    raw_hash VARCHAR NOT NULL,
    source_index BIGINT,
    raw_data VARCHAR NOT NULL,
    raw_bytes BLOB,
    reason VARCHAR NOT NULL,
    sync_run_id BIGINT NOT NULL,
    quarantined_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source_key, raw_hash)
);
CREATE TABLE sync_state (
    source_key VARCHAR PRIMARY KEY,
    taken BIGINT NOT NULL,
    head_hash VARCHAR NOT NULL,
    sync_run_id BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE conflicts (
    sync_run_id BIGINT NOT NULL,
    id VARCHAR NOT NULL,
    resolution VARCHAR NOT NULL,
    stored_raw VARCHAR NOT NULL,
    incoming_raw VARCHAR NOT NULL,
    seen_at TIMESTAMP NOT NULL
);
CREATE TABLE replaced_logs AS
    SELECT *, CAST(NULL AS BIGINT) AS replaced_by_run FROM debug_logs LIMIT 0;
CREATE TABLE settings (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
"""


# debug_logs.id is unique by construction, not by a PRIMARY KEY: every batch
# is checked against the stored ids and against itself before it is inserted
# (storage/ingest.py), and only one process can write the file. Measured on
# 600,000 entries, the key's ART index made the insert 1.8x slower.
# raw_data is read only for one row or an export, so it is stored with zstd:
# measured, that costs less CPU than the default string compression and
# makes the file about 45% smaller.


# Schema 0 is the seed shape: a lone `debug_logs` (id, trace_id, user_id,
# system, level, message, timestamp, context, stack, raw_data, synced_at) and
# no schema_version. Migration 1 adopts its rows under one `migrate` run.
_ADOPT_V0 = """
INSERT INTO sync_runs (kind, scope, source, started_at, finished_at, status,
                       scanned, inserted)
SELECT 'migrate', '{"from_schema": 0}', 'store', now()::TIMESTAMP,
       now()::TIMESTAMP, 'ok', count(*), count(*) FROM debug_logs_v0;
INSERT INTO debug_logs
SELECT id, trace_id, user_id, system, level, message, timestamp, context, stack,
       coalesce(raw_data, to_json(v)::VARCHAR), NULL, 'logs:' || trace_id,
       coalesce(try_cast(synced_at AS TIMESTAMP), now()::TIMESTAMP),
       currval('sync_run_seq')
FROM debug_logs_v0 v;
DROP TABLE debug_logs_v0;
"""


def _v1(con: duckdb.DuckDBPyConnection) -> None:
    seed = _has_table(con, "debug_logs")
    if seed:
        con.execute("ALTER TABLE debug_logs RENAME TO debug_logs_v0")
    con.execute(_V1)
    if seed:
        con.execute(_ADOPT_V0)


MIGRATIONS: list[tuple[int, Migration]] = [(1, _v1)]
SCHEMA_VERSION = MIGRATIONS[-1][0]

MEMORY_LIMIT = "256MB"
_LOCK_PID = re.compile(r"\(PID (\d+)\)")


class Store:
    """One open DuckDB store file. Each thread takes its own `cursor()`."""

    def __init__(
        self, path: Path, con: duckdb.DuckDBPyConnection, read_only: bool
    ) -> None:
        self.path = path
        self.read_only = read_only
        self._con = con
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path | str, *, read_only: bool = False) -> Store:
        """Open (creating and migrating when writable) the store at `path`."""
        target = Path(path)
        if not read_only:
            target.parent.mkdir(parents=True, exist_ok=True)
        elif not target.exists():
            raise StoreError(f"no store at {target}: run `logsync sync` first")
        con = _connect(target, read_only)
        store = cls(target, con, read_only)
        try:
            store._migrate()
        except BaseException:
            con.close()
            raise
        return store

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of this store for the calling thread."""
        cur = self._con.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        return cur

    def close(self) -> None:
        """Close the file; cursors taken from it stop working."""
        with self._lock:
            self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        """The schema version recorded in the file (0 for an empty file)."""
        return current_version(self._con)

    def _migrate(self) -> None:
        version = current_version(self._con)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer logsync (schema {version}, "
                f"this one knows {SCHEMA_VERSION}): upgrade logsync to open it"
            )
        pending = [(v, m) for v, m in MIGRATIONS if v > version]
        if not pending:
            return
        if self.read_only:
            raise StoreError(
                f"{self.path} needs an upgrade to schema {SCHEMA_VERSION}: "
                "open it once without read-only"
            )
        for number, migration in pending:
            self._apply(number, migration)

    def _apply(self, number: int, migration: Migration) -> None:
        con = self._con
        con.execute("BEGIN")
        try:
            migration(con)
            con.execute(
                "INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [number]
            )
            con.execute("COMMIT")
        except Exception as exc:
            con.execute("ROLLBACK")
            if not isinstance(exc, duckdb.Error):
                raise
            first = str(exc).splitlines()[0]
            raise StoreError(
                f"cannot upgrade {self.path} to schema {number} ({first}); "
                "the file was left as it was"
            ) from exc
        log.info("store %s migrated to schema %d", self.path, number)


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = ? AND table_schema = 'main'",
        [name],
    ).fetchone()
    return bool(found and found[0])


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest applied migration, or 0 when the file has none."""
    if not _has_table(con, "schema_version"):
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            pid = _LOCK_PID.search(text)
            holder = f"process {pid.group(1)}" if pid else "another process"
            raise StoreLockedError(
                f"{path} is in use by {holder} (another logsync?); "
                "wait for it to finish or close it"
            ) from exc
        raise StoreError(f"cannot open {path}: {text.splitlines()[0]}") from exc
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise StoreError(f"cannot open {path}: {first}") from exc
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB would cache up to 80% of RAM; past this it spills to <file>.tmp.
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    return con
