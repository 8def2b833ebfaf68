"""The Traces screen: stored traces with their insight, and one trace opened.

The list (id, users, systems, start, duration, entries, errors, flags) sorts
by a key or a header click and filters as you type. Enter opens a trace: its
waterfall of systems over time, its insight (time per system, error chains,
flags) and its entries; one key hands it to the AI text export.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from logsync_tui.export import ExportSpec, render_export
from logsync_tui.insight import (
    Overview,
    TraceInsight,
    TraceRow,
    format_duration,
    list_traces,
    overview,
    trace_insight,
)
from logsync_tui.messages import TraceExported, TraceLoaded, TracesLoaded
from logsync_tui.storage.queries import LogFilter, LogRow, fetch_page
from logsync_tui.widgets.clipboard import copy_and_notify
from logsync_tui.widgets.safe_text import (
    LEVEL_STYLES,
    SYSTEM_STYLES,
    literal,
    one_line,
    utc_time,
)
from logsync_tui.widgets.waterfall import Waterfall

log = logging.getLogger(__name__)

SORTS = ("start", "duration", "entries", "errors")
COLUMNS = ("trace", "users", "systems", "start", "duration", "entries", "errors")
ARROW = " \u203a "
"""Between the systems of a route."""
LIST_LIMIT = 1_000
"""Traces listed at once; the filter finds the others."""
# Cut widths (with a visible marker) that leave room for the figures at 150
# columns; the whole id is in the opened trace's header.
TRACE_WIDTH = 36
USERS_WIDTH = 24
ENTRY_LIMIT = 2_000
"""Entries of an opened trace shown; the Logs screen shows them all."""


def trace_cells(row: TraceRow) -> list[Text]:
    """The list's cells for one trace, as literal text."""
    systems = Text(no_wrap=True)
    for n, name in enumerate(row.systems):
        systems.append(ARROW if n else "")
        systems.append(name, style=SYSTEM_STYLES.get(name, ""))
    errors = Text(f"{row.errors:,}", style="bold red" if row.errors else "dim")
    return [
        literal(one_line(row.trace_id, TRACE_WIDTH)),
        literal(one_line(", ".join(row.users) or "-", USERS_WIDTH)),
        systems,
        literal(utc_time(row.start_ms)),
        Text(format_duration(row.duration_ms), justify="right"),
        Text(f"{row.entries:,}", justify="right"),
        errors,
        Text(", ".join(row.flags), style="yellow"),
    ]


def entry_cells(row: LogRow, start_ms: int) -> list[Text]:
    """An opened trace's entry: offset from the trace start, system, level, text."""
    offset = (row.timestamp - start_ms) / 1000
    return [
        Text(f"+{offset:.3f}s", justify="right"),
        Text(row.system, style=SYSTEM_STYLES.get(row.system, "")),
        Text(row.level, style=LEVEL_STYLES.get(row.level, "")),
        literal(one_line(row.message, 400)),
    ]


def overview_text(view: Overview, shown: int) -> Text:
    """The figures across traces, for the top line."""
    text = Text(end="")
    text.append(f"{view.traces:,} traces", style="bold")
    text.append(f" · {view.multi_system:,} across several systems")
    text.append(f" · {view.slow:,} slow")
    text.append(f" · duration avg {format_duration(view.avg_duration_ms)}")
    text.append(f", p95 {format_duration(view.p95_duration_ms)}")
    if shown < view.traces:
        text.append(f" · {shown:,} listed", style="italic")
    return text


def insight_text(found: TraceInsight, shown: int) -> Text:
    """The opened trace's header: route, timing, levels, users, flags, chains."""
    t = found.trace
    text = Text(end="")
    text.append(one_line(t.trace_id, 120), style="bold")
    text.append("  " + ARROW.join(t.systems) + "\n")
    text.append(f"{utc_time(t.start_ms)} for {format_duration(t.duration_ms)} · ")
    levels = ", ".join(f"{k} {v:,}" for k, v in found.levels.items())
    text.append(f"{t.entries:,} entries ({levels}) · users ")
    text.append(one_line(", ".join(t.users) or "-", 200))
    if t.flags:
        text.append("\nflags: " + ", ".join(t.flags), style="yellow")
    for chain in found.chains:
        span = format_duration(chain.end_ms - chain.start_ms)
        text.append(f"\n{chain.pattern}", style="bold red")
        text.append(f": {chain.errors} errors in {span} across ")
        text.append(ARROW.join(chain.systems) + ", first: ")
        text.append(one_line(chain.first_message, 160))
    if shown < t.entries:
        text.append(f"\nshowing the first {shown:,} of {t.entries:,} entries")
    return text


def _table(name: str, columns: tuple[str, ...], **options: Any) -> DataTable[Text]:
    """A row-cursor table with its columns, ready before any rows arrive."""
    table: DataTable[Text] = DataTable(id=name, cursor_type="row", **options)
    for column in columns:
        table.add_column(column, key=column)
    return table


