"""Cleanup of the store: clean kinds, retention settings, automated cleanup.

Every clean and every retention pass is one transaction and leaves a
`sync_runs` row (kind `clean` or `retention`, with `removed` filled in), so
the run history says where entries went. Neither can be undone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from logsync_tui.errors import StoreError, UsageError
from logsync_tui.storage.db import Store, file_size, first_row
from logsync_tui.timeparse import now_ms

log = logging.getLogger(__name__)

CLEAN_KINDS = ("all", "older", "trace", "user", "run")

_ENTRY_WHERE = {
    "all": "true",
    "older": "timestamp < $before",
    "trace": "trace_id IN (SELECT unnest($traces))",
    "user": "user_id IN (SELECT unnest($users))",
    "run": "sync_run_id = $run",
}
_QUARANTINE_WHERE = {
    "all": "true",
    "trace": "source_key IN (SELECT 'logs:' || unnest($traces))",
}


@dataclass(frozen=True)
class CleanRequest:
    """What a clean removes: everything, entries older than a time, or by
    trace, user or sync run."""

    kind: str
    traces: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    before_ms: int | None = None
    run_id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in CLEAN_KINDS:
            raise UsageError(f"unknown clean kind {self.kind!r}")

    def params(self) -> dict[str, Any]:
        """The SQL parameters this kind's conditions use."""
        values: dict[str, dict[str, Any]] = {
            "older": {"before": self.before_ms},
            "trace": {"traces": list(self.traces)},
            "user": {"users": list(self.users)},
            "run": {"run": self.run_id},
        }
        return values.get(self.kind, {})

    def describe(self) -> dict[str, Any]:
        """The request as plain data for the run record."""
        data = {k: v for k, v in asdict(self).items() if v not in ((), None)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


@dataclass
class CleanCounts:
    """What a clean removes (a plan) or removed (a result)."""

    entries: int = 0
    quarantined: int = 0
    watermarks: int = 0
    run_id: int | None = None


def plan_clean(con: duckdb.DuckDBPyConnection, request: CleanRequest) -> CleanCounts:
    """How many entries, quarantined entries and watermarks a clean removes."""
    if request.kind == "run":
        _require_run(con, request.run_id)
    params = request.params()
    counts = CleanCounts(
        entries=_count(con, "debug_logs", _entry_where(request), params)
    )
    where = _QUARANTINE_WHERE.get(request.kind)
    if where is not None:
        counts.quarantined = _count(con, "quarantine", where, params)
    if request.kind == "all":
        counts.watermarks = _count(con, "sync_state", "true", {})
    return counts


def clean(con: duckdb.DuckDBPyConnection, request: CleanRequest) -> CleanCounts:
    """Remove what `request` names, in one transaction, and record it."""
    con.execute("BEGIN")
    try:
        counts = _clean(con, request)
        counts.run_id = record_removal(con, "clean", request.describe(), counts.entries)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    log.info("clean %s removed %s", request.describe(), counts)
    return counts


def _clean(con: duckdb.DuckDBPyConnection, request: CleanRequest) -> CleanCounts:
    if request.kind == "run":
        _require_run(con, request.run_id)
    params = request.params()
    counts = CleanCounts()
    counts.entries = _delete(con, "debug_logs", _entry_where(request), params)
    where = _QUARANTINE_WHERE.get(request.kind)
    if where is not None:
        counts.quarantined = _delete(con, "quarantine", where, params)
    if request.kind == "all":
        counts.watermarks = _delete(con, "sync_state", "true", {})
    drop_orphans(con)
    return counts


def _entry_where(request: CleanRequest) -> str:
    return _ENTRY_WHERE[request.kind]


def _require_run(con: duckdb.DuckDBPyConnection, run_id: int | None) -> None:
    found = first_row(con, "SELECT count(*) FROM sync_runs WHERE run_id = ?", [run_id])
    if not found or not found[0]:
        raise StoreError(f"there is no run {run_id} in this store")


def _count(
    con: duckdb.DuckDBPyConnection, table: str, where: str, params: dict[str, Any]
) -> int:
    row = first_row(con, f"SELECT count(*) FROM {table} WHERE {where}", params)
    return int(row[0]) if row else 0


def _delete(
    con: duckdb.DuckDBPyConnection, table: str, where: str, params: dict[str, Any]
) -> int:
    row = first_row(con, f"DELETE FROM {table} WHERE {where}", params)
    return int(row[0]) if row else 0


def drop_orphans(con: duckdb.DuckDBPyConnection) -> None:
    """Forget conflict records and replaced versions of entries now gone."""
    for table in ("conflicts", "replaced_logs"):
        con.execute(f"DELETE FROM {table} WHERE id NOT IN (SELECT id FROM debug_logs)")


def record_removal(
    con: duckdb.DuckDBPyConnection, kind: str, scope: dict[str, Any], removed: int
) -> int:
    """Add a finished `sync_runs` row for a clean or retention pass."""
    row = first_row(
        con,
        "INSERT INTO sync_runs (kind, scope, source, started_at, finished_at, "
        "status, removed) VALUES (?, ?, 'store', now()::TIMESTAMP, "
        "now()::TIMESTAMP, 'ok', ?) RETURNING run_id",
        [kind, json.dumps(scope, sort_keys=True), removed],
    )
    assert row is not None
    return int(row[0])


@dataclass(frozen=True)
class RetentionPolicy:
    """Limits the store keeps itself within; None means no limit."""

    max_age_ms: int | None = None
    max_entries: int | None = None
    max_mb: float | None = None
    quarantine_max_age_ms: int | None = None

    def is_empty(self) -> bool:
        """True when no limit is set."""
        return self == RetentionPolicy()


_SETTING = "retention."
_CASTS: dict[str, Any] = {
    "max_age_ms": int,
    "max_entries": int,
    "max_mb": float,
    "quarantine_max_age_ms": int,
}


def load_policy(con: duckdb.DuckDBPyConnection) -> RetentionPolicy:
    """The retention limits kept in the `settings` table."""
    rows = con.execute(
        "SELECT key, value FROM settings WHERE starts_with(key, ?)", [_SETTING]
    ).fetchall()
    values: dict[str, Any] = {}
    for key, value in rows:
        name = str(key).removeprefix(_SETTING)
        if name in _CASTS:
            values[name] = _CASTS[name](value)
    return RetentionPolicy(**values)


def save_policy(con: duckdb.DuckDBPyConnection, policy: RetentionPolicy) -> None:
    """Replace the retention limits in the `settings` table."""
    con.execute("BEGIN")
    try:
        con.execute("DELETE FROM settings WHERE starts_with(key, ?)", [_SETTING])
        for name, value in asdict(policy).items():
            if value is not None:
                con.execute(
                    "INSERT INTO settings VALUES (?, ?)", [_SETTING + name, str(value)]
                )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


@dataclass
class RetentionResult:
    """What one retention pass removed, by rule, and what compaction gained."""

    removed_by_rule: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None
    compacted: tuple[int, int] | None = None

    @property
    def entries(self) -> int:
        """Entries removed by the age, count and size rules together."""
        return sum(n for k, n in self.removed_by_rule.items() if k != "quarantine")


def apply_retention(
    store: Store, *, now: int | None = None, compact: bool = True
) -> RetentionResult:
    """Apply the stored retention limits, oldest entries first.

    Called after every sync and when the app starts. With `compact`, the file
    is rewritten afterwards when that gives real space back; only do that
    while no other thread uses the store.
    """
    con = store.cursor()
    policy = load_policy(con)
    result = RetentionResult()
    if policy.is_empty():
        return result
    per_entry = _bytes_per_entry(con) if policy.max_mb is not None else 0.0
    con.execute("BEGIN")
    try:
        moment = now_ms() if now is None else now
        result.removed_by_rule = _enforce(con, policy, moment, per_entry)
        result.run_id = _record_retention(con, policy, result)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    if result.run_id is not None:
        log.info("retention removed %s (run %d)", result.removed_by_rule, result.run_id)
        if compact:
            result.compacted = compact_if_worthwhile(store, result.entries)
    return result


def _record_retention(
    con: duckdb.DuckDBPyConnection, policy: RetentionPolicy, result: RetentionResult
) -> int | None:
    if not any(result.removed_by_rule.values()):
        return None
    scope = {**asdict(policy), "removed_by_rule": result.removed_by_rule}
    return record_removal(con, "retention", scope, result.entries)


def _enforce(
    con: duckdb.DuckDBPyConnection,
    policy: RetentionPolicy,
    now: int,
    per_entry: float,
) -> dict[str, int]:
    removed: dict[str, int] = {}
    if policy.max_age_ms is not None:
        before = now - policy.max_age_ms
        removed["max_age"] = _delete(
            con, "debug_logs", "timestamp < $before", {"before": before}
        )
    if policy.max_entries is not None:
        removed["max_entries"] = _keep_newest(con, policy.max_entries)
    if policy.max_mb is not None and per_entry > 0:
        # An estimate from the average entry: keeps about 90% of the cap.
        keep = int(policy.max_mb * 1024 * 1024 * 0.9 / per_entry)
        removed["max_mb"] = _keep_newest(con, keep)
    if policy.quarantine_max_age_ms is not None:
        cut_us = (now - policy.quarantine_max_age_ms) * 1000
        removed["quarantine"] = _delete(
            con, "quarantine", "quarantined_at < make_timestamp($cut)", {"cut": cut_us}
        )
    drop_orphans(con)
    return removed


def _keep_newest(con: duckdb.DuckDBPyConnection, keep: int) -> int:
    return _delete(
        con,
        "debug_logs",
        "id IN (SELECT id FROM debug_logs "
        "ORDER BY timestamp DESC, id DESC OFFSET $keep)",
        {"keep": keep},
    )


def _bytes_per_entry(con: duckdb.DuckDBPyConnection) -> float:
    """Store bytes in use per stored entry, measured after a checkpoint."""
    _checkpoint(con)
    entries = _count(con, "debug_logs", "true", {})
    return live_bytes(con) / entries if entries else 0.0


def _checkpoint(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        con.execute("CHECKPOINT")
    except duckdb.Error as exc:
        # Another cursor has a transaction open: figures stay approximate.
        log.info("checkpoint skipped: %s", exc)
        return False
    return True


def live_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """Bytes of the file's blocks that hold data (the rest is free space)."""
    row = first_row(
        con,
        "SELECT used_blocks * block_size FROM pragma_database_size() "
        "WHERE database_name = current_database()",
    )
    return int(row[0]) if row else 0


def compact_if_worthwhile(
    store: Store, removed: int = 0, min_bytes: int = 1 << 20, min_share: float = 0.25
) -> tuple[int, int] | None:
    """Compact a store of at least `min_bytes` when `min_share` of it is free
    blocks, or when `removed` entries were `min_share` of what it held.

    DuckDB frees a block only once every row in it is gone, so after a
    scattered deletion the free blocks understate what a rewrite gives back.
    Returns (bytes before, bytes after), or None when it was not worth it.
    """
    con = store.cursor()
    if not store.can_compact or not _checkpoint(con):
        return None
    size = file_size(store.path)
    free = size - live_bytes(con)
    held = _count(con, "debug_logs", "true", {}) + removed
    if size < min_bytes:
        return None
    if free < size * min_share and removed < held * min_share:
        return None
    try:
        return store.compact()
    except StoreError as exc:
        log.warning("store not compacted: %s", exc.one_line())
        return None


@dataclass
class StorageUsage:
    """The store file on disk and the rows of each of its tables."""

    file_bytes: int
    live_bytes: int
    tables: dict[str, int]


def storage_usage(con: duckdb.DuckDBPyConnection, path: Path) -> StorageUsage:
    """Size on disk, bytes in use, and rows per table."""
    names = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = "
        "current_database() AND schema_name = 'main' AND NOT temporary "
        "ORDER BY table_name"
    ).fetchall()
    tables = {}
    for (name,) in names:
        quoted = '"' + str(name).replace('"', '""') + '"'
        tables[str(name)] = _count(con, quoted, "true", {})
    return StorageUsage(file_size(path), live_bytes(con), tables)
