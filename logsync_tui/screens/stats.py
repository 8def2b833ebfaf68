"""The Stats screen: what the buffer holds, without importing it.

The buffer summary comes from `stats.buffer_stats` in a thread worker (it
scans Redis, or asks the Worker's /health and /traces/recent); the local
store's summary sits beside it and comes from a second worker in the "db"
group. With both URLs set, Redis is scanned and the Worker's health is shown
beside. When no source is set or it is unreachable a banner says why, and
the store side keeps working.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

import duckdb
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Sparkline, Static
from textual.worker import Worker, get_current_worker

from logsync_tui.errors import SourceError
from logsync_tui.sources.worker import WorkerSource
from logsync_tui.stats import (
    EXPIRY_WARNING_SECONDS,
    BufferStats,
    buffer_stats,
)
from logsync_tui.storage.summary import StoreSummary, store_summary
from logsync_tui.widgets import figures
from logsync_tui.widgets.safe_text import LEVEL_STYLES, SYSTEM_STYLES, one_line

if TYPE_CHECKING:
    from logsync_tui.app import LogsyncApp

log = logging.getLogger(__name__)

StatsLoader = Callable[..., BufferStats]
SummaryLoader = Callable[[duckdb.DuckDBPyConnection, Path], StoreSummary]
MINUTES = 60
MINUTE_MS = 60_000


def minute_series(
    per_minute: list[tuple[int, int]], now: int, minutes: int = MINUTES
) -> list[int]:
    """Entries in each of the last `minutes` minutes, oldest first, ending at now."""
    last = now // MINUTE_MS * MINUTE_MS
    first = last - (minutes - 1) * MINUTE_MS
    counts = dict(per_minute)
    return [counts.get(first + i * MINUTE_MS, 0) for i in range(minutes)]


RECENT_COLUMNS = (
    ("trace", 36),
    ("last entry", 23),
    ("entries", 7),
    ("systems", 26),
    ("errors", 6),
)


class StatsScreen(Screen[None]):
    """Buffer summary (connection, counts, TTL, entries per minute, recent traces)."""

    CSS_PATH = "stats.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh_stats", "Refresh", id="stats.refresh"),
    ]

    def __init__(
        self,
        *,
        clock: Callable[[], int] | None = None,
        load_stats: StatsLoader = buffer_stats,
        load_summary: SummaryLoader = store_summary,
    ) -> None:
        super().__init__()
        self._fixed_clock = clock
        self._load_stats = load_stats
        self._load_summary = load_summary
        self._scan_cancel = threading.Event()
        self._scan: Worker[None] | None = None

    @property
    def logsync(self) -> LogsyncApp:
        """The app, with its settings, store and source."""
        return cast("LogsyncApp", self.app)

    def _now(self) -> int:
        return (self._fixed_clock or self.logsync.clock)()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="banner", markup=False)
        with Horizontal(id="columns"):
            with VerticalScroll(id="buffer"):
                yield Static(id="connection", classes="panel")
                yield Static(id="worker", classes="panel")
                with Horizontal(id="figures"):
                    yield Static(id="counts", classes="panel")
                    yield Static(id="breakdown", classes="panel")
                yield Static(id="ttl", classes="panel")
                yield Static(id="cost", classes="panel")
                with Vertical(id="chart", classes="panel"):
                    yield Static(id="chart-title", markup=False)
                    yield Sparkline([], id="per-minute")
                    yield Static(id="chart-axis", markup=False)
                yield DataTable(
                    id="recent-traces", cursor_type="row", zebra_stripes=True
                )
            yield Static(id="store", classes="panel")
        yield Static(id="status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "logsync · Stats"
        table = self.query_one("#recent-traces", DataTable)
        table.border_title = "Most recent traces"
        # Fixed widths: a table sized to its content repaints its header one
        # refresh after its rows, and a screen caught in between is skewed.
        for label, width in RECENT_COLUMNS:
            table.add_column(label, key=label, width=width)
        worker_only = isinstance(self.logsync.source, WorkerSource)
        self.query_one("#connection").border_title = (
            "Buffer through the Worker" if worker_only else "Redis buffer"
        )
        self.query_one("#worker").border_title = "Worker"
        self.query_one("#worker").display = False
        self.query_one("#cost").border_title = "Requests"
        self.query_one("#cost").display = False
        self.query_one("#store").border_title = "Local store"
        self.query_one("#chart").border_title = "Entries per minute"
        self.query_one("#ttl").border_title = "Time to live"
        interval = self.logsync.settings.refresh_seconds
        if interval > 0:
            self.set_interval(interval, self.action_refresh_stats)
        self.action_refresh_stats()

    def on_screen_resume(self) -> None:
        self.load_store_summary()

    def on_unmount(self) -> None:
        self._scan_cancel.set()

    def action_refresh_stats(self) -> None:
        """Scan the buffer again and re-read the store summary."""
        self.load_store_summary()
        if self.logsync.source is None:
            self._show_banner(
                "No Redis configured (and no Worker URL): set LOGSYNC_REDIS_URL or "
                "LOGSYNC_WORKER_URL, or pass --redis-url or --worker-url. "
                "The local store beside still works."
            )
            self.query_one("#connection", Static).update(
                Text("○ no Redis or Worker configured", style="bold yellow")
            )
            self._set_status(Text("No buffer to scan.", style="dim"))
            return
        if self._scan is not None and self._scan.is_running:
            return  # The scan under way will show fresh figures.
        self._set_status(Text("Scanning the buffer…", style="italic"))
        self._scan = self.load_buffer_stats()

    @work(thread=True, exclusive=True, group="redis", exit_on_error=False)
    def load_buffer_stats(self) -> None:
        """Scan Redis (blocking I/O, so in a thread) and show the figures."""
        source = self.logsync.source
        if source is None:
            return
        beside = self.logsync.worker_beside
        extra: dict[str, Any] = {"worker": beside} if beside is not None else {}
        try:
            stats = self._load_stats(source, self._scan_cancel, **extra)
        except SourceError as exc:
            log.warning("stats: %s", exc.one_line())
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._show_unreachable, exc)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_stats, stats)

    @work(thread=True, exclusive=True, group="db", exit_on_error=False)
    def load_store_summary(self) -> None:
        """Read the store's size and counts on this thread's own cursor."""
        store = self.logsync.store
        con = store.cursor()
        try:
            summary = self._load_summary(con, store.path)
        finally:
            con.close()
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_summary, summary)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # StateChanged does not bubble: failures go to the app's one handler.
        self.logsync.on_worker_state_changed(event)

    def _show_banner(self, message: str | None) -> None:
        banner = self.query_one("#banner", Static)
        banner.update(Text(message or ""))
        banner.display = bool(message)

    def _set_status(self, text: Text) -> None:
        self.query_one("#status", Static).update(text)

    def _show_unreachable(self, error: SourceError) -> None:
        source = self.logsync.source
        what = "Worker" if isinstance(source, WorkerSource) else "Redis"
        self._show_banner(
            f"{what} unreachable: {error.cause.rstrip('.')}. Check the URL and the "
            "network; the Logs and Export screens still work on the local store."
        )
        where = source.describe() if source is not None else ""
        line = Text("○ unreachable ", style="bold red").append(where, style="")
        self.query_one("#connection", Static).update(line)
        self._set_status(Text(f"Last attempt at {figures.clock_time(self._now())}"))

    def _show_stats(self, stats: BufferStats) -> None:
        now = self._now()
        self._show_banner(None)
        self.query_one("#connection", Static).update(connection_text(stats))
        self._show_worker(stats)
        self.query_one("#counts", Static).update(counts_table(stats))
        self.query_one("#breakdown", Static).update(breakdown_table(stats))
        self.query_one("#ttl", Static).update(ttl_text(stats))
        # The Worker reports no entry times: there is no chart to draw.
        self.query_one("#chart").display = stats.kind != "worker"
        self._show_chart(stats, now)
        self._show_recent(stats, now)
        interval = self.logsync.settings.refresh_seconds
        every = f"every {figures.duration(interval)}" if interval > 0 else "on r"
        self._set_status(
            Text(
                f"Scanned in {stats.seconds:.2f}s at {figures.clock_time(now)} UTC · "
                f"refreshes {every}"
            )
        )

    def _show_worker(self, stats: BufferStats) -> None:
        panel = self.query_one("#worker", Static)
        panel.display = stats.worker is not None
        if stats.worker is not None:
            beside = self.logsync.worker_beside
            url = beside.describe() if beside is not None else None
            panel.update(worker_text(stats.worker, url))
        cost = self.query_one("#cost", Static)
        cost.display = bool(stats.cost or stats.notes)
        cost.update(cost_text(stats))

    def _show_chart(self, stats: BufferStats, now: int) -> None:
        series = minute_series(stats.per_minute, now)
        self.query_one("#per-minute", Sparkline).data = series
        peak = max(series)
        self.query_one("#chart-title", Static).update(
            Text(f"last hour · peak {figures.count(peak)} per minute")
        )
        axis = self.query_one("#chart-axis", Static)
        axis.update(chart_axis(now, max(axis.size.width, 20)))

    def _show_recent(self, stats: BufferStats, now: int) -> None:
        table = self.query_one("#recent-traces", DataTable)
        table.clear()
        for trace in stats.recent_traces:
            stamp = trace.get("timestamp")
            ts = int(stamp) if isinstance(stamp, int) else None
            errors = bool(trace.get("hasErrors"))
            table.add_row(
                Text(one_line(str(trace.get("id", "")), RECENT_COLUMNS[0][1] - 1)),
                Text(f"{figures.clock_time(ts)} ({figures.ago(ts, now)})"),
                Text(figures.count(int(trace.get("logCount", 0))), justify="right"),
                systems_text(trace.get("systems")),
                Text("yes", style="bold red") if errors else Text("no", style="dim"),
            )

    def _show_summary(self, summary: StoreSummary) -> None:
        self.query_one("#store", Static).update(store_table(summary))


def connection_text(stats: BufferStats) -> Text:
    """The connection line: masked URL, latency, server version and memory."""
    text = Text()
    text.append("● connected ", style="bold green")
    text.append(stats.source)
    if stats.kind == "worker":
        worker = stats.worker or {}
        text.append(
            f"\nlatency {stats.latency_ms:.1f} ms · Worker {worker.get('service')} "
            f"{worker.get('status')} · redis {worker.get('redis')}",
            style="dim",
        )
        return text
    text.append(
        f"\nlatency {stats.latency_ms:.1f} ms · redis {stats.server_version} · "
        f"memory {stats.used_memory}",
        style="dim",
    )
    return text


def counts_table(stats: BufferStats) -> Table:
    """Entries, traces, users and what could not be read."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    if stats.kind == "worker":
        table.add_row("entries", figures.count(stats.entries))
        table.add_row("listed traces", figures.count(stats.traces))
        table.add_row(Text("(the Worker lists at most 50)", style="dim"), "")
        return table
    rows = [
        ("entries", stats.entries),
        ("active traces", stats.traces),
        ("distinct users", stats.users),
        ("malformed", stats.malformed),
    ]
    for label, value in rows:
        table.add_row(label, figures.count(value))
    if stats.bad_keys:
        table.add_row(
            Text("skipped keys", style="yellow"),
            Text(figures.count(len(stats.bad_keys)), style="yellow"),
        )
    return table


