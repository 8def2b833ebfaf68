"""The Logs table: a virtual list over the filtered timeline in DuckDB.

It holds only a window of rows around what is on screen; when the view
leaves the window it asks its screen for another one (WindowWanted), so a
store of millions of entries never sits in memory.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from logsync_tui.storage.navigate import RowHead
from logsync_tui.widgets.safe_text import LEVEL_STYLES, SYSTEM_STYLES, cell, utc_time

COLUMNS = (("time (UTC)", 23), ("system", 7), ("user", 12), ("trace", 14))
LEVEL_WIDTH = 5
FIXED_WIDTH = sum(w for _, w in COLUMNS) + LEVEL_WIDTH + len(COLUMNS) + 1
MARGIN = 100
"""Rows fetched beyond each edge of the view, so small scrolls need no query."""


def row_text(row: RowHead, width: int, search: str = "") -> Text:
    """One table line for `row`, exactly `width` cells wide."""
    message_width = max(8, width - FIXED_WIDTH)
    parts = [
        cell(utc_time(row.timestamp), 23, "dim"),
        cell(row.system, 7, SYSTEM_STYLES.get(row.system, "")),
        cell(row.user_id or "-", 12),
        cell(row.trace_id, 14),
        cell(row.level, LEVEL_WIDTH, LEVEL_STYLES.get(row.level, "")),
        cell(row.message, message_width, search=search),
    ]
    return Text(" ", end="").join(parts)


def header_text(width: int) -> Text:
    """The column titles, aligned with `row_text`."""
    names = [*COLUMNS, ("level", LEVEL_WIDTH), ("message", width - FIXED_WIDTH)]
    return Text(" ", end="").join(cell(name, w, "bold") for name, w in names)


class LogHeader(Widget):
    """The column titles above the table."""

    DEFAULT_CSS = "LogHeader { height: 1; background: $panel; }"

    def render(self) -> Text:
        return header_text(self.size.width)


class LogTable(ScrollView, can_focus=True):
    """The paged timeline; the cursor is a position in display order."""

    DEFAULT_CSS = """
    LogTable { height: 1fr; }
    LogTable > .log-table--cursor { background: $accent 40%; }
    LogTable:focus > .log-table--cursor { background: $accent; }
    LogTable > .log-table--loading { color: $text-muted; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-table--cursor",
        "log-table--loading",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False, id="logs.up"),
        Binding("down,j", "move(1)", "Down", show=False, id="logs.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="logs.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="logs.page_down"),
        Binding("g", "top", "Top", id="logs.top"),
        Binding("G", "bottom", "Bottom", id="logs.bottom"),
        Binding("home", "top", "Top", show=False, id="logs.home"),
        Binding("end", "bottom", "Bottom", show=False, id="logs.end"),
        Binding("enter", "select", "Details", id="logs.detail"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)

    class WindowWanted(Message):
        """The view needs rows `offset`..`offset+limit`."""

        def __init__(self, offset: int, limit: int) -> None:
            super().__init__()
            self.offset = offset
            self.limit = limit

    class RowHighlighted(Message):
        """The cursor moved onto `row` (None while its page loads)."""

        def __init__(self, index: int, row: RowHead | None) -> None:
            super().__init__()
            self.index = index
            self.row = row

    class RowSelected(Message):
        """Enter was pressed on `row`."""

        def __init__(self, row: RowHead) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.total = 0
        self.search = ""
        self._start = 0
        self._rows: list[RowHead] = []
        self._pending: tuple[int, int] | None = None

    def replace(self, total: int, start: int, rows: list[RowHead], search: str) -> None:
        """Show a new filter's timeline: its size and its first loaded rows."""
        self.total, self.search = max(0, total), search
        self._start, self._rows, self._pending = start, rows, None
        self.virtual_size = Size(self.size.width, self.total)
        self.scroll_to(y=0, animate=False, immediate=True)
        self.cursor = 0

    def set_window(self, start: int, rows: list[RowHead]) -> None:
        """Rows starting at position `start`, as the screen loaded them."""
        self._start, self._rows, self._pending = start, rows, None
        self.refresh()
        self.post_message(self.RowHighlighted(self.cursor, self.row_at(self.cursor)))

    def row_at(self, index: int) -> RowHead | None:
        """The loaded row at position `index`, or None when not in the window."""
        offset = index - self._start
        return self._rows[offset] if 0 <= offset < len(self._rows) else None

    @property
    def current(self) -> RowHead | None:
        """The row under the cursor."""
        return self.row_at(self.cursor)

    def _visible(self) -> tuple[int, int]:
        top = int(self.scroll_offset.y)
        return top, min(self.total, top + max(1, self.size.height))

    def _check_window(self) -> None:
        top, bottom = self._visible()
        have = (self._start, self._start + len(self._rows))
        if top >= bottom or (have[0] <= top and bottom <= have[1]):
            return
        pending = self._pending
        if pending and pending[0] <= top and bottom <= pending[0] + pending[1]:
            return
        offset = max(0, top - MARGIN)
        self._pending = (offset, bottom - offset + MARGIN)
        self.post_message(self.WindowWanted(*self._pending))

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._check_window()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.total)
        self._check_window()

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_offset.y)
        height = max(1, self.size.height)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.RowHighlighted(new, self.row_at(new)))

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self.size.width
        base = self.rich_style
        if index >= self.total:
            return Strip.blank(width, base)
        row = self.row_at(index)
        if row is None:
            style = self.get_component_rich_style("log-table--loading")
            text = Text("…", style=style, end="")
        else:
            text = row_text(row, width, self.search)
        if index == self.cursor:
            text.stylize_before(self.get_component_rich_style("log-table--cursor"))
        strip = Strip(list(text.render(self.app.console)), text.cell_len)
        return strip.crop_extend(0, width, base).apply_style(base or Style())

    def move_to(self, index: int) -> None:
        """Put the cursor on position `index` (clamped to the timeline)."""
        self.cursor = max(0, min(index, self.total - 1))

    def action_move(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor + direction * max(1, self.size.height - 1))

    def action_top(self) -> None:
        self.move_to(0)

    def action_bottom(self) -> None:
        self.move_to(self.total - 1)

    def action_select(self) -> None:
        row = self.current
        if row is not None:
            self.post_message(self.RowSelected(row))

    def on_click(self, event: events.Click) -> None:
        self.move_to(int(self.scroll_offset.y) + event.y)
