"""Fixtures for the app tests: a store synced from the real test Redis."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from rich.console import Console

from logsync_tui.app import LogsyncApp
from logsync_tui.config import Settings
from logsync_tui.sources.redis import RedisSource
from logsync_tui.storage import Store
from logsync_tui.sync import SyncScope, run_sync
from logsync_tui.widgets.log_table import LogTable
from tests.conftest import push_like_worker

BASE_MS = 1_767_225_600_000
"""2026-01-01 00:00:00 UTC: fixed timestamps keep snapshots stable."""

CLOCK_MS = BASE_MS + 3_600_000
"""The app's fixed "now" in tests: one hour after the first entry."""

Entries = list[dict[str, object]]


def entry(n: int, **fields: object) -> dict[str, object]:
    """A valid Worker entry number `n`, one second after the previous one."""
    base: dict[str, object] = {
        "id": f"{BASE_MS + n * 1000}_e{n:08d}",
        "trace_id": f"trace-{n % 3}",
        "user_id": f"user-{n % 2}",
        "system": ("browser", "convex", "worker", "manual")[n % 4],
        "level": ("log", "info", "warn", "error")[n % 4],
        "message": f"message number {n}",
        "timestamp": BASE_MS + n * 1000,
        "context": {"n": n, "path": f"/api/item/{n}"},
    }
    base.update(fields)
    return base


@pytest.fixture
def synced(
    rclient: redis.Redis, redis_url: str, store: Store
) -> Callable[[Entries], Store]:
    """Push entries into the test Redis as the Worker does, then sync them."""

    def sync(entries: Entries) -> Store:
        push_like_worker(rclient, entries)
        source = RedisSource(redis_url)
        try:
            run_sync(store, source, SyncScope())
        finally:
            source.close()
        return store

    return sync


@pytest.fixture
def make_app(redis_url: str, db_path: Path) -> Callable[[Store], LogsyncApp]:
    """An app on the test store, started on the Logs screen."""

    def make(store: Store, **settings: object) -> LogsyncApp:
        config = Settings(redis_url=redis_url, db=db_path, **settings)  # type: ignore[arg-type]
        return LogsyncApp(config, store=store, start="logs", clock=lambda: CLOCK_MS)

    return make


def table_line(table: LogTable, y: int) -> str:
    """The plain text the table draws on screen line `y`."""
    return "".join(segment.text for segment in table.render_line(y))


def render_plain(renderable: object, width: int = 200) -> str:
    """What a renderable prints, as plain text."""
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()
