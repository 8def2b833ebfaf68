"""Trace insight: the cross-system correlation kept from the old logging.

For one trace: the systems it crossed in order of first appearance, time per
system, duration, entries by level, chains of errors a few seconds apart that
cross systems (named: timeout cascade, connection failure, cross-system
chain) and flags for slow traces and high error or warning rates. Across
traces: how many crossed systems, average and p95 duration, the busiest.
The figures are computed in DuckDB (`storage/insight.py`); this module names
them and applies the thresholds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from logsync_tui.storage import insight as sql
from logsync_tui.timeparse import iso_ms

CHAIN_WINDOW_MS = 5_000
"""Errors at most this far apart belong to one chain."""
SLOW_MS = 5_000
"""A trace lasting longer than this is slow."""
HIGH_ERROR_RATE = 0.2
HIGH_WARN_RATE = 0.3
MOST_ACTIVE = 5

TIMEOUT_RE = r"time[d ]?\s?out|deadline exceeded|etimedout|\b504\b"
CONNECTION_RE = (
    r"econnrefused|econnreset|enotfound|connection (refused|reset|closed|lost)|"
    r"network ?error|fetch failed|socket hang up|unreachable|\b50[23]\b"
)


@dataclass(frozen=True)
class TraceRow:
    """One line of the trace list."""

    trace_id: str
    users: tuple[str, ...]
    systems: tuple[str, ...]
    start_ms: int
    end_ms: int
    entries: int
    errors: int
    warnings: int

    @property
    def duration_ms(self) -> int:
        """Time from the first entry to the last."""
        return self.end_ms - self.start_ms

    @property
    def flags(self) -> tuple[str, ...]:
        """`slow`, `high error rate`, `high warning rate`, as they apply."""
        out = []
        if self.duration_ms > SLOW_MS:
            out.append("slow")
        if self.entries and self.errors / self.entries >= HIGH_ERROR_RATE:
            out.append("high error rate")
        if self.entries and self.warnings / self.entries >= HIGH_WARN_RATE:
            out.append("high warning rate")
        return tuple(out)

    def as_json(self) -> dict[str, Any]:
        """The row as a JSON-ready dict, with duration and flags."""
        data = asdict(self)
        data.update(duration_ms=self.duration_ms, flags=list(self.flags))
        return data


@dataclass(frozen=True)
class SystemTime:
    """One system's part of a trace."""

    system: str
    first_ms: int
    last_ms: int
    entries: int
    time_ms: int


@dataclass(frozen=True)
class Segment:
    """A run of consecutive entries from one system: one waterfall bar."""

    system: str
    start_ms: int
    end_ms: int
    entries: int


@dataclass(frozen=True)
class ErrorChain:
    """Errors a few seconds apart across systems, with the pattern named."""

    start_ms: int
    end_ms: int
    errors: int
    systems: tuple[str, ...]
    """Systems in order of their first error in the chain."""
    pattern: str
    first_message: str


@dataclass(frozen=True)
class TraceInsight:
    """Everything the insight says about one trace."""

    trace: TraceRow
    levels: dict[str, int]
    systems: list[SystemTime]
    segments: list[Segment]
    chains: list[ErrorChain]

    def as_json(self) -> dict[str, Any]:
        """The insight as a JSON-ready dict."""
        data = asdict(self)
        data["trace"] = self.trace.as_json()
        return data


