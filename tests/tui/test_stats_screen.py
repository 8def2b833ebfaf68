"""The Stats screen against a real redis-server and a real DuckDB store."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from textual.pilot import Pilot
from textual.widgets import DataTable, Sparkline, Static

from logsync_tui.app import LogsyncApp
from logsync_tui.config import Settings
from logsync_tui.screens.stats import StatsScreen, minute_series
from logsync_tui.sources.embedded import EmbeddedRedis
from logsync_tui.sources.redis import RedisSource
from logsync_tui.stats import BufferStats, buffer_stats
from logsync_tui.storage import Store
from logsync_tui.storage.summary import StoreSummary, store_summary
from tests.conftest import push_like_worker
from tests.tui.conftest import BASE_MS, entry, render_plain

NOW_MS = BASE_MS + 30 * 60_000
"""The screens' clock: half an hour after the first seeded entry."""
CLOSED_URL = "redis://127.0.0.1:1/0"
"""Nothing listens on port 1 of the loopback: connections are refused."""
SIZE = (140, 48)


def seed(client: redis.Redis, count: int = 40) -> None:
    """`count` entries over three traces; trace-0 expires in five minutes."""
    push_like_worker(client, [entry(n) for n in range(count)])
    client.expire("logs:trace-0", 300)


def fixed_stats(source: RedisSource, cancel: Any = None) -> BufferStats:
    """Real stats with the figures that change from run to run pinned."""
    stats = buffer_stats(source, cancel)
    return dataclasses.replace(
        stats,
        source="redis://127.0.0.1:6379/0",
        server_version="7.2.4",
        used_memory="1.05M",
        latency_ms=0.42,
        seconds=0.05,
        soonest_expiry_seconds=300 if stats.soonest_expiry_seconds else None,
    )


def fixed_summary(con: Any, path: Path) -> StoreSummary:
    """The real store summary with its path and file size pinned."""
    summary = store_summary(con, path)
    return dataclasses.replace(summary, path="store.duckdb", file_bytes=274_432)


def stats_app(store: Store, url: str | None, **screen: Any) -> Callable[[], LogsyncApp]:
    """An app that opens on a Stats screen built with `screen` arguments."""
    settings = Settings(redis_url=url, db=store.path)

    class App(LogsyncApp):
        MODES = {**LogsyncApp.MODES, "stats": lambda: StatsScreen(**screen)}  # noqa: RUF012

    return lambda: App(settings, store=store, start="stats")


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for every worker, then for the messages they sent."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def text_of(screen: StatsScreen, selector: str) -> str:
    """What a Static of the screen shows, as plain text."""
    return render_plain(screen.query_one(selector, Static).content)


def test_minute_series_places_counts_in_the_last_hour() -> None:
    minute = 60_000
    now = BASE_MS + 59 * minute + 5_000
    series = minute_series([(BASE_MS, 3), (BASE_MS + 58 * minute, 2)], now)
    assert len(series) == 60
    assert series[0] == 3 and series[58] == 2 and sum(series) == 5
    assert minute_series([(BASE_MS - minute, 9)], now) == [0] * 60


async def test_stats_of_a_seeded_buffer(
    rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    seed(rclient)
    app = stats_app(store, redis_url, clock=lambda: NOW_MS)()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, StatsScreen)
        counts = text_of(screen, "#counts").split()
        assert counts[:2] == ["entries", "40"]
        assert "traces 3" in " ".join(counts) and "users 2" in " ".join(counts)
        breakdown = text_of(screen, "#breakdown")
        for name in ("browser", "convex", "worker", "manual", "error", "warn"):
            assert f"{name} 10" in " ".join(breakdown.split())
        ttl = " ".join(text_of(screen, "#ttl").split())
        assert "14 entries in 1 trace expire within 10 minutes" in ttl
        assert sum(screen.query_one(Sparkline).data or []) == 40
        assert screen.query_one("#recent-traces", DataTable).row_count == 3
        assert "rows 0" in " ".join(text_of(screen, "#store").split())
        assert not screen.query_one("#banner").display


async def test_refresh_key_rescans_the_buffer(
    rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    seed(rclient, 10)
    app = stats_app(store, redis_url, clock=lambda: NOW_MS)()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert text_of(app.screen, "#counts").split()[:2] == ["entries", "10"]
        push_like_worker(rclient, [entry(n) for n in range(10, 25)])
        await pilot.press("r")
        await settle(pilot)
        assert text_of(app.screen, "#counts").split()[:2] == ["entries", "25"]


async def test_password_is_masked(store: Store) -> None:
    with EmbeddedRedis(password="s3cret-pw") as server:
        app = stats_app(store, server.url)()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            shown = text_of(app.screen, "#connection")
            assert ":***@127.0.0.1" in shown
            assert "s3cret-pw" not in app.export_screenshot()


async def test_unreachable_redis_shows_a_banner_and_the_store(store: Store) -> None:
    app = stats_app(store, CLOSED_URL)()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        banner = app.screen.query_one("#banner", Static)
        assert banner.display
        text = render_plain(banner.content)
        assert "Redis unreachable" in text and "cannot reach" in text
        assert "rows 0" in " ".join(text_of(app.screen, "#store").split())
        await pilot.press("3")
        assert app.current_mode == "logs"


async def test_no_redis_configured(store: Store) -> None:
    app = stats_app(store, None)()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = render_plain(app.screen.query_one("#banner", Static).content)
        assert "No Redis configured" in text


def test_snapshot_stats(
    snap_compare: Any, rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    seed(rclient)
    app = stats_app(
        store,
        redis_url,
        clock=lambda: NOW_MS,
        load_stats=fixed_stats,
        load_summary=fixed_summary,
    )()
    assert snap_compare(app, terminal_size=SIZE, run_before=settle_filled)


async def settle_filled(pilot: Pilot[Any]) -> None:
    """Settle, then wait until the recent-traces table holds its rows.

    The scan's worker may not have started when the first settle looks, and
    a snapshot taken then shows the table empty with header-only widths.
    """
    table = pilot.app.screen.query_one("#recent-traces", DataTable)
    for _ in range(500):
        await settle(pilot)
        if table.row_count:
            # Let the table measure its columns and repaint the rows.
            for _ in range(3):
                await pilot.pause(0.05)
                await pilot.wait_for_scheduled_animations()
            return
        await pilot.pause(0.01)
    raise AssertionError("the recent traces never appeared")


def test_snapshot_stats_unreachable(snap_compare: Any, store: Store) -> None:
    app = stats_app(
        store, CLOSED_URL, clock=lambda: NOW_MS, load_summary=fixed_summary
    )()
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_snapshot_stats_without_redis(snap_compare: Any, store: Store) -> None:
    app = stats_app(store, None, clock=lambda: NOW_MS, load_summary=fixed_summary)()
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
