"""The AI text export: markdown meant to be pasted into an assistant's prompt.

A short header, then per trace a summary and a timeline: one line per entry
with its offset from the trace start, context as compact JSON under it and
stacks in fenced blocks. Identical consecutive entries collapse into one line.
Log text is data: line endings become `\\n` and other control characters
(ANSI escapes included) are shown as `\\x1b`-style escapes, so printing the
export cannot drive the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb

from logsync_tui import __version__
from logsync_tui.export.common import compact_json, parse_context
from logsync_tui.export.spec import (
    ExportReport,
    ExportSpec,
    LeftOut,
    estimate_tokens,
    offset,
)
from logsync_tui.redact import Redactor
from logsync_tui.storage.export_queries import (
    TraceSummary,
    iter_rows_by_trace,
    trace_summaries,
)
from logsync_tui.storage.queries import LogRow
from logsync_tui.timeparse import iso_ms

SUMMARY_CHARS = 200
"""The first error's message is cut to this in a trace summary line."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BACKTICKS = re.compile(r"`+")


@dataclass
class Block:
    """One timeline line: an entry, or a run of identical consecutive entries."""

    trace: TraceSummary
    rows: list[LogRow]
    tokens: int = 0

    @property
    def first(self) -> LogRow:
        """The entry the line shows."""
        return self.rows[0]

    @property
    def start_ms(self) -> int:
        """When the first of its entries happened."""
        return self.rows[0].timestamp

    @property
    def end_ms(self) -> int:
        """When the last of its entries happened."""
        return self.rows[-1].timestamp


@dataclass
class Timeline:
    """A trace with its blocks in time order."""

    summary: TraceSummary
    blocks: list[Block] = field(default_factory=list)
    dropped: bool = False
    """Left out whole by a token budget (only traces without errors are)."""

    def left_out(self) -> LeftOut:
        """The whole trace as one left-out item."""
        s = self.summary
        levels = {k: v for k, v in s.by_level.items() if v}
        return LeftOut(s.trace_id, s.entries, levels, s.start_ms, s.end_ms, True)


def clean(text: str) -> str:
    """Log text made safe to print: one newline kind, control bytes escaped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def plural(n: int, noun: str) -> str:
    """`1 trace`, `2 traces`, `3 entries`."""
    if n == 1:
        return f"1 {noun}"
    return f"{n} {noun[:-1]}ies" if noun.endswith("y") else f"{n} {noun}s"


def fenced(text: str, indent: str = "  ") -> list[str]:
    """`text` in a fenced code block longer than any backtick run inside it."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = [indent + line if line else "" for line in clean(text).split("\n")]
    return [indent + fence + "text", *body, indent + fence]


def inline_code(text: str) -> str:
    """`text` as inline code, whatever backticks it holds."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _same(a: LogRow, b: LogRow) -> bool:
    return (a.system, a.level, a.user_id, a.message, a.context, a.stack) == (
        b.system,
        b.level,
        b.user_id,
        b.message,
        b.context,
        b.stack,
    )


def load_timelines(con: duckdb.DuckDBPyConnection, spec: ExportSpec) -> list[Timeline]:
    """Every trace in scope with its entries collapsed into blocks."""
    flt = spec.scope()
    timelines = {s.trace_id: Timeline(s) for s in trace_summaries(con, flt)}
    for row in iter_rows_by_trace(con, flt):
        blocks = timelines[row.trace_id].blocks
        if blocks and _same(blocks[-1].rows[-1], row):
            blocks[-1].rows.append(row)
        else:
            blocks.append(Block(timelines[row.trace_id].summary, [row]))
    return list(timelines.values())


def block_lines(block: Block, red: Redactor, show_user: bool) -> list[str]:
    """The markdown lines of one timeline block."""
    row = block.first
    origin = block.trace.start_ms
    who = f" user={clean(red.text(row.user_id))}" if show_user and row.user_id else ""
    head = f"- {offset(row.timestamp - origin)} {row.system} {row.level.upper()}{who}:"
    if len(block.rows) > 1:
        head = head[:-1] + (
            f" ({len(block.rows)} identical, to {offset(block.end_ms - origin)}):"
        )
    message = clean(red.text(row.message))
    if "\n" in message:
        lines = [head, *fenced(message)]
    else:
        lines = [f"{head} {message}" if message else head]
    return lines + _detail_lines(row, red)


def _detail_lines(row: LogRow, red: Redactor) -> list[str]:
    lines: list[str] = []
    context = parse_context(row.context)
    if context not in (None, {}, [], ""):
        lines.append("  context: " + clean(compact_json(red.value(context))))
    if row.stack:
        lines += fenced(red.text(row.stack))
    return lines


def trace_lines(tl: Timeline, shown: set[int] | None, red: Redactor) -> list[str]:
    """A trace's heading, summary and timeline; `shown` = block ids kept."""
    lines = ["", f"## Trace {inline_code(tl.summary.trace_id)}", ""]
    lines += _summary_lines(tl.summary, red.enabled)
    lines.append("")
    user: str | None = None
    hidden: list[Block] = []
    for block in tl.blocks:
        if shown is not None and id(block) not in shown:
            hidden.append(block)
            continue
        if hidden:
            lines.append(gap_line(left_out(hidden), tl.summary.start_ms))
            hidden = []
        show_user = block.first.user_id is not None and block.first.user_id != user
        lines += block_lines(block, red, show_user)
        user = block.first.user_id or user
    if hidden:
        lines.append(gap_line(left_out(hidden), tl.summary.start_ms))
    return lines


