"""Pilot tests of the Logs screen against a real Redis and a real DuckDB file."""

from __future__ import annotations

from collections.abc import Callable

from textual import events
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Static

from logsync_tui.app import LogsyncApp
from logsync_tui.screens.logs import LogsScreen
from logsync_tui.storage import Store
from logsync_tui.widgets.detail import DetailPane
from logsync_tui.widgets.safe_text import MATCH_STYLE
from tests.tui.conftest import Entries, entry, idle, render_plain, table_line

SIZE = (160, 40)
MakeApp = Callable[[Store], LogsyncApp]
Synced = Callable[[Entries], Store]


async def settle(pilot: Pilot[object]) -> LogsScreen:
    """Wait until the screen's last filter is loaded and counted."""
    screen = pilot.app.screen
    assert isinstance(screen, LogsScreen)
    for _ in range(200):
        await pilot.pause(0.02)
        await idle(pilot)
        if (
            screen.matching is not None
            and screen.loaded_generation == screen.generation
        ):
            await pilot.pause()
            return screen
    raise AssertionError("the Logs screen never finished loading")


def status(screen: LogsScreen) -> str:
    return render_plain(screen.query_one("#status", Static).content)


def shown(screen: LogsScreen) -> list[str]:
    table = screen.table
    return [table_line(table, y) for y in range(min(table.total, table.size.height))]


async def test_open_shows_newest_first_and_counts(synced: Synced, make_app: MakeApp):
    store = synced([entry(n) for n in range(30)])
    async with make_app(store).run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        assert "30 matching of 30 stored" in status(screen)
        lines = shown(screen)
        assert "message number 29" in lines[0]
        assert "2026-01-01 00:00:29.000" in lines[0]
        await pilot.press("o")
        screen = await settle(pilot)
        assert "message number 0 " in shown(screen)[0]
        await pilot.press("G")
        await settle(pilot)
        assert screen.table.current is not None
        assert screen.table.current.message == "message number 29"


async def test_filter_by_system(synced: Synced, make_app: MakeApp):
    store = synced([entry(n) for n in range(40)])
    async with make_app(store).run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        for name in ("convex", "worker", "manual"):
            pilot.app.screen.query_one(f"#sys-{name}", Checkbox).value = False
        screen = await settle(pilot)
        assert "10 matching of 40 stored" in status(screen)
        assert all(" browser " in line for line in shown(screen))
        await pilot.press("escape", "x")
        screen = await settle(pilot)
        assert "40 matching of 40 stored" in status(screen)


async def test_search_filters_and_highlights(synced: Synced, make_app: MakeApp):
    rows = [entry(n) for n in range(20)]
    rows[5]["message"] = "checkout Failed for cart"
    rows[9]["stack"] = "Error: boom\n    at failedThing (x.js:1:1)"
    rows[12]["context"] = {"note": "FAILED upstream"}
    store = synced(rows)
    async with make_app(store).run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"failed")
        screen = await settle(pilot)
        assert "3 matching of 20 stored" in status(screen)
        found = [screen.table.row_at(i) for i in range(3)]
        assert {r.id for r in found if r} == {rows[i]["id"] for i in (5, 9, 12)}
        index = next(i for i, r in enumerate(found) if r and "checkout" in r.message)
        styled = screen.table.render_line(index)
        marked = [
            s.text
            for s in styled
            if s.style
            and s.style.bgcolor
            and s.style.bgcolor.name == MATCH_STYLE.split()[-1]
        ]
        assert "".join(marked).lower() == "failed"


async def test_keys_typed_right_after_slash_reach_the_search(
    synced: Synced, make_app: MakeApp
):
    rows = [entry(n) for n in range(20)]
    rows[3]["message"] = "cache exploded"
    rows[7]["level"] = "error"
    store = synced(rows)
    async with make_app(store).run_test(size=SIZE) as pilot:
        await settle(pilot)
        # Queued all at once, as a paste or a fast typist delivers them.
        for key, char in [("slash", "/"), *((c, c) for c in "cache")]:
            pilot.app.post_message(events.Key(key, char))
        screen = await settle(pilot)
        assert screen.query_one("#search", Input).value == "cache"
        assert "1 matching of 20 stored" in status(screen)


