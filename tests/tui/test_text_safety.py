"""Log text is data: markup, escapes and control characters are shown literally."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Static

from logsync_tui.app import LogsyncApp
from logsync_tui.storage import Store
from logsync_tui.widgets.detail import DetailPane
from logsync_tui.widgets.log_table import FIXED_WIDTH
from tests.tui.conftest import Entries, entry, idle, render_plain
from tests.tui.test_logs_screen import SIZE, settle

MakeApp = Callable[[Store], LogsyncApp]
Synced = Callable[[Entries], Store]

# (message as logged, what its table cell starts with, what the detail pane shows)
CASES = [
    ("[bold]x[/]", "[bold]x[/]", "[bold]x[/]"),
    ("[/]", "[/]", "[/]"),
    ("[link=http://x]y[/link]", "[link=http://x]y[/link]", "[link=http://x]y[/link]"),
    ("[red", "[red", "[red"),
    ("\x1b[31mred\x1b[0m plain", "␛[31mred␛[0m plain", "␛[31mred␛[0m plain"),
    ("before\rafter", "before␍after", "before\nafter"),
    ("nul\x00byte", "nul␀byte", "nul␀byte"),
    (":smile: [i]not italic[/i]", ":smile: [i]not italic[/i]", ":smile: [i]not"),
    ("abc\u202edef\u2066", "abc\u2423def\u2423", "abc\u2423def\u2423"),
]


def message_cell(strip_text: str) -> str:
    return strip_text[FIXED_WIDTH:]


async def test_messages_shown_literally(synced: Synced, make_app: MakeApp) -> None:
    rows = [
        entry(n, message=message, user_id="[b]u[/b]", trace_id="[t")
        for n, (message, _, _) in enumerate(CASES)
    ]
    store = synced(rows)
    async with make_app(store).run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        await pilot.press("o")
        screen = await settle(pilot)
        pane = screen.query_one(DetailPane)
        for y, (_, cell, detail) in enumerate(CASES):
            strip = screen.table.render_line(y)
            assert strip.cell_length == screen.table.size.width
            text = "".join(segment.text for segment in strip)
            assert message_cell(text).startswith(cell)
            assert " [b]u[/b] " in text
            assert " [t " in text
            styles = [s.style for s in strip if s.style is not None]
            assert not any(style.link for style in styles)
            await pilot.press(*(("g", "enter") if y == 0 else ("down",)))
            await idle(pilot)
            await pilot.pause()
            body = pane.query_one("#detail-body", Static)
            assert detail in render_plain(body.content)


async def test_one_megabyte_line_is_cut_in_table_and_whole_in_detail(
    synced: Synced, make_app: MakeApp
) -> None:
    message = "x" * 1_000_000 + "THE-END"
    store = synced([entry(1, message=message), entry(2)])
    async with make_app(store).run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        await pilot.press("down")
        line = "".join(s.text for s in screen.table.render_line(1))
        assert len(line) == screen.table.size.width
        assert message_cell(line).rstrip().endswith("…")
        await pilot.press("enter")
        await idle(pilot)
        await pilot.pause()
        pane = screen.query_one(DetailPane)
        assert pane.is_open
        assert pane.current_row is not None
        assert pane.current_row.message == message
        assert pane.message_text.plain == message
