"""Benchmark: a full and a repeated sync against a bare pipelined LRANGE read.

Seeds N entries in M traces into a throw-away redis-server on 127.0.0.1,
then runs each measured step in its own child process, so that peak RSS
is the step's own. Prints figures; asserts nothing.

    python bench/bench_sync.py [--entries 1000000] [--traces 20000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from logsync_tui.demo_data import DemoShape, compact, generate
from logsync_tui.sources.embedded import EmbeddedRedis
from logsync_tui.sources.redis import RedisSource
from logsync_tui.sources.seed import push
from logsync_tui.timeparse import now_ms

BARE_READ = """
import json, sys, time, redis
{PEAK}
r = redis.Redis.from_url(sys.argv[1])
start = time.perf_counter()
keys, cursor = [], 0
while True:
    cursor, found = r.scan(cursor, match="logs:*", count=1000)
    keys.extend(found)
    if cursor == 0:
        break
entries = 0
for i in range(0, len(keys), 500):
    pipe = r.pipeline(transaction=False)
    for key in keys[i:i + 500]:
        pipe.lrange(key, 0, -1)
    entries += sum(len(x) for x in pipe.execute())
seconds = time.perf_counter() - start
rss = peak_rss_mb()
print(json.dumps({"seconds": seconds, "entries": entries, "rss_mb": rss,
                  "cpu": time.process_time()}))
"""

SYNC = """
import json, sys, time
{PEAK}from logsync_tui.sources.redis import RedisSource
from logsync_tui.storage import Store
from logsync_tui.sync import SyncScope, run_sync
start = time.perf_counter()
with Store.open(sys.argv[2]) as store:
    result = run_sync(store, RedisSource(sys.argv[1]), SyncScope())
seconds = time.perf_counter() - start
rss = peak_rss_mb()
print(json.dumps({"seconds": seconds, "inserted": result.inserted,
                  "scanned": result.scanned, "rss_mb": rss,
                  "cpu": time.process_time()}))
"""

STATS = """
import json, sys, time
{PEAK}from logsync_tui.sources.redis import RedisSource
from logsync_tui.stats import buffer_stats
start = time.perf_counter()
stats = buffer_stats(RedisSource(sys.argv[1]))
seconds = time.perf_counter() - start
rss = peak_rss_mb()
print(json.dumps({"seconds": seconds, "entries": stats.entries, "rss_mb": rss}))
"""


# ru_maxrss survives fork and exec, so a child would report its parent's peak:
# VmHWM belongs to the child's own address space.
PEAK = """
def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
"""


def child(code: str, *args: str) -> dict[str, float]:
    """Run a measured step in its own interpreter and return its figures."""
    out = subprocess.run(
        [sys.executable, "-c", code.replace("{PEAK}", PEAK), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout))


def seed(url: str, entries: int, traces: int) -> float:
    """Fill the server with generated traces; returns seconds taken."""
    start = time.perf_counter()
    shape = DemoShape(entries=entries, traces=traces, now_ms=now_ms())
    generated = generate(shape)
    source = RedisSource(url)
    push(
        source.client(),
        {t: [compact(e) for e in es] for t, es in generated.items()},
        force=True,
    )
    source.close()
    return time.perf_counter() - start


def main() -> None:
    """Seed, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--traces", type=int, default=20_000)
    args = parser.parse_args()
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.duckdb")
        print(f"seeding {args.entries:,} entries in {args.traces:,} traces ...")
        print(f"seed            {seed(server.url, args.entries, args.traces):8.2f} s")
        bare = child(BARE_READ, server.url)
        first = child(SYNC, server.url, db)
        second = child(SYNC, server.url, db)
        stats = child(STATS, server.url)
        size_mb = Path(db).stat().st_size / 1e6
    report(bare, first, second, stats, size_mb)


def report(
    bare: dict[str, float],
    first: dict[str, float],
    second: dict[str, float],
    stats: dict[str, float],
    size_mb: float,
) -> None:
    """Print the figures and the ratios the targets are stated in."""
    print(
        f"bare LRANGE     {bare['seconds']:8.2f} s  {bare['entries']:,.0f} entries"
        f"  (process CPU {bare['cpu']:.2f} s)"
    )
    print(
        f"full sync       {first['seconds']:8.2f} s  {first['inserted']:,.0f} inserted"
        f"  ratio to bare {first['seconds'] / bare['seconds']:.2f}  (target <= 2.5)"
        f"  (process CPU {first['cpu']:.2f} s)"
    )
    print(
        f"repeated sync   {second['seconds']:8.2f} s  {second['scanned']:,.0f} read"
        f"  ratio to first {second['seconds'] / first['seconds']:.2f}  (target <= 0.2)"
    )
    print(f"stats           {stats['seconds']:8.2f} s  (target <= 5)")
    print(
        f"peak RSS        sync {first['rss_mb']:.0f} MB (target <= 400), "
        f"bare read {bare['rss_mb']:.0f} MB, stats {stats['rss_mb']:.0f} MB"
    )
    print(f"store file      {size_mb:8.1f} MB")


if __name__ == "__main__":
    main()
