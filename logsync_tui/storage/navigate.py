"""Moving around the filtered timeline: windows of rows, row offsets, next error.

The Logs screen asks for rows by their position in display order; these
helpers turn positions into offset or keyset queries that never read the
whole table into memory. The table reads `RowHead`s, which leave out the
columns it does not draw (context, stack, raw entry) and the tail of very
long messages; a whole entry is read with `queries.get_entry`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb

from logsync_tui.storage.queries import LogFilter, where_clause

HEAD_CHARS = 2_000
"""How much of a message the table reads; a longer one is marked as cut."""

_HEAD_COLUMNS = (
    "id, trace_id, user_id, system, level, "
    f"left(message, {HEAD_CHARS}), length(message) > {HEAD_CHARS}, timestamp"
)


EDGE_LIMIT = 50_000
"""Deepest window end found by the one-pass edge search (it holds a list)."""


@dataclass(frozen=True)
class RowHead:
    """What the table shows of one entry."""

    id: str
    trace_id: str
    user_id: str | None
    system: str
    level: str
    message: str
    """The message, cut to HEAD_CHARS characters."""
    cut: bool
    """True when the stored message is longer than `message`."""
    timestamp: int


def _edge(
    con: duckdb.DuckDBPyConnection, flt: LogFilter, n: int, newest_first: bool
) -> tuple[int, int | None]:
    """(matching rows, timestamp of the `n`-th row in display order)."""
    where, params = where_clause(flt)
    params["n"] = max(1, n)
    top = "max" if newest_first else "min"
    found = con.execute(
        f"SELECT count(*), {top}(timestamp, $n) FROM debug_logs WHERE {where}",
        params,
    ).fetchone()
    assert found is not None
    edges = found[1] or []
    # With fewer than n matches, the last of them still bounds the window.
    return int(found[0]), (edges[-1] if edges else None)


def _heads(
    con: duckdb.DuckDBPyConnection,
    flt: LogFilter,
    offset: int,
    limit: int,
    newest_first: bool,
    edge: int | None,
) -> list[RowHead]:
    where, params = where_clause(flt)
    direction, op = ("DESC", ">=") if newest_first else ("ASC", "<=")
    if edge is not None:
        where += f" AND timestamp {op} $edge"
        params["edge"] = edge
    params.update(offset=offset, limit=limit)
    rows = con.execute(
        f"SELECT {_HEAD_COLUMNS} FROM debug_logs WHERE {where} "
        f"ORDER BY timestamp {direction}, id {direction} "
        "LIMIT $limit OFFSET $offset",
        params,
    ).fetchall()
    return [RowHead(*row) for row in rows]


def _ordered(
    con: duckdb.DuckDBPyConnection,
    flt: LogFilter,
    offset: int,
    limit: int,
    newest_first: bool,
) -> tuple[int | None, list[RowHead]]:
    # Sorting every match on (timestamp, id) is the slow part of a page. One
    # pass first counts the matches and finds the timestamp the window ends
    # at, so the sort only sees rows up to it (ties included).
    if offset + limit > EDGE_LIMIT:
        return None, _heads(con, flt, offset, limit, newest_first, None)
    matching, edge = _edge(con, flt, offset + limit, newest_first)
    if matching <= offset:
        return matching, []
    return matching, _heads(con, flt, offset, limit, newest_first, edge)


def first_window(
    con: duckdb.DuckDBPyConnection,
    flt: LogFilter,
    limit: int,
    *,
    newest_first: bool = True,
) -> tuple[int, list[RowHead]]:
    """(how many rows match, the first `limit` of them in display order)."""
    matching, rows = _ordered(con, flt, 0, min(limit, EDGE_LIMIT), newest_first)
    assert matching is not None
    return matching, rows


def fetch_window(
    con: duckdb.DuckDBPyConnection,
    flt: LogFilter,
    offset: int,
    limit: int,
    *,
    newest_first: bool = True,
    total: int | None = None,
) -> list[RowHead]:
    """Rows `offset`..`offset+limit` in display order.

    Past the middle of a known `total`, the rows are read from the other end
    and reversed, so jumping to the end costs as little as the start.
    """
    if total is None or offset <= total // 2:
        return _ordered(con, flt, offset, limit, newest_first)[1]
    if offset >= total:
        return []
    end = min(total, offset + limit)
    rows = _ordered(con, flt, total - end, end - offset, not newest_first)[1]
    rows.reverse()
    return rows


def offset_of(
    con: duckdb.DuckDBPyConnection,
    flt: LogFilter,
    row: RowHead,
    *,
    newest_first: bool = True,
) -> int:
    """How many filtered rows come before `row` in display order."""
    where, params = where_clause(flt)
    op = ">" if newest_first else "<"
    params.update(ts=row.timestamp, rid=row.id)
    found = con.execute(
        f"SELECT count(*) FROM debug_logs WHERE {where} "
        f"AND (timestamp, id) {op} ($ts, $rid)",
        params,
    ).fetchone()
    return int(found[0]) if found else 0


def next_with_level(
    con: duckdb.DuckDBPyConnection,
    flt: LogFilter,
    row: RowHead,
    *,
    levels: tuple[str, ...] = ("error",),
    newest_first: bool = True,
    forward: bool = True,
) -> RowHead | None:
    """The nearest row after (or before) `row` in display order with a level."""
    narrowed = replace(flt, levels=tuple(set(flt.levels or levels) & set(levels)))
    if not narrowed.levels:
        return None
    where, params = where_clause(narrowed)
    later = newest_first != forward
    op = ">" if later else "<"
    direction = "ASC" if later else "DESC"
    params.update(ts=row.timestamp, rid=row.id)
    found = con.execute(
        f"SELECT {_HEAD_COLUMNS} FROM debug_logs WHERE {where} "
        f"AND (timestamp, id) {op} ($ts, $rid) "
        f"ORDER BY timestamp {direction}, id {direction} LIMIT 1",
        params,
    ).fetchone()
    return RowHead(*found) if found else None


def store_mark(con: duckdb.DuckDBPyConnection) -> tuple[int, int | None]:
    """(stored entries, newest recorded run).

    It changes whenever a sync, import, undo or clean changes what the table
    could show: each of them records a run or changes the count. Reading
    the run from sync_runs keeps it cheap (no scan of debug_logs).
    """
    found = con.execute(
        "SELECT (SELECT count(*) FROM debug_logs), (SELECT max(run_id) FROM sync_runs)"
    ).fetchone()
    assert found is not None
    return int(found[0]), (int(found[1]) if found[1] is not None else None)