def breakdown_table(stats: BufferStats) -> Table | Text:
    """Entries by system and by level, each in its colour."""
    if stats.kind == "worker":
        return Text(
            "Entries by system and level need a sync: the Worker reports only "
            "its recent traces (their systems are listed below).",
            style="dim",
        )
    table = Table.grid(padding=(0, 2))
    for _ in range(4):
        table.add_column()
    systems = _by_count(stats.by_system)
    levels = _by_count(stats.by_level)
    for i in range(max(len(systems), len(levels))):
        cells: list[Text] = []
        for pairs, styles in ((systems, SYSTEM_STYLES), (levels, LEVEL_STYLES)):
            if i < len(pairs):
                name, value = pairs[i]
                cells.append(Text(one_line(name, 20), style=styles.get(name, "")))
                cells.append(Text(figures.count(value), justify="right"))
            else:
                cells.extend((Text(), Text()))
        table.add_row(*cells)
    return table


def _by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def ttl_text(stats: BufferStats) -> Text:
    """Soonest expiry, and a warning naming how much expires within 10 minutes."""
    text = Text()
    if stats.kind == "worker":
        ttl = (stats.worker or {}).get("ttl_seconds")
        kept = figures.duration(ttl) if isinstance(ttl, int) else "?"
        text.append(f"the Worker keeps entries {kept} after a trace's last push")
        return text
    if stats.soonest_expiry_seconds is None:
        text.append("no key has a time to live")
    else:
        text.append("soonest expiry in ")
        text.append(figures.duration(stats.soonest_expiry_seconds), style="bold")
    if stats.keys_without_ttl:
        text.append(f" · {figures.count(stats.keys_without_ttl)} keys never expire")
    if stats.expiring_soon_entries:
        minutes = EXPIRY_WARNING_SECONDS // 60
        text.append(
            f"\n⚠ {figures.plural(stats.expiring_soon_entries, 'entry', 'entries')} "
            f"in {figures.plural(stats.expiring_soon_keys, 'trace')} expire within "
            f"{minutes} minutes: sync them now (2 → Sync)",
            style="bold yellow",
        )
    return text


