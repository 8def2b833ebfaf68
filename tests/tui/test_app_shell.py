"""The app shell: modes, keys, and working on the local store without Redis."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from logsync_tui.app import LogsyncApp
from logsync_tui.config import Settings
from logsync_tui.screens.export import ExportScreen
from logsync_tui.screens.logs import LogsScreen
from logsync_tui.storage import Store
from tests.tui.conftest import Entries, entry
from tests.tui.test_logs_screen import SIZE, settle, status

Synced = Callable[[Entries], Store]


async def test_keys_switch_between_the_four_screens(
    synced: Synced, db_path: Path
) -> None:
    synced([entry(n) for n in range(5)]).close()
    app = LogsyncApp(Settings(redis_url=None, db=db_path), start="logs")
    async with app.run_test(size=SIZE) as pilot:
        assert app.source is None
        screen = await settle(pilot)
        assert "5 matching of 5 stored" in status(screen)
        for key, mode in (
            ("1", "stats"),
            ("2", "sync"),
            ("4", "export"),
            ("3", "logs"),
        ):
            await pilot.press(key)
            await pilot.pause()
            assert app.current_mode == mode
        assert isinstance(app.screen, LogsScreen)
        await pilot.press("4")
        assert isinstance(app.screen, ExportScreen)
        assert app.is_running


async def test_unreachable_redis_leaves_logs_working(
    synced: Synced, db_path: Path
) -> None:
    synced([entry(n) for n in range(7)]).close()
    settings = Settings(redis_url="redis://127.0.0.1:1/0", db=db_path)
    app = LogsyncApp(settings, start="logs")
    async with app.run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        assert "7 matching of 7 stored" in status(screen)
        await pilot.press("1")
        await pilot.app.workers.wait_for_complete()
        await pilot.press("3", "slash", *"number 3")
        screen = await settle(pilot)
        assert screen.matching == 1
        assert app.is_running


async def test_read_only_store_is_announced(synced: Synced, db_path: Path) -> None:
    synced([entry(1)]).close()
    with Store.open(db_path, read_only=True) as store:
        app = LogsyncApp(Settings(db=db_path), store=store, start="logs")
        async with app.run_test(size=SIZE) as pilot:
            screen = await settle(pilot)
            assert "1 matching of 1 stored" in status(screen)
            titles = [n.title for n in app._notifications]
            assert "store read-only" in titles
