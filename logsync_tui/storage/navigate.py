"""Moving around the filtered timeline: windows of rows, row offsets, next error.

The Logs screen asks for rows by their position in display order; these
helpers turn positions into keyset or offset queries that never read the
whole table into memory.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb

from logsync_tui.storage.queries import (
    ROW_COLUMNS,
    LogFilter,
    LogRow,
    fetch_offset,
    where_clause,
)


def fetch_window(
    con: duckdb.DuckDBPyConnection,
    flt: LogFilter,
    offset: int,
    limit: int,
    *,
    newest_first: bool = True,
    total: int | None = None,
) -> list[LogRow]:
    """Rows `offset`..`offset+limit` in display order.

    Past the middle of a known `total`, the rows are read from the other end
    and reversed, so jumping to the end costs as little as the start.
    """
    if total is None or offset <= total // 2:
        return fetch_offset(con, flt, offset, limit, newest_first=newest_first)
    end = min(total, offset + limit)
    mirrored = total - end
    rows = fetch_offset(con, flt, mirrored, end - offset, newest_first=not newest_first)
    rows.reverse()
    return rows


def offset_of(
    con: duckdb.DuckDBPyConnection,
    flt: LogFilter,
    row: LogRow,
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
    row: LogRow,
    *,
    levels: tuple[str, ...] = ("error",),
    newest_first: bool = True,
    forward: bool = True,
) -> LogRow | None:
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
        f"SELECT {ROW_COLUMNS} FROM debug_logs WHERE {where} "
        f"AND (timestamp, id) {op} ($ts, $rid) "
        f"ORDER BY timestamp {direction}, id {direction} LIMIT 1",
        params,
    ).fetchone()
    return LogRow(*found) if found else None
