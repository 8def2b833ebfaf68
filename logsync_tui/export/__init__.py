"""Exports of stored logs: JSON, JSON Lines, AI text (markdown) and CSV.

Public API (everything here is free of Textual and safe in a worker thread;
pass the calling thread's own DuckDB cursor as `con`):

- `ExportSpec(format="text"|"json"|"csv", filter=LogFilter(...), traces=(),
  redact=True, max_tokens=None, jsonl=False, raw_csv=False, excel=False)`:
  what to export. `traces` (explicit trace ids) replaces `filter.traces`.
  `spec.validate()` raises `UsageError` for options that do not fit the
  format; `spec.command()` is the equivalent `logsync export ...` line;
  `spec.suffix` the fitting file extension.
- `write_export(con, spec, out: BinaryIO, now_ms=None) -> ExportReport`:
  streams the export as UTF-8 bytes into `out` (CSV and JSONL keep memory
  flat for any size; the JSON document has DuckDB sort its scope by trace;
  AI text holds its scope in memory, so keep that to a trace or a view).
- `render_export(con, spec, now_ms=None) -> (str, ExportReport)`: the whole
  export as a string, for the clipboard.
- `preview_export(con, spec, max_chars=20_000) -> (str, bool)`: the start of
  the export and whether it was cut. CSV and JSONL stop reading early; the
  JSON document and AI text prepare their whole scope first.
- `save_export(con, spec, path, force=False, now_ms=None) -> ExportReport`:
  writes a file; never overwrites one without `force` (raises
  `ExportError`); a failed export leaves no partial file.
- `default_filename(spec, now_ms) -> str`: e.g.
  `logsync-trace-abc-20261204-154125.md`.
- `estimate_tokens(text) -> int`: the token estimate the reports use.
- `copy_text(text, osc52=None, fallback_dir=None) -> CopyOutcome`: pyperclip
  first; when the system has no clipboard it never raises: it calls `osc52`
  (e.g. `app.copy_to_clipboard`) and/or writes a file in `fallback_dir`,
  and `CopyOutcome(copied, chars, mechanism, fallback, path, reason)` with
  `.message` says which.
- `ExportReport(format, command, bytes, tokens_estimate, entries, traces,
  redacted: {kind: n}, left_out: [LeftOut])` with `.redacted_count`,
  `.left_out_entries` and `.summary()` (one line for people). `entries` and
  `traces` count what was written; `LeftOut(trace_id, entries, by_level,
  start_ms, end_ms, whole_trace)` is one run a token budget dropped.

Redaction (on unless `redact=False`) replaces bearer and JWT tokens, values
under password/secret/token/api-key-like keys at any depth, common API key
shapes, URL passwords and e-mail addresses with `[redacted:KIND]`. It works
on copies: the store is never changed.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import BinaryIO

import duckdb

from logsync_tui.export.budget import fit_budget
from logsync_tui.export.common import Sink
from logsync_tui.export.csv_out import write_csv
from logsync_tui.export.deliver import (
    CopyOutcome,
    copy_text,
    default_filename,
    open_output,
)
from logsync_tui.export.json_out import write_json, write_jsonl
from logsync_tui.export.spec import (
    FORMATS,
    ExportReport,
    ExportSpec,
    LeftOut,
    estimate_tokens,
    tokens_for,
)
from logsync_tui.export.text_out import load_timelines
from logsync_tui.timeparse import now_ms as clock_ms

__all__ = [
    "FORMATS",
    "CopyOutcome",
    "ExportReport",
    "ExportSpec",
    "LeftOut",
    "copy_text",
    "default_filename",
    "estimate_tokens",
    "preview_export",
    "render_export",
    "save_export",
    "write_export",
]


def write_export(
    con: duckdb.DuckDBPyConnection,
    spec: ExportSpec,
    out: BinaryIO,
    *,
    now_ms: int | None = None,
) -> ExportReport:
    """Write the export `spec` describes into `out` and report what it wrote."""
    spec.validate()
    now = clock_ms() if now_ms is None else now_ms
    sink = Sink(out)
    report = ExportReport(format=spec.format, command=spec.command())
    if spec.format == "text":
        text, report = fit_budget(spec, load_timelines(con, spec), now)
        sink.write(text)
    elif spec.format == "csv":
        write_csv(con, spec, sink, report)
    elif spec.jsonl:
        write_jsonl(con, spec, sink, report, now)
    else:
        write_json(con, spec, sink, report, now)
    sink.flush()
    report.bytes = sink.bytes
    report.tokens_estimate = tokens_for(sink.chars, sink.text_bytes)
    return report


def render_export(
    con: duckdb.DuckDBPyConnection, spec: ExportSpec, *, now_ms: int | None = None
) -> tuple[str, ExportReport]:
    """The whole export as text (held in memory), with its report."""
    buffer = io.BytesIO()
    report = write_export(con, spec, buffer, now_ms=now_ms)
    return buffer.getvalue().decode("utf-8"), report


class _PreviewFull(Exception):
    """The preview buffer has what it needs."""


class _Bounded(io.BytesIO):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, data: bytes) -> int:  # type: ignore[override]
        written = super().write(data)
        if self.tell() >= self.limit:
            raise _PreviewFull
        return written


def preview_export(
    con: duckdb.DuckDBPyConnection,
    spec: ExportSpec,
    *,
    max_chars: int = 20_000,
    now_ms: int | None = None,
) -> tuple[str, bool]:
    """The first `max_chars` characters of the export, and whether it goes on."""
    buffer = _Bounded(max_chars * 4)
    with contextlib.suppress(_PreviewFull):
        write_export(con, spec, buffer, now_ms=now_ms)
    text = buffer.getvalue().decode("utf-8", errors="ignore")
    return text[:max_chars], len(text) > max_chars or buffer.tell() >= buffer.limit


def save_export(
    con: duckdb.DuckDBPyConnection,
    spec: ExportSpec,
    path: Path,
    *,
    force: bool = False,
    now_ms: int | None = None,
) -> ExportReport:
    """Write the export to `path` (never over an existing file without `force`)."""
    spec.validate()
    with open_output(path, force=force) as out:
        return write_export(con, spec, out, now_ms=now_ms)
