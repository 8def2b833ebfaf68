"""Queries only exports need: scope counts, per-trace summaries, rows by trace."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb

from logsync_tui.storage.ingest import LEVELS, SYSTEMS
from logsync_tui.storage.queries import ROW_COLUMNS, LogFilter, LogRow, where_clause


@dataclass(frozen=True)
class ScopeCounts:
    """How much a filter selects: entries, traces, by system and level, span."""

    entries: int
    traces: int
    by_system: dict[str, int]
    by_level: dict[str, int]
    start_ms: int | None
    end_ms: int | None


@dataclass(frozen=True)
class FirstError:
    """The earliest error entry of a trace."""

    id: str
    timestamp: int
    message: str


@dataclass(frozen=True)
class TraceSummary:
    """One trace within an export's scope (only the entries the filter keeps)."""

    trace_id: str
    start_ms: int
    end_ms: int
    entries: int
    by_level: dict[str, int]
    systems: list[str] = field(default_factory=list)
    """Systems in the order they first appear."""
    users: list[str] = field(default_factory=list)
    """Users in the order they first appear."""
    first_error: FirstError | None = None

    @property
    def duration_ms(self) -> int:
        """Milliseconds from the first to the last entry."""
        return self.end_ms - self.start_ms


def _ordered(counts: dict[str, int], order: tuple[str, ...]) -> dict[str, int]:
    def rank(key: str) -> tuple[int, str]:
        return (order.index(key) if key in order else len(order), key)

    return {k: counts[k] for k in sorted(counts, key=rank)}


def scope_counts(con: duckdb.DuckDBPyConnection, flt: LogFilter) -> ScopeCounts:
    """Counts and time span of everything `flt` selects."""
    where, params = where_clause(flt)
    rows = con.execute(
        "SELECT system, level, count(*), count(DISTINCT trace_id), min(timestamp), "
        f"max(timestamp) FROM debug_logs WHERE {where} GROUP BY GROUPING SETS "
        "((system), (level), ())",
        params,
    ).fetchall()
    by_system: dict[str, int] = {}
    by_level: dict[str, int] = {}
    total = (0, 0, None, None)
    for system, level, n, traces, start, end in rows:
        if system is not None:
            by_system[system] = n
        elif level is not None:
            by_level[level] = n
        else:
            total = (n, traces, start, end)
    return ScopeCounts(
        entries=int(total[0]),
        traces=int(total[1]),
        by_system=_ordered(by_system, SYSTEMS),
        by_level=_ordered(by_level, LEVELS),
        start_ms=total[2],
        end_ms=total[3],
    )


_LEVEL_COUNTS = ", ".join(
    f"count(*) FILTER (WHERE level = '{level}') AS n_{level}" for level in LEVELS
)


def _firsts(column: str) -> str:
    return f"""
    SELECT trace_id, list({column} ORDER BY timestamp, id) AS firsts FROM (
        SELECT trace_id, {column}, timestamp, id, row_number() OVER (
            PARTITION BY trace_id, {column} ORDER BY timestamp, id) AS rn
        FROM f WHERE {column} IS NOT NULL)
    WHERE rn = 1 GROUP BY trace_id"""


_SUMMARIES = f"""
WITH f AS (
    SELECT id, trace_id, user_id, system, level, message, timestamp
    FROM debug_logs WHERE {{where}}
), t AS (
    SELECT trace_id, min(timestamp) AS start_ms, max(timestamp) AS end_ms,
           count(*) AS n, {_LEVEL_COUNTS}
    FROM f GROUP BY trace_id
), s AS ({_firsts("system")}
), u AS ({_firsts("user_id")}
), e AS (
    SELECT trace_id, id, timestamp, message FROM (
        SELECT *, row_number() OVER (
            PARTITION BY trace_id ORDER BY timestamp, id) AS rn
        FROM f WHERE level = 'error')
    WHERE rn = 1
)
SELECT t.*, s.firsts, u.firsts, e.id, e.timestamp, e.message
FROM t LEFT JOIN s USING (trace_id) LEFT JOIN u USING (trace_id)
LEFT JOIN e USING (trace_id)
ORDER BY t.start_ms, t.trace_id
"""


def trace_summaries(
    con: duckdb.DuckDBPyConnection, flt: LogFilter
) -> list[TraceSummary]:
    """A summary of every trace `flt` touches, ordered by first entry."""
    where, params = where_clause(flt)
    rows = con.execute(_SUMMARIES.format(where=where), params).fetchall()
    return [_summary(row) for row in rows]


def _summary(row: tuple[Any, ...]) -> TraceSummary:
    trace_id, start, end, n, *rest = row
    levels = rest[: len(LEVELS)]
    systems, users, err_id, err_ts, err_msg = rest[len(LEVELS) :]
    first_error = (
        FirstError(str(err_id), int(err_ts), str(err_msg))
        if err_id is not None
        else None
    )
    return TraceSummary(
        trace_id=str(trace_id),
        start_ms=int(start),
        end_ms=int(end),
        entries=int(n),
        by_level={lv: int(c) for lv, c in zip(LEVELS, levels, strict=True)},
        systems=list(systems or []),
        users=list(users or []),
        first_error=first_error,
    )


def iter_rows_by_trace(
    con: duckdb.DuckDBPyConnection, flt: LogFilter, *, chunk: int = 10_000
) -> Iterator[LogRow]:
    """Filtered rows grouped by trace (traces by first entry), each in time order.

    Streamed in chunks, so memory stays flat however many rows match.
    """
    where, params = where_clause(flt)
    con.execute(
        f"SELECT {ROW_COLUMNS}, min(timestamp) OVER (PARTITION BY trace_id) AS t0 "
        f"FROM debug_logs WHERE {where} ORDER BY t0, trace_id, timestamp, id",
        params,
    )
    width = len(LogRow.__dataclass_fields__)
    while True:
        rows = con.fetchmany(chunk)
        if not rows:
            return
        for r in rows:
            yield LogRow(*r[:width])
