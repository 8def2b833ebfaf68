"""Trace insight queries: the trace list, per-trace breakdowns, error chains.

Every function returns plain tuples; `logsync_tui.insight` names them.
Time "spent in a system" is the gap from each entry to the next entry of the
trace, charged to the system of the earlier entry, so the systems' times add
up to the trace's duration.
"""

from __future__ import annotations

from typing import Any

import duckdb

from logsync_tui.storage.db import first_row

TRACE_SORTS = {
    "start": "start_ms",
    "duration": "end_ms - start_ms",
    "entries": "entries",
    "errors": "errors",
    "trace": "trace_id",
    "users": "len(users)",
    "systems": "len(systems)",
}
"""Columns the trace list can be sorted by."""

_TRACES = """
WITH t AS (
    SELECT trace_id,
           coalesce(list(DISTINCT user_id ORDER BY user_id)
                    FILTER (WHERE user_id IS NOT NULL), []) AS users,
           min(timestamp) AS start_ms, max(timestamp) AS end_ms,
           count(*) AS entries,
           count(*) FILTER (WHERE level = 'error') AS errors,
           count(*) FILTER (WHERE level = 'warn') AS warnings
    FROM debug_logs WHERE {where} GROUP BY trace_id
), firsts AS (
    SELECT trace_id, system, min(timestamp) AS first_ms
    FROM debug_logs WHERE trace_id IN (SELECT trace_id FROM t)
    GROUP BY trace_id, system
), s AS (
    SELECT trace_id, list(system ORDER BY first_ms, system) AS systems
    FROM firsts GROUP BY trace_id
)
SELECT trace_id, users, systems, start_ms, end_ms, entries, errors, warnings
FROM t JOIN s USING (trace_id)
WHERE $q = '' OR contains(lower(concat_ws(' ', trace_id,
      array_to_string(users, ' '), array_to_string(systems, ' '))), $q)
ORDER BY {order} {direction}, trace_id
LIMIT $limit OFFSET $offset
"""

_LEVELS = """
SELECT level, count(*) FROM debug_logs WHERE trace_id = $trace
GROUP BY level ORDER BY level
"""

_SYSTEM_TIMES = """
WITH o AS (
    SELECT system, timestamp,
           lead(timestamp) OVER (ORDER BY timestamp, id) AS next_ms
    FROM debug_logs WHERE trace_id = $trace
)
SELECT system, min(timestamp), max(timestamp), count(*),
       coalesce(sum(next_ms - timestamp), 0)
FROM o GROUP BY system ORDER BY min(timestamp), system
"""

_SEGMENTS = """
WITH o AS (
    SELECT system, timestamp, id,
           lead(timestamp) OVER w AS next_ms, lag(system) OVER w AS prev_system
    FROM debug_logs WHERE trace_id = $trace
    WINDOW w AS (ORDER BY timestamp, id)
), g AS (
    SELECT *, sum(CASE WHEN prev_system IS DISTINCT FROM system THEN 1 ELSE 0 END)
              OVER (ORDER BY timestamp, id) AS seg
    FROM o
)
SELECT system, min(timestamp), max(coalesce(next_ms, timestamp)), count(*)
FROM g GROUP BY seg, system ORDER BY seg LIMIT $limit
"""

_CHAINS = """
WITH e AS (
    SELECT system, timestamp, id, message,
           timestamp - lag(timestamp) OVER (ORDER BY timestamp, id) AS gap
    FROM debug_logs WHERE trace_id = $trace AND level = 'error'
), c AS (
    SELECT *, sum(CASE WHEN gap IS NULL OR gap > $window THEN 1 ELSE 0 END)
              OVER (ORDER BY timestamp, id) AS chain
    FROM e
)
SELECT min(timestamp), max(timestamp), count(*),
       list(system ORDER BY timestamp, id), arg_min(message, timestamp),
       bool_or(regexp_matches(message, $timeout, 'i')),
       bool_or(regexp_matches(message, $connection, 'i'))
FROM c GROUP BY chain HAVING count(DISTINCT system) >= 2 ORDER BY chain
"""

_OVERVIEW = """
WITH t AS (
    SELECT max(timestamp) - min(timestamp) AS duration,
           count(DISTINCT system) AS systems
    FROM debug_logs WHERE {where} GROUP BY trace_id
)
SELECT count(*), count(*) FILTER (WHERE systems > 1), avg(duration),
       quantile_cont(duration, 0.95), count(*) FILTER (WHERE duration > $slow)
FROM t
"""


def trace_rows(
    con: duckdb.DuckDBPyConnection,
    *,
    traces: tuple[str, ...] = (),
    search: str = "",
    sort: str = "start",
    descending: bool = True,
    limit: int = 200,
    offset: int = 0,
) -> list[tuple[Any, ...]]:
    """(trace_id, users, systems, start, end, entries, errors, warnings) rows."""
    where, params = _trace_where(traces)
    sql = _TRACES.format(
        where=where,
        order=TRACE_SORTS[sort],
        direction="DESC" if descending else "ASC",
    )
    params.update(q=search.lower(), limit=limit, offset=offset)
    return con.execute(sql, params).fetchall()


def _trace_where(traces: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    if not traces:
        return "true", {}
    return "trace_id IN (SELECT unnest($traces))", {"traces": list(traces)}


def level_counts(con: duckdb.DuckDBPyConnection, trace_id: str) -> dict[str, int]:
    """Entries of a trace by level."""
    rows = con.execute(_LEVELS, {"trace": trace_id}).fetchall()
    return {str(level): int(n) for level, n in rows}


def system_times(
    con: duckdb.DuckDBPyConnection, trace_id: str
) -> list[tuple[Any, ...]]:
    """(system, first, last, entries, time_ms) in order of first appearance."""
    return con.execute(_SYSTEM_TIMES, {"trace": trace_id}).fetchall()


def segments(
    con: duckdb.DuckDBPyConnection, trace_id: str, limit: int = 1000
) -> list[tuple[Any, ...]]:
    """(system, start, end, entries) of each run of consecutive same-system
    entries; a run ends when the next system's first entry starts."""
    return con.execute(_SEGMENTS, {"trace": trace_id, "limit": limit}).fetchall()


def error_chains(
    con: duckdb.DuckDBPyConnection,
    trace_id: str,
    window_ms: int,
    timeout_re: str,
    connection_re: str,
) -> list[tuple[Any, ...]]:
    """(start, end, errors, systems, first message, any timeout, any connection)
    of each run of errors at most `window_ms` apart that crosses systems."""
    params = {
        "trace": trace_id,
        "window": window_ms,
        "timeout": timeout_re,
        "connection": connection_re,
    }
    return con.execute(_CHAINS, params).fetchall()


def overview_row(
    con: duckdb.DuckDBPyConnection, slow_ms: int, traces: tuple[str, ...] = ()
) -> tuple[Any, ...]:
    """(traces, multi-system traces, avg duration, p95 duration, slow traces)."""
    where, params = _trace_where(traces)
    params["slow"] = slow_ms
    row = first_row(con, _OVERVIEW.format(where=where), params)
    assert row is not None
    return row