@dataclass(frozen=True)
class Overview:
    """Figures across every trace of the store."""

    traces: int
    multi_system: int
    avg_duration_ms: float | None
    p95_duration_ms: float | None
    slow: int
    most_active: list[TraceRow] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The overview as a JSON-ready dict."""
        data = asdict(self)
        data["most_active"] = [t.as_json() for t in self.most_active]
        return data


def list_traces(
    con: duckdb.DuckDBPyConnection,
    *,
    search: str = "",
    sort: str = "start",
    descending: bool = True,
    limit: int = 200,
    offset: int = 0,
) -> list[TraceRow]:
    """Traces of the store, sorted and filtered (`search` matches id, users
    and systems)."""
    rows = sql.trace_rows(
        con,
        search=search,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
    )
    return [_trace_row(r) for r in rows]


def _trace_row(row: tuple[Any, ...]) -> TraceRow:
    trace_id, users, systems, *rest = row
    return TraceRow(str(trace_id), tuple(users), tuple(systems), *map(int, rest))


def trace_insight(con: duckdb.DuckDBPyConnection, trace_id: str) -> TraceInsight | None:
    """The full insight of one trace, or None when the store has no such trace."""
    rows = sql.trace_rows(con, traces=(trace_id,), limit=1)
    if not rows:
        return None
    return TraceInsight(
        trace=_trace_row(rows[0]),
        levels=sql.level_counts(con, trace_id),
        systems=[SystemTime(*r) for r in sql.system_times(con, trace_id)],
        segments=[Segment(*r) for r in sql.segments(con, trace_id)],
        chains=[_chain(r) for r in _chain_rows(con, trace_id)],
    )


def _chain_rows(con: duckdb.DuckDBPyConnection, trace_id: str) -> list[Any]:
    return sql.error_chains(con, trace_id, CHAIN_WINDOW_MS, TIMEOUT_RE, CONNECTION_RE)


def _chain(row: tuple[Any, ...]) -> ErrorChain:
    start, end, errors, systems, message, timeout, connection = row
    return ErrorChain(
        start_ms=int(start),
        end_ms=int(end),
        errors=int(errors),
        systems=tuple(dict.fromkeys(systems)),
        pattern=chain_pattern(bool(timeout), bool(connection)),
        first_message=str(message),
    )


def chain_pattern(timeout: bool, connection: bool) -> str:
    """The name of a chain: a timeout anywhere in it wins over a connection
    failure; a chain with neither is a plain cross-system chain."""
    if timeout:
        return "timeout cascade"
    if connection:
        return "connection failure"
    return "cross-system chain"


def overview(con: duckdb.DuckDBPyConnection) -> Overview:
    """Figures across every trace of the store."""
    total, multi, avg, p95, slow = sql.overview_row(con, SLOW_MS)
    busiest = list_traces(con, sort="entries", limit=MOST_ACTIVE)
    return Overview(
        traces=int(total),
        multi_system=int(multi),
        avg_duration_ms=None if avg is None else float(avg),
        p95_duration_ms=None if p95 is None else float(p95),
        slow=int(slow),
        most_active=busiest,
    )


def format_duration(ms: float | None) -> str:
    """A duration for people: `850 ms`, `12.0 s`, `3m 05s`."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes}m {seconds:02d}s"


def format_trace_list(view: Overview, traces: list[TraceRow]) -> str:
    """The overview and one line per trace, as `logsync traces` prints them."""
    lines = [
        f"{view.traces:,} traces, {view.multi_system:,} across several systems, "
        f"{view.slow:,} slow; duration avg {format_duration(view.avg_duration_ms)}, "
        f"p95 {format_duration(view.p95_duration_ms)}"
    ]
    for t in traces:
        flags = f"  [{', '.join(t.flags)}]" if t.flags else ""
        lines.append(
            f"{t.trace_id}  {iso_ms(t.start_ms)}  {format_duration(t.duration_ms):>8}"
            f"  {t.entries:>6,} entries {t.errors:>5,} errors  "
            f"{'>'.join(t.systems)}  {','.join(t.users) or '-'}{flags}"
        )
    return "\n".join(lines)


def format_insight(found: TraceInsight) -> str:
    """One trace's insight as text lines."""
    t = found.trace
    levels = ", ".join(f"{k} {v:,}" for k, v in found.levels.items())
    lines = [
        f"trace {t.trace_id}: {' > '.join(t.systems)}",
        f"  from {iso_ms(t.start_ms)} for {format_duration(t.duration_ms)}, "
        f"{t.entries:,} entries ({levels}), users {', '.join(t.users) or '-'}",
    ]
    if t.flags:
        lines.append(f"  flags: {', '.join(t.flags)}")
    for s in found.systems:
        lines.append(
            f"  {s.system:<8} {format_duration(s.time_ms):>8}  {s.entries:,} entries"
        )
    for c in found.chains:
        span = format_duration(c.end_ms - c.start_ms)
        first = " ".join(c.first_message.split())[:120]
        lines.append(
            f"  {c.pattern}: {c.errors} errors in {span} across "
            f"{' > '.join(c.systems)}, first: {first}"
        )
    return "\n".join(lines)
