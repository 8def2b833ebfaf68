"""The Store screen and the app's Worker source: real DuckDB, Redis and HTTP."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import redis
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from logsync_tui.app import LogsyncApp, retain_at_start
from logsync_tui.config import Settings
from logsync_tui.errors import UsageError
from logsync_tui.messages import StoreLoaded
from logsync_tui.screens.stats import StatsScreen
from logsync_tui.screens.store import StoreScreen, parse_policy, read_view
from logsync_tui.storage import Store
from logsync_tui.storage.quarantine import count_quarantine
from logsync_tui.storage.queries import LogFilter, count_rows
from logsync_tui.storage.retention import RetentionPolicy, load_policy, save_policy
from logsync_tui.widgets.confirm_dialog import ConfirmDialog
from tests.conftest import push_like_worker
from tests.tui.conftest import CLOCK_MS, Entries, entry, idle, render_plain
from tests.unit.test_quarantine import good, quarantine_as_older_release
from tests.worker_server import WorkerServer, running_worker

SIZE = (150, 40)
Synced = Callable[[Entries], Store]
QUARANTINED_AT = datetime(2026, 1, 1, 0, 45, 0)


@pytest.fixture
def worker(redis_url: str) -> Iterator[WorkerServer]:
    with running_worker(redis_url) as server:
        yield server


def store_app(store: Store, **screen: Any) -> LogsyncApp:
    """An app on `store` without any source, opened on the Store screen."""
    settings = Settings(db=store.path)

    class App(LogsyncApp):
        MODES = {**LogsyncApp.MODES, "store": lambda: StoreScreen(**screen)}  # noqa: RUF012

    return App(settings, store=store, start="store", clock=lambda: CLOCK_MS)


def shown(pilot: Pilot[Any], selector: str) -> str:
    """A Static's content as one line of plain text."""
    content = pilot.app.screen.query_one(selector, Static).content
    return " ".join(render_plain(content).split())


def traces_stored(store: Store) -> dict[str, int]:
    rows = (
        store.cursor()
        .execute("SELECT trace_id, count(*) FROM debug_logs GROUP BY 1")
        .fetchall()
    )
    return {str(t): int(n) for t, n in rows}


async def answer(pilot: Pilot[Any], key: str) -> None:
    """Wait for the confirmation dialog, answer it, wait for the work."""
    await idle(pilot)
    assert isinstance(pilot.app.screen, ConfirmDialog)
    await pilot.press(key)
    await idle(pilot)


async def test_usage_figures_are_shown(synced: Synced) -> None:
    store = synced([entry(n) for n in range(24)])
    async with store_app(store).run_test(size=SIZE) as pilot:
        await idle(pilot)
        usage = shown(pilot, "#usage")
        assert str(store.path) in usage
        assert "entries 24 in 3 traces, 2 users" in usage
        assert "debug_logs 24" in usage and "sync_runs 1" in usage
        assert "browser 6" in usage and "error 6" in usage
        assert "oldest 2026-01-01 00:00 UTC" in usage
        assert "quarantine 0 entries" in usage
        assert "file size" in usage and " KB" in usage


async def test_clean_by_trace_asks_and_removes_exactly_that_trace(
    synced: Synced,
) -> None:
    store = synced([entry(n) for n in range(24)])
    async with store_app(store).run_test(size=SIZE) as pilot:
        await idle(pilot)
        await pilot.press("t", *"trace-1", "enter")
        await idle(pilot)
        question = render_plain(pilot.app.screen.query_one("#question").content)
        assert "Clean trace trace-1?" in question and "8 entries" in question
        await answer(pilot, "n")
        assert traces_stored(store) == {"trace-0": 8, "trace-1": 8, "trace-2": 8}
        await pilot.press("enter")
        await answer(pilot, "y")
        assert traces_stored(store) == {"trace-0": 8, "trace-2": 8}
        assert "Removed 8 entries" in shown(pilot, "#status")
        assert "entries 16 in 2 traces" in shown(pilot, "#usage")


async def test_retention_is_saved_and_applied(synced: Synced) -> None:
    store = synced([entry(n) for n in range(24)])
    async with store_app(store).run_test(size=SIZE) as pilot:
        await idle(pilot)
        await pilot.press("e", *"400d")
        await pilot.click("#max-entries")
        await pilot.press(*"10", "enter")
        await idle(pilot)
        saved = load_policy(store.cursor())
        assert saved == RetentionPolicy(max_age_ms=400 * 86_400_000, max_entries=10)
        await pilot.press("escape", "p")
        await idle(pilot)
        assert count_rows(store.cursor(), LogFilter()) == 10
        assert "Retention removed 14 by max entries" in shown(pilot, "#status")
        field = pilot.app.screen.query_one("#max-entries", Input)
        assert field.value == "10"


async def test_a_bad_limit_is_refused_and_nothing_saved(store: Store) -> None:
    async with store_app(store).run_test(size=SIZE) as pilot:
        await idle(pilot)
        await pilot.press("e", *"soon", "enter")
        await idle(pilot)
        assert load_policy(store.cursor()) == RetentionPolicy()
        assert any("not a duration" in n.message for n in pilot.app._notifications)
    with pytest.raises(UsageError, match="above 0"):
        parse_policy({"max-entries": "0"})