class TracesScreen(Screen[None]):
    """Every stored trace, and one trace's waterfall, insight and entries."""

    CSS_PATH = "traces.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="traces.filter"),
        Binding("s", "sort", "Sort", id="traces.sort"),
        Binding("o", "order", "Order", id="traces.order"),
        Binding("a", "export", "AI export", id="traces.export"),
        Binding("r", "reload", "Reload", id="traces.reload"),
        Binding("escape", "back", "Back", id="traces.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.generation = 0
        self.loaded_generation = 0
        self.sort = "start"
        self.descending = True
        self.rows: list[TraceRow] = []
        self.opened: TraceInsight | None = None

    def compose(self) -> Any:
        yield Static(id="overview")
        yield Input(placeholder="filter by trace id, user or system", id="filter")
        with Vertical(id="list-view"):
            yield _table("traces", (*COLUMNS, "flags"), zebra_stripes=True)
        with Vertical(id="trace-view"):
            yield Static(id="trace-head")
            yield Waterfall(id="waterfall")
            yield _table("entries", ("time", "system", "level", "message"))
        yield Static(id="status")
        yield Footer()

    @property
    def table(self) -> DataTable[Text]:
        """The trace list."""
        return self.query_one("#traces", DataTable)

    def on_mount(self) -> None:
        self.table.focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        """Read the trace list again for the current sort and filter."""
        self.generation += 1
        search = self.query_one("#filter", Input).value.strip()
        self._load(self.generation, search, self.sort, self.descending)
        self._update_status()

    @work(thread=True, exclusive=True, group="db", exit_on_error=False)
    def _load(self, generation: int, search: str, sort: str, desc: bool) -> None:
        con = self.app.store.cursor()  # type: ignore[attr-defined]
        view = overview(con)
        rows = list_traces(
            con, search=search, sort=sort, descending=desc, limit=LIST_LIMIT
        )
        self.post_message(TracesLoaded(generation, view, rows))

    def on_traces_loaded(self, message: TracesLoaded) -> None:
        if message.generation != self.generation:
            return
        table = self.table
        keep = self.current_trace()
        table.clear()
        for row in message.rows:
            table.add_row(*trace_cells(row), key=row.trace_id)
        self.rows = message.rows
        ids = [r.trace_id for r in message.rows]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        overview_line = overview_text(message.overview, len(message.rows))
        self.query_one("#overview", Static).update(overview_line)
        self.loaded_generation = message.generation
        self._update_status()

    def current_trace(self) -> str | None:
        """The trace opened, else the one under the list's cursor."""
        if self.opened is not None:
            return self.opened.trace.trace_id
        row = self.table.cursor_row
        if not self.rows or not 0 <= row < len(self.rows):
            return None
        return self.rows[row].trace_id

    @on(DataTable.RowSelected, "#traces")
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self._load_trace(event.row_key.value)

    @work(thread=True, exclusive=True, group="db.trace", exit_on_error=False)
    def _load_trace(self, trace_id: str) -> None:
        con = self.app.store.cursor()  # type: ignore[attr-defined]
        found = trace_insight(con, trace_id)
        if found is None:
            self.notify(f"Trace {trace_id} is no longer stored.", markup=False)
            return
        page = fetch_page(
            con, LogFilter(traces=(trace_id,)), newest_first=False, limit=ENTRY_LIMIT
        )
        self.post_message(TraceLoaded(found, page.rows))

    def on_trace_loaded(self, message: TraceLoaded) -> None:
        found = self.opened = message.insight
        head = insight_text(found, len(message.entries))
        self.query_one("#trace-head", Static).update(head)
        self.query_one(Waterfall).show(found)
        entries = self.query_one("#entries", DataTable)
        entries.clear()
        for row in message.entries:
            entries.add_row(*entry_cells(row, found.trace.start_ms), key=row.id)
        self.add_class("-trace")
        entries.focus()
        self._update_status()

    @on(DataTable.HeaderSelected, "#traces")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key not in SORTS:
            return
        if key == self.sort:
            self.descending = not self.descending
        self.sort = key
        self.action_reload()

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self.action_reload()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def action_filter(self) -> None:
        """Show the filter box and put the cursor in it."""
        if self.opened is not None:
            self.action_back()
        box = self.query_one("#filter", Input)
        box.add_class("-open")
        box.focus()

    def action_sort(self) -> None:
        """Sort the list by the next column: start, duration, entries, errors."""
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.descending = True
        self.action_reload()

    def action_order(self) -> None:
        """Reverse the list's order."""
        self.descending = not self.descending
        self.action_reload()

    def action_back(self) -> None:
        """Close the opened trace, else leave the filter box."""
        if self.opened is not None:
            self.opened = None
            self.remove_class("-trace")
            self.query_one(Waterfall).show(None)
        elif not self.query_one("#filter", Input).value:
            self.query_one("#filter", Input).remove_class("-open")
        self.table.focus()
        self._update_status()

    def action_export(self) -> None:
        """Copy the opened (or highlighted) trace as AI text (markdown)."""
        trace_id = self.current_trace()
        if trace_id is None:
            self.notify("No trace to export.", severity="warning")
            return
        self._export(trace_id)

    @work(thread=True, exclusive=True, group="db.export", exit_on_error=False)
    def _export(self, trace_id: str) -> None:
        con = self.app.store.cursor()  # type: ignore[attr-defined]
        spec = ExportSpec("text", traces=(trace_id,))
        text, report = render_export(con, spec, now_ms=self.app.clock())  # type: ignore[attr-defined]
        self.post_message(TraceExported(trace_id, text, report.summary()))

    def on_trace_exported(self, message: TraceExported) -> None:
        settings = self.app.settings  # type: ignore[attr-defined]
        copy_and_notify(
            self.app,
            message.text,
            what=f"Trace {message.trace_id} as AI text ({message.summary})",
            export_dir=settings.export_dir,
        )

    def _update_status(self) -> None:
        direction = "descending" if self.descending else "ascending"
        text = Text(f"sorted by {self.sort}, {direction}", end="")
        search = self.query_one("#filter", Input).value.strip()
        if search:
            text.append(" · filter ")
            text.append(repr(search), style="italic")
        if self.opened is not None:
            text.append(" · trace ")
            text.append(one_line(self.opened.trace.trace_id, 80), style="bold")
            text.append(" · a: AI export · esc: back to the list")
        self.query_one("#status", Static).update(text)
