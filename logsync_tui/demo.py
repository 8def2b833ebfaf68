"""`logsync demo`: an embedded Redis seeded like a real buffer, then the app."""

from __future__ import annotations

import json
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from logsync_tui.config import Settings
from logsync_tui.demo_data import DemoShape, compact, generate
from logsync_tui.sources.embedded import EmbeddedRedis
from logsync_tui.sources.redis import RedisSource
from logsync_tui.sources.seed import push
from logsync_tui.timeparse import now_ms


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


def run_demo(headless: bool = False) -> int:
    """Start the embedded server, seed it, open the app (or sync and print)."""
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as tmp:
        seed_demo(server.url)
        settings = Settings(redis_url=server.url, db=Path(tmp) / "demo.duckdb")
        if headless:
            return _headless(settings)
        from logsync_tui.app import run_app

        return run_app(settings)


def _headless(settings: Settings) -> int:
    from logsync_tui.storage import Store
    from logsync_tui.storage.summary import store_summary
    from logsync_tui.sync import SyncScope, run_sync

    assert settings.redis_url is not None
    source = RedisSource(settings.redis_url)
    with Store.open(settings.db) as store:
        result = run_sync(store, source, SyncScope())
        summary = store_summary(store.cursor(), store.path)
    source.close()
    print(
        f"synced {result.inserted:,} entries from {result.keys:,} traces "
        f"({result.malformed} malformed) in {result.seconds:.2f}s"
    )
    print("by system:", ", ".join(f"{k} {v:,}" for k, v in summary.by_system.items()))
    print("by level: ", ", ".join(f"{k} {v:,}" for k, v in summary.by_level.items()))
    return 0