async def test_retention_runs_when_the_app_starts(synced: Synced) -> None:
    store = synced([entry(n) for n in range(12)])
    save_policy(store.cursor(), RetentionPolicy(max_entries=5))
    retained = retain_at_start(store)
    assert retained is not None and retained.removed_by_rule["max_entries"] == 7
    app = LogsyncApp(Settings(db=store.path), store=store, retained=retained)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        notes = [n for n in app._notifications if n.title == "retention"]
        assert notes and "Retention removed 7 by max entries" in notes[0].message
    assert count_rows(store.cursor(), LogFilter()) == 5
    other = store.path.with_name("ro.duckdb")
    Store.open(other).close()  # a migrated file to open read-only
    with Store.open(other, read_only=True) as read_only:
        assert retain_at_start(read_only) is None


async def test_quarantine_retry_and_purge(store: Store) -> None:
    repaired = good(1, timestamp="2026-01-01T00:00:01Z")
    quarantine_as_older_release(store, [json.dumps(repaired), "{not json"])
    store.cursor().execute(
        "UPDATE quarantine SET reason = 'not valid JSON' WHERE raw_data = '{not json'"
    )
    async with store_app(store).run_test(size=SIZE) as pilot:
        await idle(pilot)
        table = pilot.app.screen.query_one("#quarantine", DataTable)
        assert table.row_count == 2
        await pilot.press("y")
        await idle(pilot)
        assert "moved 1 (1 new), 1 still quarantined" in shown(pilot, "#status")
        assert count_rows(store.cursor(), LogFilter()) == 1
        assert table.row_count == 1
        assert "not valid JSON" in str(table.get_row_at(0)[2])
        await pilot.press("d")
        await answer(pilot, "n")
        assert count_quarantine(store.cursor()) == 1
        await pilot.press("d")
        await answer(pilot, "y")
        assert count_quarantine(store.cursor()) == 0
        assert table.row_count == 0


async def test_a_run_that_does_not_exist_is_reported(store: Store) -> None:
    async with store_app(store).run_test(size=SIZE) as pilot:
        await idle(pilot)
        await pilot.press("n", *"99", "enter")
        await idle(pilot)
        assert not isinstance(pilot.app.screen, ConfirmDialog)
        assert any("no run 99" in n.message for n in pilot.app._notifications)


async def test_the_app_with_only_a_worker_url_shows_it_and_syncs(
    rclient: redis.Redis, worker: WorkerServer, db_path: Path
) -> None:
    push_like_worker(rclient, [entry(n, trace_id=f"t{n:02d}") for n in range(51)])
    settings = Settings(worker_url=worker.url, db=db_path, requests_per_second=0)
    app = LogsyncApp(settings, start="stats", clock=lambda: CLOCK_MS)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        assert isinstance(app.screen, StatsScreen)
        assert not app.screen.query_one("#banner").display
        assert worker.url in shown(pilot, "#connection")
        assert "Worker log-worker healthy" in shown(pilot, "#connection")
        counts = shown(pilot, "#counts")
        assert "entries 50" in counts and "listed traces 50" in counts
        assert "need a sync" in shown(pilot, "#breakdown")
        assert not app.screen.query_one("#chart").display
        worker_panel = shown(pilot, "#worker")
        assert "cost model" in worker_panel
        assert "upstash-secret-token" not in worker_panel
        cost = shown(pilot, "#cost")
        assert "a full sync costs about 51 requests" in cost
        assert "may have missed older traces" in cost
        await pilot.press("2", "a")
        await idle(pilot)
        await idle(pilot)
        result = shown(pilot, "#result")
        assert "50 new" in result and "LOGSYNC_REDIS_URL" in result
    with Store.open(db_path, read_only=True) as store:
        assert count_rows(store.cursor(), LogFilter()) == 50
    assert len(worker.requests("/logs")) == 50


async def test_both_urls_scan_redis_and_show_the_worker_masked(
    rclient: redis.Redis, redis_url: str, worker: WorkerServer, db_path: Path
) -> None:
    push_like_worker(rclient, [entry(n) for n in range(4)])
    secret_url = worker.url.replace("http://", "http://me:pw-secret@")
    settings = Settings(redis_url=redis_url, worker_url=secret_url, db=db_path)
    app = LogsyncApp(settings, start="stats", clock=lambda: CLOCK_MS)
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        assert redis_url.split("//")[1] in shown(pilot, "#connection")
        worker_panel = shown(pilot, "#worker")
        assert worker.url.split("//")[1] in worker_panel and "***" in worker_panel
        assert "pw-secret" not in app.export_screenshot()
        assert "entries 4" in shown(pilot, "#counts")


def pinned_view(con: duckdb.DuckDBPyConnection, path: Path) -> StoreLoaded:
    """The real view with the file figures and times that vary pinned."""
    view = read_view(con, path)
    usage = dataclasses.replace(view.usage, file_bytes=1_323_008, live_bytes=786_432)
    summary = dataclasses.replace(view.summary, path="store.duckdb")
    quarantine = [
        dataclasses.replace(q, quarantined_at=QUARANTINED_AT) for q in view.quarantine
    ]
    return dataclasses.replace(
        view, usage=usage, summary=summary, quarantine=quarantine
    )


def test_snapshot_store(snap_compare: Any, synced: Synced) -> None:
    store = synced([entry(n) for n in range(24)])
    quarantine_as_older_release(store, ['{"broken": [1, 2', "[bold]not markup[/]"])
    save_policy(store.cursor(), RetentionPolicy(max_age_ms=14 * 86_400_000))
    app = store_app(store, load_view=pinned_view)
    assert snap_compare(app, terminal_size=SIZE, run_before=idle)


async def test_key_6_and_the_palette_open_the_store(store: Store) -> None:
    app = LogsyncApp(Settings(db=store.path), store=store, start="logs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await idle(pilot)
        assert app.current_mode == "store"
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Show Store" in titles and "Clean all" in titles and "By run" in titles
