"""The detail pane: one log entry whole, every string shown literally."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from logsync_tui.storage.queries import LogRow
from logsync_tui.widgets.safe_text import (
    LEVEL_STYLES,
    SYSTEM_STYLES,
    highlight,
    multi_line,
    utc_time,
)


def pretty_context(context: str | None) -> RenderableType:
    """The context as indented, highlighted JSON (as text when not JSON)."""
    if not context:
        return Text("(no context)", style="dim", end="")
    try:
        parsed: Any = json.loads(context)
    except ValueError:
        return Text(multi_line(context), end="")
    pretty = json.dumps(parsed, indent=2, ensure_ascii=False)
    return Syntax(pretty, "json", theme="ansi_dark", word_wrap=True)


def summary(row: LogRow, position: int, trace_size: int) -> Text:
    """The entry's fields on a few labelled lines."""
    out = Text(end="")
    fields: list[tuple[str, str, str]] = [
        ("time", utc_time(row.timestamp) + " UTC", ""),
        ("level", row.level, LEVEL_STYLES.get(row.level, "")),
        ("system", row.system, SYSTEM_STYLES.get(row.system, "")),
        ("user", row.user_id or "-", ""),
        ("trace", row.trace_id, ""),
        ("position", f"entry {position:,} of {trace_size:,} in its trace", ""),
        ("id", row.id, ""),
    ]
    for label, value, style in fields:
        out.append(f"{label:>9}  ", style="bold")
        out.append(value, style=style)
        out.append("\n")
    out.rstrip()
    return out


def section(title: str, body: RenderableType) -> RenderableType:
    """A titled block of the pane."""
    return Group(Text(title, style="bold underline"), body, Text(""))


class DetailPane(VerticalScroll):
    """Shows the entry Enter was pressed on; hidden until then."""

    DEFAULT_CSS = """
    DetailPane { height: 50%; border-top: solid $accent; display: none; }
    DetailPane.-open { display: block; }
    DetailPane > Static { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current_row: LogRow | None = None
        self.message_text = Text(end="")

    def compose(self) -> Any:
        yield Static(id="detail-body")

    def show(self, row: LogRow, position: int, trace_size: int, search: str) -> None:
        """Fill the pane with `row` and open it."""
        message = highlight(Text(multi_line(row.message), end=""), search)
        stack = (
            highlight(Text(multi_line(row.stack), end=""), search)
            if row.stack
            else Text("(no stack)", style="dim", end="")
        )
        self.current_row, self.message_text = row, message
        body = Group(
            section("Entry", summary(row, position, trace_size)),
            section("Message", message),
            section("Context", pretty_context(row.context)),
            section("Stack", stack),
            section("Raw entry (as stored)", Text(multi_line(row.raw_data), end="")),
        )
        self.query_one("#detail-body", Static).update(body)
        self.add_class("-open")
        self.scroll_home(animate=False)

    def close(self) -> None:
        """Hide the pane."""
        self.remove_class("-open")

    @property
    def is_open(self) -> bool:
        """Whether the pane is showing."""
        return self.has_class("-open")
