"""Summaries: of the local store, and of raw buffer entries (stats, no import)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from logsync_tui.storage.ingest import ms_sql


@dataclass
class StoreSummary:
    """What the local store holds."""

    path: str
    file_bytes: int
    entries: int
    traces: int
    users: int
    quarantined: int
    runs: int
    oldest_ms: int | None
    newest_ms: int | None
    by_system: dict[str, int] = field(default_factory=dict)
    by_level: dict[str, int] = field(default_factory=dict)


def store_summary(con: duckdb.DuckDBPyConnection, path: Path) -> StoreSummary:
    """Counts and extent of the store (one scan of debug_logs)."""
    row = con.execute(
        "SELECT count(*), count(DISTINCT trace_id), count(DISTINCT user_id), "
        "min(timestamp), max(timestamp) FROM debug_logs"
    ).fetchone()
    assert row is not None
    quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()
    runs = con.execute("SELECT count(*) FROM sync_runs").fetchone()
    return StoreSummary(
        path=str(path),
        file_bytes=_file_bytes(path),
        entries=int(row[0]),
        traces=int(row[1]),
        users=int(row[2]),
        quarantined=int(quarantined[0]) if quarantined else 0,
        runs=int(runs[0]) if runs else 0,
        oldest_ms=row[3],
        newest_ms=row[4],
        by_system=_group(con, "system"),
        by_level=_group(con, "level"),
    )


def _group(con: duckdb.DuckDBPyConnection, column: str) -> dict[str, int]:
    rows = con.execute(
        f"SELECT {column}, count(*) FROM debug_logs GROUP BY 1 ORDER BY 2 DESC"
    ).fetchall()
    return {str(k): int(v) for k, v in rows}


def _file_bytes(path: Path) -> int:
    total = 0
    for p in (path, Path(f"{path}.wal")):
        with contextlib.suppress(OSError):
            total += os.path.getsize(p)
    return total


@dataclass
class EntryAggregate:
    """Figures over raw buffer entries, computed without storing them."""

    entries: int = 0
    malformed: int = 0
    users: int = 0
    traces_with_entries: int = 0
    by_system: dict[str, int] = field(default_factory=dict)
    by_level: dict[str, int] = field(default_factory=dict)
    per_minute: list[tuple[int, int]] = field(default_factory=list)
    recent_traces: list[dict[str, object]] = field(default_factory=list)


_CREATE = """
CREATE TABLE agg (source_key VARCHAR, user_id VARCHAR, system VARCHAR,
                  level VARCHAR, ts BIGINT)
"""

_APPEND = f"""
INSERT INTO agg
SELECT source_key, f[1], lower(f[2]), lower(f[3]), {ms_sql("f[4]")}
FROM (SELECT source_key,
             try(json_extract_string(raw, ['$.user_id', '$.system', '$.level',
                                            '$.timestamp'])) AS f
      FROM entries)
WHERE f IS NOT NULL AND f[2] IS NOT NULL
"""


class EntryAggregator:
    """Figures over raw buffer entries, fed chunk by chunk, never stored.

    Only five short fields per entry are kept in an in-memory DuckDB, so
    memory grows with the entry count, not with the size of the entries.
    """

    def __init__(self) -> None:
        self._con = duckdb.connect(":memory:")
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute(_CREATE)
        self._total = 0

    def add(self, entries: pa.Table) -> None:
        """Parse a table of (source_key, raw) and keep its fields."""
        self._total += entries.num_rows
        self._con.register("entries", entries)
        try:
            self._con.execute(_APPEND)
        finally:
            self._con.unregister("entries")

    def result(self, recent: int = 10) -> EntryAggregate:
        """The figures over everything added; closes the aggregator."""
        try:
            return _aggregate(self._con, self._total, recent)
        finally:
            self._con.close()


def _aggregate(
    con: duckdb.DuckDBPyConnection, total: int, recent: int
) -> EntryAggregate:
    row = con.execute(
        "SELECT count(*), count(DISTINCT user_id), count(DISTINCT source_key) FROM agg"
    ).fetchone()
    assert row is not None
    out = EntryAggregate(
        entries=total, malformed=total - int(row[0]), users=int(row[1])
    )
    out.traces_with_entries = int(row[2])
    for column, target in (("system", out.by_system), ("level", out.by_level)):
        for key, value in con.execute(
            f"SELECT {column}, count(*) FROM agg GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall():
            target[str(key)] = int(value)
    out.per_minute = [
        (int(m), int(c))
        for m, c in con.execute(
            "SELECT ts // 60000 * 60000 AS m, count(*) FROM agg WHERE ts IS NOT NULL "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
    ]
    out.recent_traces = [
        {
            "id": t,
            "timestamp": int(ts) if ts is not None else None,
            "logCount": int(n),
            "systems": list(systems),
            "hasErrors": bool(err),
        }
        for t, ts, n, systems, err in con.execute(
            "SELECT substr(source_key, 6), max(ts), count(*), "
            "list_sort(list_distinct(list(system))), bool_or(level = 'error') "
            "FROM agg GROUP BY source_key ORDER BY 2 DESC NULLS LAST, 1 LIMIT ?",
            [recent],
        ).fetchall()
    ]
    return out
