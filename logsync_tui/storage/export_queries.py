"""Queries only exports need: scope counts, per-trace summaries, rows by trace."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import duckdb

from logsync_tui.storage.ingest import LEVELS, SYSTEMS
from logsync_tui.storage.queries import (
    ROW_COLUMNS,
    LogFilter,
    LogRow,
    where_clause,
)


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


# Exports never show raw_data (it repeats the fields unredacted): leaving it
# out halves what the text export holds in memory.
_NO_RAW = ROW_COLUMNS.replace("raw_data", "'' AS raw_data")


def iter_rows_by_trace(
    con: duckdb.DuckDBPyConnection, flt: LogFilter, *, chunk: int = 10_000
) -> Iterator[LogRow]:
    """Filtered rows grouped by trace (traces by first entry), each in time order.

    Streamed in chunks, so memory stays flat however many rows match.
    """
    where, params = where_clause(flt)
    con.execute(
        f"SELECT {_NO_RAW}, min(timestamp) OVER (PARTITION BY trace_id) AS t0 "
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


# Export lines built inside DuckDB. A row whose text matches the redaction
# trigger gets a NULL line and its fields, so Python redacts and formats it;
# every other row arrives as a finished CSV or JSON line. The Python
# formatters in export/ produce byte-identical lines for the same row.
LINE_FIELDS = (
    "id",
    "trace_id",
    "user_id",
    "system",
    "level",
    "message",
    "timestamp",
    "context",
    "stack",
    "synced_at",
    "sync_run_id",
)
ISO_MS_SQL = "strftime(epoch_ms(timestamp), '%Y-%m-%dT%H:%M:%S.%gZ')"
ISO_US_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
CSV_COLUMNS = ("id", "trace_id", "user_id", "system", "level", "timestamp", "time",
               "message", "context", "stack")  # fmt: skip
GUARDED = ("id", "trace_id", "user_id", "message", "context", "stack")
"""CSV cells that may start like a formula (the others the store validated)."""
_QUOTE_NEVER = ("system", "level", "timestamp", "time")
_FORMULA = "('=', '+', '-', '@', chr(9), chr(13))"
_SPECIALS = ("chr(34)", "','", "chr(10)", "chr(13)")

_ALWAYS = ("id", "trace_id", "timestamp")
LineSql = tuple[str, str]
"""(cell projections or "", line expression) for one export format."""


def _csv_value(column: str, neutralise: bool) -> str:
    expr = {"timestamp": "CAST(timestamp AS VARCHAR)", "time": ISO_MS_SQL}
    value = f"coalesce({expr.get(column, column)}, '')"
    if neutralise and column in GUARDED:
        value = (
            f"(CASE WHEN left({value}, 1) IN {_FORMULA} "
            f"THEN chr(39) || {value} ELSE {value} END)"
        )
    return f"{value} AS c_{column}"


def _csv_quoted(column: str) -> str:
    name = f"c_{column}"
    if column in _QUOTE_NEVER:
        return name
    needs = " OR ".join(f"contains({name}, {ch})" for ch in _SPECIALS)
    return (
        f"(CASE WHEN {needs} THEN chr(34) || replace({name}, chr(34), "
        f"chr(34) || chr(34)) || chr(34) ELSE {name} END)"
    )


def csv_line_sql(neutralise: bool) -> LineSql:
    """One RFC 4180 CSV record (CRLF-ended); each cell is computed once.

    One concat() call builds the line: chained `||` copies it once per part.
    """
    cells = ", ".join(_csv_value(c, neutralise) for c in CSV_COLUMNS)
    record = ", ',', ".join(_csv_quoted(c) for c in CSV_COLUMNS)
    return cells, f"concat({record}, chr(13), chr(10))"


def json_line_sql() -> LineSql:
    """One entry as compact JSON and a newline, absent optional fields left out.

    concat() skips NULL arguments: that is how an absent field is left out.
    """
    context = (
        "CASE WHEN json_valid(context) THEN context "
        "ELSE CAST(to_json(context) AS VARCHAR) END"
    )
    synced = f"strftime(synced_at, '{ISO_US_FORMAT}')"
    parts = [
        """'{"id":'""", "to_json(id)",
        """',"trace_id":'""", "to_json(trace_id)",
        """',"user_id":' || to_json(user_id)""",
        """',"system":'""", "to_json(system)",
        """',"level":'""", "to_json(level)",
        """',"message":'""", "to_json(message)",
        """',"timestamp":'""", "CAST(timestamp AS VARCHAR)",
        """',"time":"'""", ISO_MS_SQL,
        """'"'""",
        f"""',"context":' || ({context})""",
        """',"stack":' || to_json(stack)""",
        """',"synced_at":'""", f"""coalesce('"' || {synced} || '"', 'null')""",
        """',"sync_run_id":'""", "coalesce(CAST(sync_run_id AS VARCHAR), 'null')",
        "'}'", "chr(10)",
    ]  # fmt: skip
    return "", f"concat({', '.join(parts)})"


def _flagged_sql(trigger: str | None) -> str:
    if trigger is None:
        return "false"
    return (
        "regexp_matches(concat_ws(chr(10), message, user_id, context, stack), $trigger)"
    )


def _lines_sql(
    line: LineSql, where: str, trigger: str | None, order: str, extra: str = ""
) -> str:
    cells, expr = line
    # Only flagged rows need their fields back (Python formats those).
    fields = ", ".join(
        f if f in _ALWAYS else f"CASE WHEN flagged THEN {f} END AS {f}"
        for f in LINE_FIELDS
    )
    rows = (
        f"SELECT *, {_flagged_sql(trigger)} AS flagged{extra} "
        f"FROM debug_logs WHERE {where}"
    )
    if cells:
        rows = f"SELECT *, {cells} FROM ({rows})"
    return (
        f"SELECT CASE WHEN flagged THEN NULL ELSE CAST({expr} AS VARCHAR) "
        f"END AS line, {fields} FROM ({rows}) ORDER BY {order}"
    )


def time_windows(
    con: duckdb.DuckDBPyConnection, flt: LogFilter, rows_per_window: int
) -> list[tuple[int | None, int | None]]:
    """[start, end) timestamp windows holding about `rows_per_window` rows each.

    Only the timestamp column is sorted to find them, so this costs a few
    bytes per row, not a row's worth.
    """
    where, params = where_clause(flt)
    # fetchall() completes each result: a pending one would block con.sql().
    counted = con.execute(
        f"SELECT count(*) FROM debug_logs WHERE {where}", params
    ).fetchall()
    parts = -(-int(counted[0][0]) // rows_per_window)
    if parts <= 1:
        return [(None, None)]
    cuts = ", ".join(f"{i / parts:.6f}" for i in range(1, parts))
    found = con.execute(
        f"SELECT quantile_disc(timestamp, [{cuts}]) FROM debug_logs WHERE {where}",
        params,
    ).fetchall()
    # Entries sharing a millisecond stay in one window: a burst larger than
    # `rows_per_window` in the same millisecond makes its window that large.
    bounds: list[int | None] = sorted(set(found[0][0]))
    edges = [None, *bounds, None]
    return list(pairwise(edges))


def line_batches(
    con: duckdb.DuckDBPyConnection,
    flt: LogFilter,
    line: LineSql,
    *,
    trigger: str | None,
    chunk: int = 30_000,
) -> Iterator[Any]:
    """Export lines of every filtered row, oldest first, as Arrow tables.

    Each table has `line` and the row's fields. Where `trigger` (a
    case-insensitive RE2 pattern) matches the row's text, `line` is NULL and
    the fields are filled; elsewhere only id, trace_id and timestamp are.
    Rows are read in
    time windows of about `chunk` rows, so memory stays flat.
    """
    where, params = where_clause(flt)
    if trigger is not None:
        params["trigger"] = "(?i)" + trigger
    for start, end in time_windows(con, flt, chunk):
        cond = where
        if start is not None:
            cond += f" AND timestamp >= {int(start)}"
        if end is not None:
            cond += f" AND timestamp < {int(end)}"
        sql = _lines_sql(line, cond, trigger, "timestamp, id")
        table = con.sql(sql, params=params).to_arrow_table()
        if table.num_rows:
            yield table


def line_batches_by_trace(
    con: duckdb.DuckDBPyConnection,
    flt: LogFilter,
    line: LineSql,
    *,
    trigger: str | None,
    chunk: int = 50_000,
) -> Iterator[Any]:
    """Like `line_batches`, grouped by trace (traces by first entry).

    One sorted query: DuckDB holds the sort, spilling to disk when large.
    """
    where, params = where_clause(flt)
    if trigger is not None:
        params["trigger"] = "(?i)" + trigger
    t0 = ", min(timestamp) OVER (PARTITION BY trace_id) AS t0"
    sql = _lines_sql(line, where, trigger, "t0, trace_id, timestamp, id", t0)
    yield from con.sql(sql, params=params).to_arrow_reader(chunk)