def _summary_lines(s: TraceSummary, redact: bool) -> list[str]:
    errors, warns = s.by_level.get("error", 0), s.by_level.get("warn", 0)
    parts = [
        f"{s.entries} entries",
        "systems " + " -> ".join(s.systems),
        f"duration {s.duration_ms / 1000:.3f}s",
        f"{errors} error{'s' if errors != 1 else ''}",
        f"{warns} warning{'s' if warns != 1 else ''}",
    ]
    lines = [
        " · ".join(parts),
        f"Start {iso_ms(s.start_ms)}, end {iso_ms(s.end_ms)}.",
    ]
    if s.first_error is not None:
        # Counted once, in the entry it comes from.
        first = Redactor(redact).text(s.first_error.message)
        line = clean(first).split("\n", 1)[0]
        if len(line) > SUMMARY_CHARS:
            line = line[:SUMMARY_CHARS] + f"... ({len(first):,} characters in all)"
        at = offset(s.first_error.timestamp - s.start_ms)
        lines.append(f"First error at {at}: {line}")
    return lines


def left_out(blocks: Iterable[Block]) -> LeftOut:
    """What a run of hidden blocks held."""
    rows = [row for block in blocks for row in block.rows]
    by_level: dict[str, int] = {}
    for row in rows:
        by_level[row.level] = by_level.get(row.level, 0) + 1
    return LeftOut(
        trace_id=rows[0].trace_id,
        entries=len(rows),
        by_level=by_level,
        start_ms=rows[0].timestamp,
        end_ms=rows[-1].timestamp,
    )


def gap_line(item: LeftOut, origin_ms: int) -> str:
    """The timeline line that marks entries a token budget left out."""
    return f"- ... left out {item.describe(origin_ms)}"


def header_lines(
    spec: ExportSpec,
    timelines: list[Timeline],
    report: ExportReport,
    now_ms: int,
) -> list[str]:
    """The document header: what, how much, which span, redaction, budget."""
    entries = sum(t.summary.entries for t in timelines)
    lines = [
        "# logsync export",
        "",
        f"- Command: {inline_code(spec.command())}",
        f"- Generated: {iso_ms(now_ms)} by logsync {__version__}",
        f"- Scope: {plural(len(timelines), 'trace')}, {plural(entries, 'entry')}",
    ]
    if timelines:
        start = min(t.summary.start_ms for t in timelines)
        end = max(t.summary.end_ms for t in timelines)
        lines.append(
            f"- Time span: {iso_ms(start)} to {iso_ms(end)} "
            f"({(end - start) / 1000:.3f}s)"
        )
    lines.append("- Redaction: " + _redaction_text(spec, report))
    if spec.max_tokens is not None:
        lines.append("- Token budget: " + _budget_text(spec, report, entries))
    return lines


def _redaction_text(spec: ExportSpec, report: ExportReport) -> str:
    if not spec.redact:
        return "off"
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(report.redacted.items()))
    return f"on, {report.redacted_count} values redacted" + (
        f" ({kinds})" if kinds else ""
    )


def _budget_text(spec: ExportSpec, report: ExportReport, total: int) -> str:
    text = f"{spec.max_tokens:,} tokens"
    if not report.left_out:
        return text + "; nothing left out"
    levels: dict[str, int] = {}
    for item in report.left_out:
        for level, n in item.by_level.items():
            levels[level] = levels.get(level, 0) + n
    shown = ", ".join(f"{k} {v}" for k, v in levels.items())
    gaps = sum(1 for i in report.left_out if not i.whole_trace)
    whole = len(report.left_out) - gaps
    start = min(i.start_ms for i in report.left_out)
    end = max(i.end_ms for i in report.left_out)
    where = [f"{gaps} {'gap' if gaps == 1 else 'gaps'} each marked in its trace"]
    if whole:
        where.append(f"{plural(whole, 'whole trace')} without errors")
    return (
        f"{text}; left out {report.left_out_entries} of {total} entries "
        f"({shown}) between {iso_ms(start)} and {iso_ms(end)}, in "
        f"{' and '.join(where)}; every error is kept"
    )


def render_markdown(
    spec: ExportSpec,
    timelines: list[Timeline],
    shown: set[int] | None,
    now_ms: int,
) -> tuple[str, ExportReport]:
    """The whole document, with only the `shown` blocks (None: all)."""
    red = Redactor(spec.redact)
    report = ExportReport(format=spec.format, command=spec.command())
    body: list[str] = []
    for tl in timelines:
        if tl.dropped:
            report.left_out.append(tl.left_out())
            continue
        body += trace_lines(tl, shown, red)
        kept = [b for b in tl.blocks if shown is None or id(b) in shown]
        report.entries += sum(len(b.rows) for b in kept)
        report.left_out += _gaps(tl, shown)
        report.traces += 1
    report.redacted = dict(red.counts)
    text = "\n".join(header_lines(spec, timelines, report, now_ms) + body) + "\n"
    report.tokens_estimate = estimate_tokens(text)
    if spec.max_tokens is not None and report.tokens_estimate > spec.max_tokens:
        note = (
            f"- Over budget: about {report.tokens_estimate:,} tokens, because "
            "every error, and the summary of its trace, is kept whole"
        )
        head = header_lines(spec, timelines, report, now_ms)
        text = "\n".join([*head, note, *body]) + "\n"
        report.tokens_estimate = estimate_tokens(text)
    return text, report


def _gaps(tl: Timeline, shown: set[int] | None) -> list[LeftOut]:
    if shown is None:
        return []
    gaps: list[LeftOut] = []
    run: list[Block] = []
    for block in [*tl.blocks, None]:
        if block is not None and id(block) not in shown:
            run.append(block)
        elif run:
            gaps.append(left_out(run))
            run = []
    return gaps
