"""The record of sync runs: start, finish, list, and undo."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from logsync_tui.errors import StoreError


@dataclass(frozen=True)
class RunRecord:
    """One row of `sync_runs`."""

    run_id: int
    kind: str
    scope: dict[str, Any]
    source: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    keys: int
    scanned: int
    inserted: int
    duplicates: int
    conflicts: int
    malformed: int
    skipped: int
    verified: bool | None
    error: str | None
    removed: int = 0
    """Entries a `clean` or `retention` run removed."""


@dataclass(frozen=True)
class UndoResult:
    """What undoing a run removed or restored."""

    run_id: int
    removed: int
    restored: int
    unquarantined: int


_COLUMNS = (
    "run_id, kind, scope, source, started_at, finished_at, status, keys, scanned, "
    "inserted, duplicates, conflicts, malformed, skipped, verified, error, removed"
)


def start_run(
    con: duckdb.DuckDBPyConnection, kind: str, scope: dict[str, Any], source: str
) -> int:
    """Record a new run as `running` and return its id."""
    row = con.execute(
        "INSERT INTO sync_runs (kind, scope, source, started_at, status) "
        "VALUES (?, ?, ?, now()::TIMESTAMP, 'running') RETURNING run_id",
        [kind, json.dumps(scope, sort_keys=True), source],
    ).fetchone()
    assert row is not None
    return int(row[0])


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    status: str,
    *,
    verified: bool | None = None,
    error: str | None = None,
) -> None:
    """Close a run with its final status."""
    con.execute(
        "UPDATE sync_runs SET status = ?, finished_at = now()::TIMESTAMP, "
        "verified = ?, error = ? WHERE run_id = ?",
        [status, verified, error, run_id],
    )


def close_abandoned_runs(con: duckdb.DuckDBPyConnection) -> int:
    """Mark runs left `running` by a killed process as interrupted."""
    rows = con.execute(
        "UPDATE sync_runs SET status = 'interrupted', finished_at = started_at "
        "WHERE status = 'running' RETURNING run_id"
    ).fetchall()
    return len(rows)


def get_run(con: duckdb.DuckDBPyConnection, run_id: int) -> RunRecord:
    """One run by id."""
    row = con.execute(
        f"SELECT {_COLUMNS} FROM sync_runs WHERE run_id = ?", [run_id]
    ).fetchone()
    if row is None:
        raise StoreError(f"there is no run {run_id} in this store")
    return _record(row)


def list_runs(con: duckdb.DuckDBPyConnection, limit: int = 50) -> list[RunRecord]:
    """The most recent runs, newest first."""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM sync_runs ORDER BY run_id DESC LIMIT ?", [limit]
    ).fetchall()
    return [_record(r) for r in rows]


def _record(row: tuple[Any, ...]) -> RunRecord:
    values = list(row)
    values[2] = json.loads(values[2]) if values[2] else {}
    return RunRecord(*values)


def count_run_rows(con: duckdb.DuckDBPyConnection, run_id: int) -> int:
    """How many stored entries a run inserted and still owns."""
    row = con.execute(
        "SELECT count(*) FROM debug_logs WHERE sync_run_id = ?", [run_id]
    ).fetchone()
    return int(row[0]) if row else 0


def undo_run(con: duckdb.DuckDBPyConnection, run_id: int) -> UndoResult:
    """Remove exactly what a run inserted and restore what it replaced."""
    run = get_run(con, run_id)
    if run.kind in ("clean", "retention"):
        raise StoreError(f"run {run_id} is a {run.kind}: deleted entries are gone")
    if run.kind == "retry":
        raise StoreError(
            f"run {run_id} is a quarantine retry: undoing it would lose the "
            "entries it moved out of the quarantine"
        )
    if run.status == "undone":
        raise StoreError(f"run {run_id} was already undone")
    if run.status == "running":
        raise StoreError(f"run {run_id} is still running")
    con.execute("BEGIN")
    try:
        result = _undo(con, run_id)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return result


def _undo(con: duckdb.DuckDBPyConnection, run_id: int) -> UndoResult:
    params = {"run": run_id}
    con.execute(
        "DELETE FROM sync_state WHERE sync_run_id = $run OR source_key IN "
        "(SELECT DISTINCT source_key FROM debug_logs WHERE sync_run_id = $run)",
        params,
    )
    removed = con.execute(
        "DELETE FROM debug_logs WHERE sync_run_id = $run RETURNING id", params
    ).fetchall()
    restored = con.execute(
        "UPDATE debug_logs SET trace_id = r.trace_id, user_id = r.user_id, "
        "system = r.system, level = r.level, message = r.message, "
        "timestamp = r.timestamp, context = r.context, stack = r.stack, "
        "raw_data = r.raw_data, raw_bytes = r.raw_bytes, source_key = r.source_key, "
        "synced_at = r.synced_at FROM replaced_logs r "
        "WHERE r.replaced_by_run = $run AND debug_logs.id = r.id "
        "RETURNING debug_logs.id",
        params,
    ).fetchall()
    con.execute("DELETE FROM replaced_logs WHERE replaced_by_run = $run", params)
    unq = con.execute(
        "DELETE FROM quarantine WHERE sync_run_id = $run RETURNING raw_hash", params
    ).fetchall()
    con.execute("DELETE FROM conflicts WHERE sync_run_id = $run", params)
    con.execute("UPDATE sync_runs SET status = 'undone' WHERE run_id = $run", params)
    return UndoResult(run_id, len(removed), len(restored), len(unq))
