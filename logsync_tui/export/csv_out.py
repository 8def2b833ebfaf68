"""The CSV writer: RFC 4180 quoting, CRLF, UTF-8, formula cells neutralised.

Lines come finished from DuckDB; rows that may hold a secret are redacted
and formatted here, byte for byte as DuckDB would have.
"""

from __future__ import annotations

import duckdb

from logsync_tui.export.common import Sink, context_text, write_lines
from logsync_tui.export.spec import ExportReport, ExportSpec
from logsync_tui.redact import TRIGGER_PATTERN, Redactor
from logsync_tui.storage.export_queries import (
    CSV_COLUMNS,
    GUARDED,
    csv_line_sql,
    line_batches,
    scope_counts,
)
from logsync_tui.storage.queries import LogRow
from logsync_tui.timeparse import iso_ms

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet runs a cell starting with one of these as a formula."""
_NEEDS_QUOTES = ('"', ",", "\n", "\r")
_GUARDED_AT = tuple(CSV_COLUMNS.index(c) for c in GUARDED)


def neutralise(cell: str) -> str:
    """`cell` with a leading `'` when a spreadsheet would run it as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def quote(cell: str) -> str:
    """`cell` quoted as RFC 4180 wants, only when it must be."""
    if any(ch in cell for ch in _NEEDS_QUOTES):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def csv_cells(row: LogRow, red: Redactor) -> list[str]:
    """One entry as CSV cells in `CSV_COLUMNS` order; absent fields are empty."""
    return [
        row.id,
        row.trace_id,
        red.text(row.user_id) if row.user_id is not None else "",
        row.system,
        row.level,
        str(row.timestamp),
        iso_ms(row.timestamp),
        red.text(row.message),
        context_text(row.context, red) or "",
        red.text(row.stack) if row.stack is not None else "",
    ]


def csv_line(row: LogRow, red: Redactor, guard: bool) -> str:
    """One CSV record, CRLF-ended."""
    cells = csv_cells(row, red)
    if guard:
        for i in _GUARDED_AT:
            cells[i] = neutralise(cells[i])
    return ",".join(quote(c) for c in cells) + "\r\n"


def write_csv(
    con: duckdb.DuckDBPyConnection,
    spec: ExportSpec,
    sink: Sink,
    report: ExportReport,
) -> None:
    """A header row, then one record per entry, oldest first."""
    flt = spec.scope()
    red = Redactor(spec.redact)
    guard = not spec.raw_csv
    if spec.excel:
        sink.write_bytes("\ufeff".encode())
    sink.write(",".join(CSV_COLUMNS) + "\r\n")
    tables = line_batches(
        con,
        flt,
        csv_line_sql(guard),
        trigger=TRIGGER_PATTERN if spec.redact else None,
    )
    report.entries = write_lines(sink, tables, lambda row: csv_line(row, red, guard))
    report.traces = scope_counts(con, flt).traces
    report.redacted = dict(red.counts)
