"""The Logs screen: the filtered, paged timeline with search and a detail pane."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Checkbox, Footer, Input, Label, Static

from logsync_tui.errors import LogsyncError, StoreError
from logsync_tui.messages import DetailLoaded, JumpTo, WindowLoaded
from logsync_tui.storage.navigate import (
    RowHead,
    fetch_window,
    first_window,
    next_with_level,
    offset_of,
    store_mark,
)
from logsync_tui.storage.queries import (
    LogFilter,
    count_rows,
    get_entry,
    trace_position,
)
from logsync_tui.timeparse import parse_time
from logsync_tui.widgets.clipboard import copy_and_notify
from logsync_tui.widgets.detail import DetailPane
from logsync_tui.widgets.log_table import MARGIN, LogHeader, LogTable

log = logging.getLogger(__name__)

SYSTEMS = ("browser", "convex", "worker", "manual")
LEVELS = ("log", "info", "warn", "error")
NOTHING = ("\x00none",)
"""A filter value no entry has: every toggle of a group switched off."""


def chosen(values: tuple[str, ...], on_: tuple[bool, ...]) -> tuple[str, ...]:
    """The toggled-on values; () (no narrowing) when all are on."""
    picked = tuple(v for v, flag in zip(values, on_, strict=True) if flag)
    if len(picked) == len(values):
        return ()
    return picked or NOTHING


def split_ids(text: str) -> tuple[str, ...]:
    """Comma- or space-separated ids from an input."""
    return tuple(part for part in text.replace(",", " ").split() if part)


def describe(flt: LogFilter) -> str:
    """A short summary of the active filters for the status line."""
    parts = [
        f"{name}={','.join(v for v in values if v not in NOTHING) or 'none'}"
        for name, values in (
            ("system", flt.systems),
            ("level", flt.levels),
            ("trace", flt.traces),
            ("user", flt.users),
        )
        if values
    ]
    if flt.since_ms is not None or flt.until_ms is not None:
        parts.append("time range")
    if flt.search:
        parts.append(f"search={flt.search!r}")
    return " ".join(parts)


class LogsScreen(Screen[None]):
    """One chronological table of the stored entries."""

    CSS_PATH = "logs.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", id="logs.search"),
        Binding("f", "filters", "Filters", id="logs.filters"),
        Binding("t", "narrow('trace')", "Trace", id="logs.trace"),
        Binding("u", "narrow('user')", "User", id="logs.user"),
        Binding("x", "clear", "Clear filters", id="logs.clear"),
        Binding("o", "order", "Order", id="logs.order"),
        Binding("y", "copy", "Copy JSON", id="logs.copy"),
        Binding("e", "error(True)", "Next error", id="logs.next_error"),
        Binding("E", "error(False)", "Prev error", id="logs.prev_error", show=False),
        Binding("r", "reload", "Reload", id="logs.reload", show=False),
        Binding("escape", "close", "Close", id="logs.close", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.generation = 0
        self.loaded_generation = 0
        self.newest_first = True
        self.filter = LogFilter()
        self.matching: int | None = None
        self.stored: int | None = None
        self.mark: tuple[int, int | None] | None = None
        self._keep: RowHead | None = None
        self._typing_ahead = False

    def compose(self) -> Any:
        yield Vertical(id="filters")
        yield LogHeader()
        yield LogTable(id="table")
        yield DetailPane(id="detail")
        yield Input(placeholder="search message, context, stack", id="search")
        yield Static(id="status")
        yield Footer()

    async def _ensure_filters(self) -> None:
        """Mount the filter controls the first time they are needed."""
        panel = self.query_one("#filters")
        if panel.children:
            return
        toggles = Horizontal(
            Label("system", classes="group"),
            *(Checkbox(name, True, id=f"sys-{name}") for name in SYSTEMS),
            Label("level", classes="group"),
            *(Checkbox(name, True, id=f"lvl-{name}") for name in LEVELS),
            classes="toggles",
        )
        inputs = Horizontal(
            Input(placeholder="trace ids", id="f-trace"),
            Input(placeholder="user ids", id="f-user"),
            Input(placeholder="since (15m, ISO)", id="f-since"),
            Input(placeholder="until", id="f-until"),
            classes="inputs",
        )
        await panel.mount_all([toggles, inputs])

    def _flags(self, prefix: str, values: tuple[str, ...]) -> tuple[bool, ...]:
        """Each toggle's state (on while the panel has not been built)."""
        return tuple(
            all(box.value for box in self.query(f"#{prefix}-{v}").results(Checkbox))
            for v in values
        )

    def _text(self, selector: str) -> str:
        return next((f.value for f in self.query(selector).results(Input)), "")

    @property
    def table(self) -> LogTable:
        """The timeline widget."""
        return self.query_one(LogTable)

    def on_mount(self) -> None:
        self.table.focus()

    def on_screen_resume(self) -> None:
        if self.generation == 0:
            self.apply_filter()
        else:
            self._reload_if_changed(self.generation, self.mark)

    @work(thread=True, exclusive=True, group="db", exit_on_error=False)
    def _reload_if_changed(
        self, generation: int, mark: tuple[int, int | None] | None
    ) -> None:
        if store_mark(self.app.store.cursor()) != mark:  # type: ignore[attr-defined]
            self.app.call_from_thread(self._reload, generation)

    def _reload(self, generation: int) -> None:
        if generation == self.generation:
            self.apply_filter(keep=self.table.current)

    def build_filter(self) -> LogFilter:
        """The LogFilter the controls describe (bad times are reported, ignored)."""
        return LogFilter(
            systems=chosen(SYSTEMS, self._flags("sys", SYSTEMS)),
            levels=chosen(LEVELS, self._flags("lvl", LEVELS)),
            traces=split_ids(self._text("#f-trace")),
            users=split_ids(self._text("#f-user")),
            since_ms=self._time("#f-since"),
            until_ms=self._time("#f-until"),
            search=self.query_one("#search", Input).value,
        )

    def _time(self, selector: str) -> int | None:
        field = next(iter(self.query(selector).results(Input)), None)
        if field is None:
            return None
        text = field.value.strip()
        field.remove_class("-invalid")
        if not text:
            return None
        try:
            return parse_time(text)
        except LogsyncError as exc:
            field.add_class("-invalid")
            self.notify(
                exc.cause, title="time filter", severity="warning", markup=False
            )
            return None

    def apply_filter(self, keep: RowHead | None = None) -> None:
        """Reload the table for the current controls, keeping `keep` in view."""
        self.filter = self.build_filter()
        self.app.log_filter = self.filter  # type: ignore[attr-defined]
        self.generation += 1
        self.matching = None
        self._update_status()
        height = max(self.table.size.height, 50)
        self._load(self.generation, self.filter, self.newest_first, height, keep)

    @work(thread=True, exclusive=True, group="db", exit_on_error=False)
    def _load(
        self,
        generation: int,
        flt: LogFilter,
        newest_first: bool,
        height: int,
        keep: RowHead | None,
    ) -> None:
        con = self.app.store.cursor()  # type: ignore[attr-defined]
        limit = height + 2 * MARGIN
        if keep is None:
            index, start = 0, 0
            matching, rows = first_window(con, flt, limit, newest_first=newest_first)
        else:
            index = offset_of(con, flt, keep, newest_first=newest_first)
            start = max(0, index - MARGIN)
            matching = count_rows(con, flt)
            rows = fetch_window(
                con, flt, start, limit, newest_first=newest_first, total=matching
            )
        mark = store_mark(con)
        self.post_message(WindowLoaded(generation, start, rows, matching, mark))
        if keep is not None:
            self.post_message(JumpTo(generation, index))

    @work(thread=True, exclusive=True, group="db.window", exit_on_error=False)
    def _fetch(self, generation: int, offset: int, limit: int) -> None:
        con = self.app.store.cursor()  # type: ignore[attr-defined]
        rows = fetch_window(
            con,
            self.filter,
            offset,
            limit,
            newest_first=self.newest_first,
            total=self.matching,
        )
        self.post_message(WindowLoaded(generation, offset, rows))

    @work(thread=True, exclusive=True, group="db.detail", exit_on_error=False)
    def _detail(self, head: RowHead) -> None:
        con = self.app.store.cursor()  # type: ignore[attr-defined]
        row = get_entry(con, head.id)
        if row is None:
            raise StoreError("that entry is no longer stored: press r to reload")
        position, size = trace_position(con, row)
        self.post_message(DetailLoaded(row, position, size))

    @work(thread=True, exclusive=True, group="db.copy", exit_on_error=False)
    def _copy(self, head: RowHead) -> None:
        row = get_entry(self.app.store.cursor(), head.id)  # type: ignore[attr-defined]
        if row is None:
            raise StoreError("that entry is no longer stored: press r to reload")
        self.app.call_from_thread(self._copy_raw, row.raw_data)

    def _copy_raw(self, raw: str) -> None:
        settings = self.app.settings  # type: ignore[attr-defined]
        copy_and_notify(self.app, raw, what="Row JSON", export_dir=settings.export_dir)

    @work(thread=True, exclusive=True, group="db.jump", exit_on_error=False)
    def _jump_error(self, generation: int, row: RowHead, forward: bool) -> None:
        con = self.app.store.cursor()  # type: ignore[attr-defined]
        found = next_with_level(
            con, self.filter, row, newest_first=self.newest_first, forward=forward
        )
        if found is None:
            where = "below" if forward else "above"
            self.notify(f"No error {where} this row.")
            return
        index = offset_of(con, self.filter, found, newest_first=self.newest_first)
        self.post_message(JumpTo(generation, index))

    def on_window_loaded(self, message: WindowLoaded) -> None:
        if message.generation != self.generation:
            return
        table = self.table
        if message.matching is None:
            table.set_window(message.start, message.rows)
            return
        self.matching, self.mark = message.matching, message.mark
        self.stored = message.mark[0] if message.mark else None
        table.replace(message.matching, message.start, message.rows, self.filter.search)
        self.loaded_generation = message.generation
        self._update_status()

    def on_jump_to(self, message: JumpTo) -> None:
        if message.generation == self.generation:
            self.table.move_to(message.index)

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        pane = self.query_one(DetailPane)
        pane.show(message.row, message.position, message.trace_size, self.filter.search)

    def on_log_table_window_wanted(self, message: LogTable.WindowWanted) -> None:
        if self.loaded_generation == self.generation:
            self._fetch(self.generation, message.offset, message.limit)

    def on_log_table_row_highlighted(self, message: LogTable.RowHighlighted) -> None:
        self.app.selected_id = message.row.id if message.row else None  # type: ignore[attr-defined]
        self._update_status()
        if message.row is not None and self.query_one(DetailPane).is_open:
            self._detail(message.row)

    def on_log_table_row_selected(self, message: LogTable.RowSelected) -> None:
        self._detail(message.row)

    def _update_status(self) -> None:
        matching = "…" if self.matching is None else f"{self.matching:,}"
        stored = "…" if self.stored is None else f"{self.stored:,}"
        text = Text(f"{matching} matching of {stored} stored", style="bold", end="")
        order = "newest first" if self.newest_first else "oldest first"
        text.append(f" · {order}")
        if self.matching:
            text.append(f" · row {self.table.cursor + 1:,}")
        summary = describe(self.filter)
        if summary:
            text.append(" · ")
            text.append(summary, style="italic")
        self.query_one("#status", Static).update(text)

    @on(Checkbox.Changed)
    def _toggle_changed(self) -> None:
        self.apply_filter()

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("f-since", "f-until"):
            return
        keep, self._keep = self._keep, None
        self.apply_filter(keep=keep)

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id in ("f-since", "f-until"):
            self.apply_filter(keep=self.table.current)
        if event.input.id == "search":
            self.table.focus()

    def action_search(self) -> None:
        """Show the search box and put the cursor in it."""
        search = self.query_one("#search", Input)
        search.add_class("-open")
        # The box takes focus only once it is displayed; until then on_key
        # types into it.
        self._typing_ahead = True
        search.focus()

    def on_key(self, event: events.Key) -> None:
        # Keys reach this handler in typing order, but bindings run only after
        # every queued key was handed out: `/` and the keys typed right after
        # it (a fast typist, a paste) are handled here, not by the binding.
        search = self.query_one("#search", Input)
        if search.has_focus:
            self._typing_ahead = False
            return
        if event.key == "slash":
            self.action_search()
        elif self._typing_ahead and event.is_printable and event.character:
            search.insert_text_at_cursor(event.character)
        else:
            return
        event.stop()
        event.prevent_default()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if event.widget.id == "search":
            self._typing_ahead = False

    async def action_filters(self) -> None:
        """Show or hide the filter controls."""
        await self._ensure_filters()
        panel = self.query_one("#filters")
        panel.toggle_class("-open")
        if panel.has_class("-open"):
            self.query_one("#sys-browser", Checkbox).focus()
        else:
            self.table.focus()

    async def action_narrow(self, field: str) -> None:
        """Show only the entries of the current row's trace (or user)."""
        await self._ensure_filters()
        row = self.table.current
        if row is None:
            return
        value = row.trace_id if field == "trace" else row.user_id
        if value is None:
            self.notify("This entry has no user.", severity="warning")
            return
        target = self.query_one(f"#f-{field}", Input)
        if target.value == value:
            return
        self._keep = row
        target.value = value

    def action_clear(self) -> None:
        """Drop every filter and the search."""
        with self.prevent(Checkbox.Changed, Input.Changed):
            for box in self.query(Checkbox):
                box.value = True
            for field in self.query(Input):
                field.value = ""
        self.query_one("#search").remove_class("-open")
        self.apply_filter(keep=self.table.current)

    def action_order(self) -> None:
        """Switch between newest first and oldest first."""
        self.newest_first = not self.newest_first
        self.apply_filter(keep=self.table.current)

    def action_reload(self) -> None:
        """Read the store again (after a sync, for example)."""
        self.apply_filter(keep=self.table.current)

    def action_copy(self) -> None:
        """Copy the raw JSON of the row under the cursor, exactly as stored."""
        row = self.table.current
        if row is None:
            self.notify("No row under the cursor to copy.", severity="warning")
            return
        self._copy(row)

    def action_error(self, forward: bool) -> None:
        """Jump to the next (or previous) error in display order."""
        row = self.table.current
        if row is not None:
            self._jump_error(self.generation, row, forward)

    def action_close(self) -> None:
        """Close the search box, the detail pane or the filters, in that order."""
        search = self.query_one("#search", Input)
        if search.has_focus:
            if not search.value:
                search.remove_class("-open")
            self.table.focus()
        elif self.query_one(DetailPane).is_open:
            self.query_one(DetailPane).close()
        elif self.query_one("#filters").has_class("-open"):
            self.query_one("#filters").remove_class("-open")
            self.table.focus()
