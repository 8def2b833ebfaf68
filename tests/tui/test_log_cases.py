"""Bug-report cases 03, 04 and 05 on the Logs screen (data in tests/data/)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from textual.widgets import Static

from logsync_tui.app import LogsyncApp
from logsync_tui.storage import Store
from logsync_tui.widgets.detail import DetailPane
from logsync_tui.widgets.log_table import FIXED_WIDTH
from tests.conftest import read_jsonl
from tests.tui.conftest import Entries, render_plain, table_line
from tests.tui.test_logs_screen import SIZE, settle

MakeApp = Callable[..., LogsyncApp]
Synced = Callable[[Entries], Store]


@pytest.fixture
def no_clipboard(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A headless box: no display and no clipboard program on PATH."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


async def test_03_copy_without_clipboard_saves_a_file(
    no_clipboard: None,
    synced: Synced,
    make_app: MakeApp,
    tmp_path: Path,
    rclient: redis.Redis,
) -> None:
    store = synced(read_jsonl("05-multiline-stack.jsonl"))
    copies = tmp_path / "copies"
    app = make_app(store, export_dir=copies)
    async with app.run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        row = screen.table.current
        assert row is not None
        in_redis = [
            item.decode("utf-8")
            for item in rclient.lrange(f"logs:{row.trace_id}", 0, -1)
            if row.id in item.decode("utf-8")
        ]
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.is_running
        notes = [n for n in app._notifications if "clipboard" in n.message.lower()]
        assert len(notes) == 1
        saved = list(copies.iterdir())
        assert len(saved) == 1
        assert str(saved[0]) in notes[0].message
        assert "OSC 52" in notes[0].message
        assert [saved[0].read_bytes().decode("utf-8")] == in_redis
        assert app.clipboard == in_redis[0]
        assert "PyperclipException" not in notes[0].message


async def test_04_very_long_line(synced: Synced, make_app: MakeApp) -> None:
    entries = read_jsonl("04-very-long-line.jsonl")
    long_one = next(e for e in entries if e["id"] == "1733050000001_ln04b")
    store = synced(entries)
    async with make_app(store).run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        assert "3 matching of 3 stored" in render_plain(
            screen.query_one("#status", Static).content
        )
        lines = [table_line(screen.table, y) for y in range(3)]
        assert all(len(line) == screen.table.size.width for line in lines)
        assert lines[1][FIXED_WIDTH:].rstrip().endswith("…")
        assert "after the long one" in lines[0]
        await pilot.press("slash", *"END-MK-7Q", "enter")
        screen = await settle(pilot)
        assert screen.matching == 1
        await pilot.press("enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        pane = screen.query_one(DetailPane)
        assert pane.current_row is not None
        assert pane.current_row.message == long_one["message"]
        assert pane.current_row.stack == long_one["stack"]
        assert pane.message_text.plain == long_one["message"]


async def test_05_multiline_stack(synced: Synced, make_app: MakeApp) -> None:
    store = synced(read_jsonl("05-multiline-stack.jsonl"))
    async with make_app(store).run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        await pilot.press("o")
        screen = await settle(pilot)
        lines = [table_line(screen.table, y) for y in range(3)]
        assert all(len(line) == screen.table.size.width for line in lines)
        assert lines[0][FIXED_WIDTH:].startswith("Line1␊Line2␊Line3 ")
        assert lines[1][FIXED_WIDTH:].startswith(
            "windows line␍␊ending and a lone␍carriage return"
        )
        await pilot.press("g", "enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        body = render_plain(screen.query_one("#detail-body", Static).content)
        assert "Line1\nLine2\nLine3" in body
        assert "    at a (main.js:1:1)\n    at b (main.js:2:2)\n" in body
        assert "at c (main.js:3:3)" in body
        await pilot.press("down")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        body = render_plain(screen.query_one("#detail-body", Static).content)
        assert "windows line\nending and a lone\ncarriage return" in body
