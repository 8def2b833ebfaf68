"""Pilot tests of the Traces screen on a real DuckDB store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyperclip
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from logsync_tui.app import LogsyncApp
from logsync_tui.config import Settings
from logsync_tui.screens.traces import ARROW, TracesScreen
from logsync_tui.storage import Store
from logsync_tui.widgets.waterfall import Waterfall, render_waterfall
from tests.tui.conftest import idle, render_plain
from tests.unit.test_insight import T0, fill

SIZE = (160, 40)


@pytest.fixture
def headless(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No clipboard program: copies go to OSC 52 and a file."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(pyperclip, "copy", pyperclip.lazy_load_stub_copy)


def make_app(store: Store, tmp_path: Path, start: str = "traces") -> LogsyncApp:
    settings = Settings(db=store.path, export_dir=tmp_path / "copies")
    return LogsyncApp(settings, store=store, start=start)


async def settle(pilot: Pilot[object]) -> TracesScreen:
    """Wait until the screen shows the list for its last sort and filter."""
    screen = pilot.app.screen
    assert isinstance(screen, TracesScreen)
    for _ in range(200):
        await pilot.pause(0.02)
        await idle(pilot)
        if screen.loaded_generation == screen.generation:
            await pilot.pause()
            return screen
    raise AssertionError("the Traces screen never finished loading")


async def steady(pilot: Pilot[object]) -> None:
    """Let the tables measure their columns and the screen repaint."""
    for _ in range(3):
        await pilot.pause(0.05)
        await pilot.wait_for_scheduled_animations()


def listed(screen: TracesScreen) -> list[str]:
    table = screen.table
    return [table.get_row_at(i)[0].plain for i in range(table.row_count)]


def plain(screen: TracesScreen, selector: str) -> str:
    return render_plain(screen.query_one(selector, Static).content)


async def test_list_sorts_filters_and_opens_a_trace(
    store: Store, tmp_path: Path, headless: None
) -> None:
    fill(store)
    app = make_app(store, tmp_path, start="logs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        screen = await settle(pilot)
        assert listed(screen) == ["tD", "tC", "tB", "tA"]
        assert "4 traces · 3 across several systems · 1 slow" in plain(
            screen, "#overview"
        )
        row = screen.table.get_row("tA")
        assert [c.plain for c in row[1:7]] == [
            "u1, u2",
            ARROW.join(["browser", "worker", "convex"]),
            "2023-11-14 22:13:21.000",
            "12.0 s",
            "8",
            "4",
        ]
        await pilot.press("s")
        screen = await settle(pilot)
        assert listed(screen) == ["tA", "tC", "tB", "tD"]
        await pilot.press("o")
        screen = await settle(pilot)
        assert listed(screen) == ["tD", "tB", "tC", "tA"]
        await pilot.press("slash", *"convex", "enter")
        screen = await settle(pilot)
        assert listed(screen) == ["tB", "tC", "tA"]
        assert screen.table.has_focus
        await pilot.press("down", "down", "enter")
        await idle(pilot)
        await pilot.pause()
        assert screen.has_class("-trace")
        head = plain(screen, "#trace-head")
        assert f"timeout cascade: 3 errors in 2.0 s across convex{ARROW}worker" in head
        assert "flags: slow, high error rate" in head
        entries = screen.query_one("#entries", DataTable)
        assert entries.row_count == 8
        assert entries.get_row_at(3)[0].plain == "+1.500s"
        fall = render_plain(screen.query_one(Waterfall).render()).splitlines()
        assert [line.split()[0] for line in fall[1:]] == [
            "browser",
            "worker",
            "convex",
            "errors",
        ]
        await pilot.press("a")
        await idle(pilot)
        await pilot.pause()
        assert "query timed out after 1000ms" in app.clipboard
        assert "tA" in app.clipboard
        saved = list((tmp_path / "copies").iterdir())
        assert [p.read_text(encoding="utf-8") for p in saved] == [app.clipboard]
        await pilot.press("escape")
        assert not screen.has_class("-trace")
        assert screen.table.has_focus


def test_waterfall_bars_follow_the_segments(store: Store) -> None:
    from logsync_tui.insight import trace_insight

    fill(store)
    found = trace_insight(store.cursor(), "tA")
    assert found is not None
    lines = render_waterfall(found, 10 + 24 + 18).plain.splitlines()
    bars = {line[:10].strip(): line[10:34] for line in lines[1:]}
    # 24 cells for 12 s: a cell is 0.5 s from T0 + 1 s. browser runs 0-0.5 s
    # and 3.5-12 s, worker 0.5-1.5 s and 3-3.5 s, convex 1.5-3 s; the
    # timeout chain spans 1.5-3.5 s.
    assert found.trace.start_ms == T0 + 1000
    assert bars["browser"] == "█" + " " * 6 + "█" * 17
    assert bars["worker"] == " ██   █" + " " * 17
    assert bars["convex"] == "   ███" + " " * 18
    assert bars["errors"] == "   ━━━━"


async def test_text_from_logs_is_shown_literally(store: Store, tmp_path: Path) -> None:
    fill(store, [("[b]t[/b]", 1000, "browser", "error", "[red]boom[/red]", "[u]")])
    async with make_app(store, tmp_path).run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        assert listed(screen) == ["[b]t[/b]"]
        await pilot.press("enter")
        await idle(pilot)
        await pilot.pause()
        assert "[b]t[/b]" in plain(screen, "#trace-head")
        entries = screen.query_one("#entries", DataTable)
        assert entries.get_row_at(0)[3].plain == "[red]boom[/red]"


def test_snapshot_traces_list(
    snap_compare: Callable[..., bool], store: Store, tmp_path: Path
) -> None:
    fill(store)

    async def run_before(pilot: Pilot[object]) -> None:
        await settle(pilot)
        await steady(pilot)

    app = make_app(store, tmp_path)
    assert snap_compare(app, terminal_size=(150, 34), run_before=run_before)


def test_snapshot_trace_open(
    snap_compare: Callable[..., bool], store: Store, tmp_path: Path
) -> None:
    fill(store)

    async def run_before(pilot: Pilot[object]) -> None:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("up", "up", "up", "enter")
        await idle(pilot)
        await steady(pilot)

    app = make_app(store, tmp_path)
    assert snap_compare(app, terminal_size=(150, 34), run_before=run_before)
