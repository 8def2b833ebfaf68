"""The JSON document (header, traces with their entries) and JSON Lines writers.

Both stream: entries go out as they are read, so memory stays flat.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from logsync_tui import __version__
from logsync_tui.export.common import (
    Sink,
    compact_json,
    finished_lines,
    json_line,
    write_lines,
)
from logsync_tui.export.spec import ExportReport, ExportSpec
from logsync_tui.redact import TRIGGER_PATTERN, Redactor
from logsync_tui.storage.export_queries import (
    ScopeCounts,
    TraceSummary,
    json_line_sql,
    line_batches,
    line_batches_by_trace,
    scope_counts,
    trace_summaries,
)
from logsync_tui.timeparse import iso_ms


def header_json(spec: ExportSpec, counts: ScopeCounts, now_ms: int) -> dict[str, Any]:
    """The `export` header: when, by what, which slice, how much, which span."""
    span: dict[str, Any] = {"start": None, "end": None, "duration_ms": None}
    if counts.start_ms is not None and counts.end_ms is not None:
        span = {
            "start": iso_ms(counts.start_ms),
            "end": iso_ms(counts.end_ms),
            "start_ms": counts.start_ms,
            "end_ms": counts.end_ms,
            "duration_ms": counts.end_ms - counts.start_ms,
        }
    return {
        "generated_at": iso_ms(now_ms),
        "logsync_version": __version__,
        "command": spec.command(),
        "format": "jsonl" if spec.jsonl else spec.format,
        "filters": spec.filters_json(),
        "redaction": spec.redact,
        "counts": {
            "entries": counts.entries,
            "traces": counts.traces,
            "by_system": counts.by_system,
            "by_level": counts.by_level,
        },
        "time_span": span,
    }


def trace_json(summary: TraceSummary, red: Redactor) -> dict[str, Any]:
    """A trace's metadata (without its entries)."""
    error = summary.first_error
    return {
        "id": summary.trace_id,
        "users": [red.text(u) for u in summary.users],
        "systems": summary.systems,
        "start": iso_ms(summary.start_ms),
        "end": iso_ms(summary.end_ms),
        "start_ms": summary.start_ms,
        "end_ms": summary.end_ms,
        "duration_ms": summary.duration_ms,
        "entry_count": summary.entries,
        "counts_by_level": summary.by_level,
        "first_error": None
        if error is None
        else {
            "id": error.id,
            "time": iso_ms(error.timestamp),
            "timestamp": error.timestamp,
            "message": red.text(error.message),
        },
    }


def write_json(
    con: duckdb.DuckDBPyConnection,
    spec: ExportSpec,
    sink: Sink,
    report: ExportReport,
    now_ms: int,
) -> None:
    """One JSON document: `export` header, `traces`, then `redaction` counts.

    Each entry sits on its own line, as compact JSON.
    """
    flt = spec.scope()
    red = Redactor(spec.redact)
    header = header_json(spec, scope_counts(con, flt), now_ms)
    sink.write('{\n  "export": ' + _indented(header) + ',\n  "traces": [')
    summaries = {s.trace_id: s for s in trace_summaries(con, flt)}
    tables = line_batches_by_trace(con, flt, json_line_sql(), trigger=_trigger(spec))
    report.entries = _write_traces(sink, tables, summaries, red)
    report.traces = len(summaries)
    report.redacted = dict(red.counts)
    tail = {"enabled": spec.redact, "redacted": red.total, "by_kind": red.counts}
    sink.write('],\n  "redaction": ' + compact_json(tail) + "\n}\n")


def _write_traces(
    sink: Sink, tables: Any, summaries: dict[str, TraceSummary], red: Redactor
) -> int:
    """Each trace's metadata followed by its entries; returns entries written."""
    current: str | None = None
    count = 0
    for lines, traces in finished_lines(tables, lambda row: json_line(row, red)):
        parts: list[str] = []
        for line, trace_id in zip(lines, traces, strict=True):
            if trace_id != current:
                parts.append(_trace_open(summaries[trace_id], current is None, red))
                current = trace_id
            else:
                parts.append(",")
            parts.append("\n      " + line[:-1])
        sink.write("".join(parts))
        count += len(lines)
    if current is not None:
        sink.write("\n    ]}\n  ")
    return count


def _trigger(spec: ExportSpec) -> str | None:
    return TRIGGER_PATTERN if spec.redact else None


def _trace_open(summary: TraceSummary, first: bool, red: Redactor) -> str:
    # Values in trace metadata are redacted like entries, but counted once:
    # in the entries they come from.
    meta = compact_json(trace_json(summary, Redactor(red.enabled)))
    lead = "\n    " if first else "\n    ]},\n    "
    return lead + meta[:-1] + ',"entries":['


def _indented(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return text.replace("\n", "\n  ")


def write_jsonl(
    con: duckdb.DuckDBPyConnection,
    spec: ExportSpec,
    sink: Sink,
    report: ExportReport,
    now_ms: int,
) -> None:
    """A header line `{"export": {...}}`, then one entry per line, oldest first."""
    flt = spec.scope()
    red = Redactor(spec.redact)
    counts = scope_counts(con, flt)
    sink.write(compact_json({"export": header_json(spec, counts, now_ms)}) + "\n")
    tables = line_batches(con, flt, json_line_sql(), trigger=_trigger(spec))
    report.entries = write_lines(sink, tables, lambda row: json_line(row, red))
    report.traces = counts.traces
    report.redacted = dict(red.counts)
