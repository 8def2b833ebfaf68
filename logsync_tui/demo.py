"""`logsync demo`: an embedded Redis seeded like a real buffer, then the app."""

from __future__ import annotations

import json
import logging
import tempfile
import threading
from importlib import resources
from pathlib import Path
from typing import Any

from logsync_tui.config import Settings
from logsync_tui.demo_data import DemoShape, compact, generate
from logsync_tui.errors import LogsyncError
from logsync_tui.sources.embedded import EmbeddedRedis
from logsync_tui.sources.redis import RedisSource
from logsync_tui.sources.seed import push
from logsync_tui.storage import Store
from logsync_tui.storage.summary import store_summary
from logsync_tui.sync import SyncResult, SyncScope, run_sync
from logsync_tui.timeparse import now_ms

log = logging.getLogger(__name__)


def real_lines(now: int) -> dict[str, list[str]]:
    """The packaged real-world log lines, moved so they end a few minutes ago."""
    text = (
        resources.files("logsync_tui.data")
        .joinpath("public.jsonl")
        .read_text(encoding="utf-8")
    )
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    newest = max(int(e["timestamp"]) for e in entries)
    shift = now - 5 * 60_000 - newest
    out: dict[str, list[str]] = {}
    for entry in entries:
        entry["timestamp"] = int(entry["timestamp"]) + shift
        out.setdefault(entry["trace_id"], []).append(compact(entry))
    return out


def seed_demo(url: str, now: int | None = None) -> int:
    """Fill the Redis at `url` with generated traces and the real lines."""
    now = now_ms() if now is None else now
    generated = generate(DemoShape(entries=1_500, traces=60, now_ms=now))
    traces: dict[str, Any] = {
        t: [compact(e) for e in entries] for t, entries in generated.items()
    }
    traces.update(real_lines(now))
    source = RedisSource(url)
    try:
        return push(source.client(), traces, force=True).entries
    finally:
        source.close()


class LiveFeed:
    """Pushes a fresh generated trace every few seconds, as a busy app would.

    It makes the demo's buffer move: the Stats screen's refresh and an
    incremental sync on the Sync screen have new entries to find.
    """

    def __init__(self, url: str, every: float = 8.0) -> None:
        self.url = url
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-feed", daemon=True)
        self._round = 0

    def __enter__(self) -> LiveFeed:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        source = RedisSource(self.url)
        try:
            while not self._stop.wait(self.every):
                self._push(source)
        except LogsyncError:
            log.warning("demo feed stopped: the embedded Redis went away")
        finally:
            source.close()

    def _push(self, source: RedisSource) -> None:
        self._round += 1
        shape = DemoShape(
            entries=14, traces=1, now_ms=now_ms(), window_ms=61_000,
            seed=1000 + self._round,
        )  # fmt: skip
        traces = {
            t: [compact(e) for e in entries] for t, entries in generate(shape).items()
        }
        push(source.client(), traces, force=True)


def run_demo(headless: bool = False) -> int:
    """Start the embedded server, seed and sync it, then open the app.

    The throw-away store starts with the seeded buffer already synced, so
    every screen has something to show; a live feed keeps adding traces.
    """
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as tmp:
        seed_demo(server.url)
        settings = Settings(redis_url=server.url, db=Path(tmp) / "demo.duckdb")
        result = _sync_once(settings)
        if headless:
            return _print_store(settings, result)
        from logsync_tui.app import run_app

        with LiveFeed(server.url):
            return run_app(settings)


def _sync_once(settings: Settings) -> SyncResult:
    assert settings.redis_url is not None
    source = RedisSource(settings.redis_url)
    try:
        with Store.open(settings.db) as store:
            return run_sync(store, source, SyncScope())
    finally:
        source.close()


def _print_store(settings: Settings, result: SyncResult) -> int:
    with Store.open(settings.db, read_only=True) as store:
        summary = store_summary(store.cursor(), store.path)
    print(
        f"synced {result.inserted:,} entries from {result.keys:,} traces "
        f"({result.malformed} malformed) in {result.seconds:.2f}s"
    )
    print("by system:", ", ".join(f"{k} {v:,}" for k, v in summary.by_system.items()))
    print("by level: ", ", ".join(f"{k} {v:,}" for k, v in summary.by_level.items()))
    return 0
