"""Benchmark: is the app responsive while the Sync screen syncs 1,000,000 entries?

Seeds N entries in M traces into a throw-away redis-server on 127.0.0.1,
opens the app headless on the Sync screen with a throw-away store, presses
`a` (sync all) and, while the sync runs, presses a key every 50 ms from
a thread that posts key events the way a terminal driver does. Each press
is timed from the moment the key is sent until the screen's binding ran.
Prints median, p95 and max; asserts nothing.

    python bench/bench_sync_ui.py [--entries 1000000] [--traces 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import statistics
import tempfile
import time
from pathlib import Path
from threading import Event
from typing import Any, ClassVar

from textual import events
from textual.binding import Binding, BindingType

from logsync_tui.app import LogsyncApp
from logsync_tui.config import Settings
from logsync_tui.demo_data import DemoShape, compact, generate
from logsync_tui.screens.sync import SyncScreen
from logsync_tui.sources.embedded import EmbeddedRedis
from logsync_tui.sources.redis import RedisSource
from logsync_tui.sources.seed import push
from logsync_tui.storage import Store
from logsync_tui.timeparse import now_ms

PROBE_EVERY = 0.05
PROBE_KEY = "f5"


class TimedSyncScreen(SyncScreen):
    """The Sync screen plus a probe binding that notes when it was handled."""

    CSS_PATH = str(Path(inspect.getfile(SyncScreen)).with_name("sync.tcss"))
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(PROBE_KEY, "probe", "Probe", id="bench.probe", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.handled: list[float] = []
        self.probed = Event()

    def action_probe(self) -> None:
        """Record the moment the probe key reached its binding."""
        self.handled.append(time.perf_counter())
        self.probed.set()


class BenchApp(LogsyncApp):
    """The real app with the timed Sync screen as its Sync mode."""

    MODES = {**LogsyncApp.MODES, "sync": TimedSyncScreen}  # noqa: RUF012


def seed(url: str, entries: int, traces: int) -> float:
    """Fill the server with generated traces; returns seconds taken."""
    start = time.perf_counter()
    generated = generate(DemoShape(entries=entries, traces=traces, now_ms=now_ms()))
    source = RedisSource(url)
    push(
        source.client(),
        {t: [compact(e) for e in es] for t, es in generated.items()},
        force=True,
    )
    source.close()
    return time.perf_counter() - start


def probe_keys(app: BenchApp, screen: TimedSyncScreen, stop: Event) -> list[float]:
    """Send the probe key from this thread, as a terminal driver does, every
    50 ms until `stop`; return each press-to-handled latency in ms."""
    latencies: list[float] = []
    while not stop.is_set():
        screen.probed.clear()
        key = events.Key(PROBE_KEY, None)
        key.set_sender(app)
        sent = time.perf_counter()
        app.post_message(key)
        if not screen.probed.wait(10):
            break
        latencies.append((screen.handled[-1] - sent) * 1000)
        time.sleep(PROBE_EVERY)
    return latencies


async def probe(app: BenchApp, pilot: Any) -> tuple[list[float], float]:
    """Start a sync, probe the keyboard until it ends: latencies (ms), seconds."""
    screen = app.screen
    assert isinstance(screen, TimedSyncScreen)
    stop = Event()
    started = time.perf_counter()
    await pilot.press("a")
    prober = asyncio.create_task(asyncio.to_thread(probe_keys, app, screen, stop))
    while screen.running:
        await asyncio.sleep(0.01)
    seconds = time.perf_counter() - started
    stop.set()
    return await prober, seconds


async def measure(url: str, db: Path) -> None:
    """Run the app on the seeded server and print the figures."""
    settings = Settings(redis_url=url, db=db)
    with Store.open(db) as store:
        app = BenchApp(settings, store=store, start="sync")
        async with app.run_test(size=(140, 44)) as pilot:
            await app.workers.wait_for_complete()
            latencies, seconds = await probe(app, pilot)
            await pilot.pause()
            runs = app.screen.query_one("#runs")
            print(f"sync in the app  {seconds:8.2f} s  ({runs.get_row_at(0)[5]} new)")
    report(latencies)


def report(latencies: list[float]) -> None:
    """Median, p95 and max of the key-press-to-handled latencies."""
    if len(latencies) < 2:
        print(f"only {len(latencies)} probes: the sync ended too soon to measure")
        return
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"key presses      {len(ordered)} during the sync, one every 50 ms")
    print(
        f"press→handled    median {statistics.median(ordered):.1f} ms · "
        f"p95 {p95:.1f} ms · max {ordered[-1]:.1f} ms  (target <= 100 ms)"
    )


def main() -> None:
    """Seed, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--traces", type=int, default=20_000)
    args = parser.parse_args()
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as tmp:
        print(f"seeding {args.entries:,} entries in {args.traces:,} traces ...")
        print(f"seed             {seed(server.url, args.entries, args.traces):8.2f} s")
        asyncio.run(measure(server.url, Path(tmp) / "bench.duckdb"))


if __name__ == "__main__":
    main()
