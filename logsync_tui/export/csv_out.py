"""The CSV writer: RFC 4180 quoting, UTF-8, formula cells neutralised."""

from __future__ import annotations

import csv

import duckdb

from logsync_tui.export.common import Sink, context_text
from logsync_tui.export.spec import ExportReport, ExportSpec
from logsync_tui.redact import Redactor
from logsync_tui.storage.export_queries import scope_counts
from logsync_tui.storage.queries import LogRow, iter_rows
from logsync_tui.timeparse import iso_ms

COLUMNS = (
    "id",
    "trace_id",
    "user_id",
    "system",
    "level",
    "timestamp",
    "time",
    "message",
    "context",
    "stack",
)
# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """`cell` with a leading `'` when a spreadsheet would run it as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def csv_cells(row: LogRow, red: Redactor) -> list[str]:
    """One entry as CSV cells in `COLUMNS` order; absent fields are empty."""
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


def write_csv(
    con: duckdb.DuckDBPyConnection,
    spec: ExportSpec,
    sink: Sink,
    report: ExportReport,
) -> None:
    """A header row, then one row per entry, oldest first."""
    flt = spec.scope()
    red = Redactor(spec.redact)
    if spec.excel:
        sink.write_bytes("\ufeff".encode())
    writer = csv.writer(sink, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in iter_rows(con, flt):
        cells = csv_cells(row, red)
        writer.writerow(cells if spec.raw_csv else [neutralise(c) for c in cells])
        report.entries += 1
    report.traces = scope_counts(con, flt).traces
    report.redacted = dict(red.counts)