def worker_text(worker: dict[str, Any], url: str | None) -> Text:
    """The Worker's health: components and the cost model it reports."""
    text = Text()
    if url is not None:
        text.append(url, style="bold")
        text.append("\n")
    ok = worker.get("http_status") == 200
    text.append("● " if ok else "○ ", style="bold green" if ok else "bold red")
    text.append(
        f"{worker.get('service')} {worker.get('status')} · HTTP "
        f"{worker.get('http_status')} · redis {worker.get('redis')} "
        f"{worker.get('redis_url') or ''}".rstrip()
    )
    for name in ("rate_limiter", "log_processor", "cost_model"):
        value = worker.get(name)
        if value:
            text.append(f"\n{name.replace('_', ' ')}: ", style="bold")
            text.append(one_line(_flat(value), 200))
    return text


def _flat(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_flat(v)}" for k, v in value.items())
    return str(value)


def cost_text(stats: BufferStats) -> Text:
    """What a full sync costs in requests, what was used, and the notes."""
    cost = stats.cost
    budget = cost.get("daily_budget")
    rate = cost.get("requests_per_second")
    text = Text("a full sync costs about ")
    text.append(figures.count(int(cost.get("sync_requests", 0))), style="bold")
    text.append(f" requests · {figures.count(int(cost.get('used_today', 0)))} used")
    text.append(f" today of {figures.count(int(budget))} a day" if budget else " today")
    text.append(f" · at most {rate:g} per second" if rate else "")
    for note in stats.notes:
        text.append("\n⚠ ", style="bold yellow")
        text.append(one_line(note, 300), style="yellow")
    return text