async def test_enter_expands_row_with_trace_position(synced: Synced, make_app: MakeApp):
    rows = [entry(n, trace_id="t-one") for n in range(4)]
    rows[2]["stack"] = "Error: bad\n    at f (a.js:1:1)\n    at g (b.js:2:2)"
    store = synced(rows)
    async with make_app(store).run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        await pilot.press("down", "enter")
        await idle(pilot)
        await pilot.pause()
        pane = screen.query_one(DetailPane)
        assert pane.is_open
        text = render_plain(pane.query_one("#detail-body", Static).content)
        assert "entry 3 of 4 in its trace" in text
        assert "    at f (a.js:1:1)\n    at g (b.js:2:2)" in text
        assert '"path": "/api/item/2"' in text
        await pilot.press("escape")
        assert not pane.is_open


async def test_t_narrows_to_trace_and_keeps_row(synced: Synced, make_app: MakeApp):
    store = synced([entry(n) for n in range(30)])
    async with make_app(store).run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        await pilot.press("down", "down", "down")
        row = screen.table.current
        assert row is not None
        await pilot.press("t")
        screen = await settle(pilot)
        assert "10 matching of 30 stored" in status(screen)
        assert screen.filter.traces == (row.trace_id,)
        assert screen.table.current is not None
        assert screen.table.current.id == row.id
        await pilot.press("u")
        screen = await settle(pilot)
        assert screen.filter.users == (row.user_id,)


async def test_e_jumps_between_errors(synced: Synced, make_app: MakeApp):
    rows = [entry(n, level="info") for n in range(50)]
    for n in (40, 10):
        rows[n]["level"] = "error"
    store = synced(rows)
    async with make_app(store).run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert screen.table.cursor == 9
        await pilot.press("e")
        await settle(pilot)
        assert screen.table.cursor == 39
        await pilot.press("E")
        await settle(pilot)
        assert screen.table.cursor == 9


async def test_scrolling_pages_rows_from_the_store(synced: Synced, make_app: MakeApp):
    store = synced([entry(n) for n in range(1_000)])
    async with make_app(store).run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        assert len(screen.table._rows) < 1_000
        await pilot.press("G")
        await settle(pilot)
        await pilot.pause(0.1)
        await idle(pilot)
        await pilot.pause()
        height = screen.table.size.height
        assert "message number 0 " in table_line(screen.table, height - 1)
        assert "row 1,000" in status(screen)


async def test_no_store_rows_shows_zero(store: Store, make_app: MakeApp):
    async with make_app(store).run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        assert "0 matching of 0 stored" in status(screen)
        await pilot.press("enter", "y", "t", "e")
        assert pilot.app.is_running


async def test_returning_to_logs_reloads_only_when_the_store_changed(
    synced: Synced, make_app: MakeApp
) -> None:
    store = synced([entry(n) for n in range(10)])
    async with make_app(store).run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        generation = screen.generation
        await pilot.press("4", "3")
        await idle(pilot)
        await pilot.pause()
        assert screen.generation == generation
        await pilot.press("4")
        synced([entry(n) for n in range(10, 15)])
        await pilot.press("3")
        await idle(pilot)
        screen = await settle(pilot)
        assert screen.generation > generation
        assert "15 matching of 15 stored" in status(screen)


async def test_command_palette_lists_screen_actions(
    synced: Synced, make_app: MakeApp
) -> None:
    rows = [entry(n, level="info") for n in range(20)]
    rows[10]["level"] = "error"
    store = synced(rows)
    app = make_app(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        titles = [command.title for command in app.get_system_commands(screen)]
        for title in ("Show Export", "Next error", "Search", "Copy JSON", "Trace"):
            assert title in titles
        await pilot.press("ctrl+p", *"next error")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        await idle(pilot)
        await pilot.pause()
        assert screen.table.cursor == 9


async def test_level_toggles_and_time_range(synced: Synced, make_app: MakeApp):
    store = synced([entry(n) for n in range(40)])
    async with make_app(store).run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        screen = pilot.app.screen
        for level in ("log", "info", "warn"):
            screen.query_one(f"#lvl-{level}", Checkbox).value = False
        screen = await settle(pilot)
        assert "10 matching of 40 stored" in status(screen)
        assert screen.filter.levels == ("error",)
        since = screen.query_one("#f-since", Input)
        since.value = "2026-01-01T00:00:20Z"
        since.focus()
        await pilot.press("enter")
        screen = await settle(pilot)
        assert "5 matching of 40 stored" in status(screen)
        screen.query_one("#f-until", Input).value = "not a time"
        screen.query_one("#f-until", Input).focus()
        await pilot.press("enter")
        screen = await settle(pilot)
        assert screen.query_one("#f-until", Input).has_class("-invalid")
        assert any(n.title == "time filter" for n in pilot.app._notifications)
        assert "5 matching of 40 stored" in status(screen)
