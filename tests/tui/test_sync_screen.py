"""The Sync screen against a real redis-server and a real DuckDB store."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime
from typing import Any

import redis
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from logsync_tui.app import LogsyncApp
from logsync_tui.config import Settings
from logsync_tui.errors import SyncCancelled
from logsync_tui.screens.sync import SyncScreen, build_scope
from logsync_tui.storage import Store
from logsync_tui.storage.queries import LogFilter, count_rows
from logsync_tui.storage.runs import RunRecord, get_run, list_runs
from logsync_tui.sync import SyncProgress, SyncResult, run_sync
from logsync_tui.widgets.confirm_dialog import ConfirmDialog
from logsync_tui.widgets.trace_suggester import IdSuggester
from tests.conftest import push_like_worker
from tests.tui.conftest import BASE_MS, entry, render_plain

CLOSED_URL = "redis://127.0.0.1:1/0"
SIZE = (140, 44)
STARTED = datetime(2026, 1, 1, 0, 31, 5)


def sync_app(
    store: Store, url: str | None, batch_size: int = 100_000, **screen: Any
) -> LogsyncApp:
    """An app that opens on a Sync screen built with `screen` arguments."""
    settings = Settings(redis_url=url, db=store.path, batch_size=batch_size)

    class App(LogsyncApp):
        MODES = {**LogsyncApp.MODES, "sync": lambda: SyncScreen(**screen)}  # noqa: RUF012

    return App(settings, store=store, start="sync")


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for every worker, then for the messages they sent."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def stored(store: Store) -> int:
    """How many entries the store holds."""
    return count_rows(store.cursor(), LogFilter())


def runs_table(pilot: Pilot[Any]) -> list[list[str]]:
    """The runs table as plain strings, newest first."""
    table = pilot.app.screen.query_one("#runs", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def result_shown(pilot: Pilot[Any]) -> str:
    """The result panel as one line of plain text."""
    content = pilot.app.screen.query_one("#result", Static).content
    return " ".join(render_plain(content).split())


def test_build_scope_reads_the_form() -> None:
    scope = build_scope("a, b c", " u1 ", "15m", "2026-01-01T00:00:10Z", now=BASE_MS)
    assert scope.traces == ("a", "b", "c") and scope.users == ("u1",)
    assert scope.since_ms == BASE_MS - 15 * 60_000
    assert scope.until_ms == BASE_MS + 10_000


async def test_id_suggester_completes_the_last_word() -> None:
    suggester = IdSuggester(["trace-b", "trace-a", "other"])
    assert await suggester.get_suggestion("tr") == "trace-a"
    assert await suggester.get_suggestion("x, trace-b") == "x, trace-b"
    assert await suggester.get_suggestion("trace-a ot") == "trace-a other"
    assert await suggester.get_suggestion("trace-a ") is None
    suggester.update(["zz"])
    assert await suggester.get_suggestion("tr") is None


async def test_sync_all_then_the_runs_list_shows_it(
    rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    push_like_worker(rclient, [entry(n) for n in range(40)])
    app = sync_app(store, redis_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert runs_table(pilot) == []
        await pilot.press("a")
        await settle(pilot)
        assert stored(store) == 40
        shown = result_shown(pilot)
        assert "40 new · 0 already present · 0 conflicts · 0 malformed" in shown
        assert "verified ✓" in shown
        rows = runs_table(pilot)
        assert len(rows) == 1 and rows[0][2] == "ok" and rows[0][5] == "40"
        await pilot.press("a")
        await settle(pilot)
        assert [r[2] for r in runs_table(pilot)] == ["ok", "ok"]
        assert stored(store) == 40


async def test_sync_by_trace_with_a_suggested_id(
    rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    push_like_worker(rclient, [entry(n) for n in range(40)])
    app = sync_app(store, redis_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        await pilot.press(*"trace-2"[:-1])
        await pilot.pause()
        field = app.screen.query_one("#trace", Input)
        assert field._suggestion == "trace-0"
        await pilot.press("2", "enter")
        await settle(pilot)
        assert stored(store) == 13
        assert runs_table(pilot)[0][3] == "trace trace-2"


async def test_sync_by_user_and_time_range(
    rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    push_like_worker(rclient, [entry(n) for n in range(40)])
    app = sync_app(store, redis_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.query_one("#user", Input).value = "user-1"
        screen.query_one("#since", Input).value = "2026-01-01T00:00:10Z"
        screen.query_one("#until", Input).value = "2026-01-01T00:00:19Z"
        await pilot.press("u", "enter")
        await settle(pilot)
        # Odd entries 11..19 belong to user-1 and fall in the range.
        assert stored(store) == 5
        assert runs_table(pilot)[0][3].startswith("user user-1 · since 2026-01-01")


async def test_a_malformed_time_is_refused(redis_url: str, store: Store) -> None:
    app = sync_app(store, redis_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#since", Input).value = "last tuesday"
        await pilot.press("m", "enter")
        await settle(pilot)
        assert runs_table(pilot) == []
        assert any("is not a time" in n.message for n in app._notifications)


async def test_escape_cancels_a_sync_and_the_store_stays_consistent(
    rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    push_like_worker(rclient, [entry(n, trace_id=f"t{n % 50}") for n in range(3000)])
    pressed = threading.Event()

    def held_run(store: Store, source: Any, scope: Any, options: Any) -> SyncResult:
        inner = options.progress

        def progress(update: SyncProgress) -> None:
            inner(update)
            if update.entries_inserted and not pressed.is_set():
                pressed.wait(10)  # Hold the engine until Escape was pressed.

        options.progress = progress
        return run_sync(store, source, scope, options)

    app = sync_app(store, redis_url, batch_size=200, run=held_run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        for _ in range(200):
            if "new" in render_plain(app.screen.query_one("#progress-figures").content):
                break
            await pilot.pause(0.02)
        await pilot.press("escape")
        pressed.set()
        await settle(pilot)
        run = get_run(store.cursor(), 1)
        assert run.status == "cancelled"
        assert 0 < run.inserted < 3000
        assert stored(store) == run.inserted
        assert runs_table(pilot)[0][2] == "cancelled"
        assert "cancelled" in result_shown(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert stored(store) == 3000


async def test_quitting_mid_sync_records_a_cancelled_run(
    rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    push_like_worker(rclient, [entry(n, trace_id=f"t{n % 50}") for n in range(3000)])
    quit_pressed, held, ended = threading.Event(), threading.Event(), threading.Event()

    def held_run(store: Store, source: Any, scope: Any, options: Any) -> SyncResult:
        inner = options.progress

        def progress(update: SyncProgress) -> None:
            inner(update)
            if update.entries_inserted:
                held.set()
                quit_pressed.wait(10)  # Hold the engine until the app closed.

        options.progress = progress
        try:
            return run_sync(store, source, scope, options)
        finally:
            ended.set()

    app = sync_app(store, redis_url, batch_size=200, run=held_run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        for _ in range(500):
            if held.is_set():
                break
            await pilot.pause(0.02)
        await pilot.press("q")
    quit_pressed.set()
    assert ended.wait(10)
    run = get_run(store.cursor(), 1)
    assert run.status == "cancelled"
    assert 0 < stored(store) == run.inserted < 3000


async def test_the_stats_screen_shows_what_a_sync_stored(
    rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    push_like_worker(rclient, [entry(n) for n in range(40)])
    app = sync_app(store, redis_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)
        panel = app.screen.query_one("#store", Static).content
        assert "rows 40" in " ".join(render_plain(panel).split())


async def test_undo_a_run_after_confirming(
    rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    push_like_worker(rclient, [entry(n) for n in range(40)])
    app = sync_app(store, redis_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert stored(store) == 40
        await pilot.press("z")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await settle(pilot)
        assert stored(store) == 40
        await pilot.press("z", "y")
        await settle(pilot)
        assert stored(store) == 0
        assert runs_table(pilot)[0][2] == "undone"
        await pilot.press("z")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)  # nothing left to ask
        assert any("already undone" in n.message for n in app._notifications)


async def test_unreachable_redis_fails_the_run_and_the_app_stays_up(
    store: Store,
) -> None:
    app = sync_app(store, CLOSED_URL)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert any("cannot reach" in n.message for n in app._notifications)
        assert runs_table(pilot)[0][2] == "failed"
        assert "failed" in result_shown(pilot)
        await pilot.press("1")
        assert app.current_mode == "stats"


async def test_no_redis_configured(store: Store) -> None:
    app = sync_app(store, None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert any("No Redis configured" in n.message for n in app._notifications)
        assert runs_table(pilot) == []


def fixed_runs(con: Any) -> list[RunRecord]:
    """The real runs with their start and end times pinned."""
    return [
        dataclasses.replace(r, started_at=STARTED, finished_at=STARTED)
        for r in list_runs(con)
    ]


def test_snapshot_sync_runs(
    snap_compare: Any, rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    push_like_worker(rclient, [entry(n) for n in range(40)])
    app = sync_app(store, redis_url, load_runs=fixed_runs)

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("t", *"trace-1", "enter")
        await settle(pilot)
        assert app.screen.query_one("#runs").has_focus
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("z", "y")
        await settle(pilot)
        app.screen.query_one("#result", Static).update("")
        app.screen.query_one("#runs").focus()
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_sync_progress(
    snap_compare: Any, redis_url: str, store: Store
) -> None:
    def paused_run(store: Store, source: Any, scope: Any, options: Any) -> None:
        options.progress(SyncProgress(12, 60, 45_000, 44_210, 3.0))
        options.cancel.wait(10)  # Set when the app closes after the snapshot.
        raise SyncCancelled("the sync was cancelled")

    app = sync_app(store, redis_url, run=paused_run)

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("a")
        for _ in range(100):
            if "44,210" in str(app.screen.query_one("#progress-figures").content):
                break
            await pilot.pause(0.02)
        app.screen.query_one("#runs").focus()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_sync_result(snap_compare: Any, redis_url: str, store: Store) -> None:
    result = SyncResult(
        run_id=3,
        scope={},
        source="redis://127.0.0.1:6379/0",
        status="ok",
        keys=60,
        scanned=1_540,
        inserted=1_500,
        duplicates=30,
        conflicts=2,
        malformed=8,
        verified=True,
        warnings=["logs:[bold]x[/]: the list shrank while it was read"],
        seconds=1.25,
    )
    app = sync_app(store, redis_url, run=lambda *args: result)

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        app.screen.query_one("#runs").focus()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_undo_dialog(
    snap_compare: Any, rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    push_like_worker(rclient, [entry(n) for n in range(40)])
    app = sync_app(store, redis_url, load_runs=fixed_runs)

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        app.screen.query_one("#result", Static).update("")
        await pilot.press("z")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