def chart_axis(now: int, width: int) -> Text:
    """The time axis under the chart: an hour ago on the left, now on the right."""
    left = figures.clock_time(now - (MINUTES - 1) * MINUTE_MS)
    right = f"{figures.clock_time(now)} UTC"
    gap = max(1, width - len(left) - len(right))
    return Text(f"{left}{' ' * gap}{right}", style="dim")


def systems_text(systems: object) -> Text:
    """A trace's systems, each in its colour."""
    text = Text()
    names = [str(s) for s in systems] if isinstance(systems, list) else []
    for i, name in enumerate(names):
        if i:
            text.append(" ")
        text.append(one_line(name, 20), style=SYSTEM_STYLES.get(name, ""))
    return text


def store_table(summary: StoreSummary) -> Group:
    """The local store: file, size, rows and extent."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in (
        ("size", figures.size(summary.file_bytes)),
        ("rows", figures.count(summary.entries)),
        ("traces", figures.count(summary.traces)),
        ("users", figures.count(summary.users)),
        ("quarantined", figures.count(summary.quarantined)),
        ("sync runs", figures.count(summary.runs)),
        ("oldest", figures.date_time(summary.oldest_ms)),
        ("newest", figures.date_time(summary.newest_ms)),
    ):
        table.add_row(label, value)
    return Group(Text(summary.path, style="dim", overflow="fold"), Text(), table)
