"""The quarantine: entries a sync could not normalise, listed, retried, purged.

A retry feeds the quarantined raw entries through the same ingest as a sync
(one recorded run of kind `retry`); those that now normalise move into
`debug_logs` and leave the quarantine, the others stay where they were.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from logsync_tui.storage import runs as run_store
from logsync_tui.storage.db import first_row
from logsync_tui.storage.ingest import (
    BATCH_SCHEMA,
    WATERMARK_SCHEMA,
    Scope,
    forget_repaired,
    ingest_rows,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuarantinedEntry:
    """One quarantined buffer element: where it came from and why it is here."""

    source_key: str
    source_index: int | None
    reason: str
    raw_data: str
    sync_run_id: int
    quarantined_at: datetime


def list_quarantine(
    con: duckdb.DuckDBPyConnection, limit: int = 100, offset: int = 0
) -> list[QuarantinedEntry]:
    """Quarantined entries, newest first, then by key and index."""
    rows = con.execute(
        "SELECT source_key, source_index, reason, raw_data, sync_run_id, "
        "quarantined_at FROM quarantine "
        "ORDER BY quarantined_at DESC, source_key, source_index "
        "LIMIT ? OFFSET ?",
        [limit, offset],
    ).fetchall()
    return [QuarantinedEntry(*r) for r in rows]


def count_quarantine(
    con: duckdb.DuckDBPyConnection, before_ms: int | None = None
) -> int:
    """How many entries are quarantined (before a time, when given)."""
    row = first_row(
        con,
        "SELECT count(*) FROM quarantine WHERE $cut IS NULL "
        "OR quarantined_at < make_timestamp($cut)",
        {"cut": None if before_ms is None else before_ms * 1000},
    )
    return int(row[0]) if row else 0


def purge_quarantine(
    con: duckdb.DuckDBPyConnection, before_ms: int | None = None
) -> int:
    """Delete quarantined entries (those quarantined before a time, when given)."""
    row = first_row(
        con,
        "DELETE FROM quarantine WHERE $cut IS NULL "
        "OR quarantined_at < make_timestamp($cut)",
        {"cut": None if before_ms is None else before_ms * 1000},
    )
    return int(row[0]) if row else 0


@dataclass
class RetryResult:
    """What a retry did: moved entries left the quarantine."""

    run_id: int
    tried: int
    moved: int
    inserted: int
    duplicates: int
    conflicts: int
    still_quarantined: int


def retry_quarantine(
    con: duckdb.DuckDBPyConnection, policy: str = "keep"
) -> RetryResult:
    """Ingest every quarantined entry again, as one transaction and one run."""
    tried = count_quarantine(con)
    run_id = run_store.start_run(con, "retry", {"quarantine": tried}, "quarantine")
    con.execute("BEGIN")
    try:
        # The whole quarantine is read into memory as one batch.
        batch = _quarantine_batch(con)
        counts = ingest_rows(
            con, run_id, batch, WATERMARK_SCHEMA.empty_table(), Scope(), policy
        )
        moved = forget_repaired(con, batch)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        run_store.finish_run(con, run_id, "failed", error="retry rolled back")
        raise
    run_store.finish_run(con, run_id, "ok", verified=counts.missing == 0)
    left = count_quarantine(con)
    c = counts
    result = RetryResult(
        run_id, tried, moved, c.inserted, c.duplicates, c.conflicts, left
    )
    log.info("quarantine retry: %s", result)
    return result


def _quarantine_batch(con: duckdb.DuckDBPyConnection) -> pa.Table:
    table = con.sql(
        "SELECT source_key, source_index, raw_data AS raw, raw_bytes "
        "FROM quarantine ORDER BY source_key, source_index"
    ).to_arrow_table()
    return table.cast(BATCH_SCHEMA)
