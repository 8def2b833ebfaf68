"""Benchmark: the Logs screen over a store of synced entries (1,000,000 by default).

Builds the store through the real path (generated traces pushed into a
throw-away redis-server on 127.0.0.1, then `run_sync`), then drives the app
with Textual's pilot in a child process, so the RSS printed is the app's
own. Prints figures; asserts nothing.

    python bench/bench_app.py [--entries 1000000] [--traces 20000] [--db PATH]

Figures:
- first page: from the key that opens the Logs screen (the app starts on
  the Sync screen) until its first page of rows and its "N matching of M
  stored" count are painted;
- search keystroke: from a key event in the search box until the table is
  painted with the new filter's first page and count (median, 90th pct);
- jump to end: from G until the oldest row is painted;
- RSS of the app process after those steps (current and peak).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textual import events
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input

from logsync_tui.app import LogsyncApp
from logsync_tui.config import Settings
from logsync_tui.demo_data import DemoShape, compact, generate
from logsync_tui.screens.logs import LogsScreen
from logsync_tui.sources.embedded import EmbeddedRedis
from logsync_tui.sources.redis import RedisSource
from logsync_tui.sources.seed import push
from logsync_tui.storage import Store
from logsync_tui.sync import SyncScope, run_sync
from logsync_tui.timeparse import now_ms

SEARCHES = ("payment", "timeout", "user", "worker 5")


def build_store(db: Path, entries: int, traces: int) -> dict[str, float]:
    """Seed a throw-away Redis with generated traces and sync it into `db`."""
    with EmbeddedRedis() as server:
        start = time.perf_counter()
        shape = DemoShape(entries=entries, traces=traces, now_ms=now_ms())
        generated = generate(shape)
        source = RedisSource(server.url)
        push(
            source.client(),
            {t: [compact(e) for e in es] for t, es in generated.items()},
            force=True,
        )
        del generated
        seeded = time.perf_counter() - start
        start = time.perf_counter()
        with Store.open(db) as store:
            result = run_sync(store, source, SyncScope())
        source.close()
    return {
        "seed_s": seeded,
        "sync_s": time.perf_counter() - start,
        "inserted": result.inserted,
    }


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return (
        int(fields["VmRSS"].split()[0]) / 1024,
        int(fields["VmHWM"].split()[0]) / 1024,
    )


async def wait_for(check: Callable[[], bool], timeout: float = 120.0) -> float:
    """Seconds until `check()` is true (polled every millisecond)."""
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0.001)
    return time.perf_counter() - start


async def painted(app: App[object]) -> None:
    """Return once the screen has been refreshed after what was just handled."""
    done = asyncio.Event()
    app.screen.call_after_refresh(done.set)
    await done.wait()


def logs_screen(app: App[object]) -> LogsScreen:
    """The Logs screen, which the app must be showing."""
    screen = app.screen
    assert isinstance(screen, LogsScreen)
    return screen


def loaded_after(app: App[object], generation: int) -> Callable[[], bool]:
    """A check: the Logs screen shows a filter newer than `generation`."""

    def check() -> bool:
        screen = app.screen
        return (
            isinstance(screen, LogsScreen)
            and screen.generation > generation
            and screen.loaded_generation == screen.generation
        )

    return check


async def key_to_page(app: App[object], key: str, character: str | None) -> float:
    """Seconds from a key event to the table painted with the filter it made."""
    generation = logs_screen(app).generation
    start = time.perf_counter()
    app.post_message(events.Key(key, character))
    await wait_for(loaded_after(app, generation))
    await painted(app)
    return time.perf_counter() - start


async def measure(db: Path) -> dict[str, object]:
    """Drive the app on `db` and time the Logs screen."""
    started = time.perf_counter()
    app = LogsyncApp(Settings(db=db), start="sync")
    async with app.run_test(size=(160, 45)) as pilot:
        ready = time.perf_counter() - started
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)
        opened = time.perf_counter()
        app.post_message(events.Key("3", "3"))
        await wait_for(loaded_after(app, 0))
        await painted(app)
        first_page = time.perf_counter() - opened
        stored = logs_screen(app).stored
        pages = await search_keystrokes(app, pilot)
        await pilot.press("r")
        await wait_for(lambda: logs_screen(app).loaded_generation > 0)
        jump = await jump_to_end(app, pilot)
        current, peak = rss_mb()
    return {
        "stored": stored,
        "app_ready_s": ready,
        "first_page_s": first_page,
        "keystrokes": len(pages),
        "search_page_median_s": statistics.median(pages),
        "search_page_p90_s": statistics.quantiles(pages, n=10)[-1],
        "jump_to_end_s": jump,
        "rss_mb": current,
        "peak_rss_mb": peak,
    }


async def search_keystrokes(app: App[object], pilot: Pilot[object]) -> list[float]:
    """Type each search term a key at a time; time each key to its page."""
    pages: list[float] = []
    await pilot.press("slash")
    for term in SEARCHES:
        for character in term:
            key = "space" if character == " " else character
            pages.append(await key_to_page(app, key, character))
        generation = logs_screen(app).generation
        logs_screen(app).query_one("#search", Input).value = ""
        await wait_for(loaded_after(app, generation))
    await pilot.press("escape")
    return pages


async def jump_to_end(app: App[object], pilot: Pilot[object]) -> float:
    """Seconds from G until the last row of the timeline is painted."""
    table = logs_screen(app).table
    start = time.perf_counter()
    await pilot.press("G")
    await wait_for(lambda: table.row_at(table.total - 1) is not None)
    await painted(app)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--traces", type=int, default=20_000)
    parser.add_argument("--db", type=Path, help="reuse (or keep) this store file")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.duckdb"
        if not db.exists():
            built = build_store(db, args.entries, args.traces)
            print(
                f"store: {built['inserted']:,} entries synced "
                f"(seed {built['seed_s']:.1f}s, sync {built['sync_s']:.1f}s)"
            )
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(db)],
            check=True,
            capture_output=True,
            text=True,
        )
        report(json.loads(out.stdout.strip().splitlines()[-1]))


def report(figures: dict[str, float]) -> None:
    """Print the figures, one per line."""

    def ms(name: str) -> str:
        return f"{figures[name] * 1000:.0f} ms"

    lines = [
        ("stored entries", f"{figures['stored']:,}"),
        ("app start (Sync screen up)", ms("app_ready_s")),
        ("key 3 -> Logs first page", ms("first_page_s")),
        ("search keystrokes measured", f"{figures['keystrokes']}"),
        ("search key -> page + count", ms("search_page_median_s") + " median"),
        ("", ms("search_page_p90_s") + " p90"),
        ("G (jump to end) -> last row", ms("jump_to_end_s")),
        ("app RSS", f"{figures['rss_mb']:.0f} MB (peak {figures['peak_rss_mb']:.0f})"),
    ]
    for label, value in lines:
        print(f"{label:<30}{value}")


if __name__ == "__main__":
    main()
