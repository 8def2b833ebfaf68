"""Benchmark: exports from a store built through the real sync path.

Seeds N entries in M traces plus one trace of 10,000 entries into a
throw-away redis-server on 127.0.0.1, syncs them into a temporary DuckDB
file, then runs each export in its own child process (so peak RSS is the
export's own) writing to a file. Prints figures; asserts nothing.

    python bench/bench_export.py [--entries 1000000] [--traces 20000]
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
from logsync_tui.storage import Store
from logsync_tui.sync import SyncScope, run_sync
from logsync_tui.timeparse import now_ms

BIG_TRACE_ENTRIES = 10_000

# VmHWM is the child's own peak (ru_maxrss would carry the parent's).
EXPORT = """
import json, sys, time
from pathlib import Path
from logsync_tui.export import ExportSpec, write_export
from logsync_tui.storage import Store
from logsync_tui.storage.queries import LogFilter

def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0

db, out, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
flt = LogFilter(**options.pop("filter", {}))
spec = ExportSpec(filter=flt, **options)
base = peak_rss_mb()
with Store.open(db, read_only=True) as store:
    start = time.perf_counter()
    with open(out, "wb") as handle:
        report = write_export(store.cursor(), spec, handle)
    seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "entries": report.entries,
                  "bytes": report.bytes, "tokens": report.tokens_estimate,
                  "left_out": report.left_out_entries,
                  "base_mb": base, "rss_mb": peak_rss_mb()}))
"""


def child(db: Path, out: Path, options: dict[str, object]) -> dict[str, float]:
    """Run one export in its own interpreter and return its figures."""
    done = subprocess.run(
        [sys.executable, "-c", EXPORT, str(db), str(out), json.dumps(options)],
        capture_output=True,
        text=True,
        check=True,
    )
    out.unlink(missing_ok=True)
    return dict(json.loads(done.stdout))


def build_store(url: str, db: Path, entries: int, traces: int) -> str:
    """Seed Redis, sync it into `db`; returns the id of the 10,000-entry trace."""
    now = now_ms()
    generated = generate(DemoShape(entries=entries, traces=traces, now_ms=now))
    big = generate(DemoShape(entries=BIG_TRACE_ENTRIES, traces=1, now_ms=now, seed=9))
    generated.update(big)
    source = RedisSource(url)
    push(
        source.client(),
        {t: [compact(e) for e in es] for t, es in generated.items()},
        force=True,
    )
    with Store.open(db) as store:
        run_sync(store, source, SyncScope())
    source.close()
    return next(iter(big))


CASES: list[tuple[str, dict[str, object], str]] = [
    ("text, 10k trace", {"format": "text"}, "target <= 1 s"),
    ("text, 10k, 8k tok", {"format": "text", "max_tokens": 8000}, ""),
    ("csv, all", {"format": "csv"}, "target <= 10 s"),
    ("jsonl, all", {"format": "json", "jsonl": True}, "target <= 10 s"),
    ("json, all", {"format": "json"}, ""),
    ("csv, browser only", {"format": "csv", "filter": {"systems": ["browser"]}}, ""),
]


def main() -> None:
    """Seed, sync, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--traces", type=int, default=20_000)
    args = parser.parse_args()
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as tmp:
        db, out = Path(tmp) / "bench.duckdb", Path(tmp) / "export.out"
        total = args.entries + BIG_TRACE_ENTRIES
        print(f"seeding and syncing {total:,} entries ...", flush=True)
        start = time.perf_counter()
        big = build_store(server.url, db, args.entries, args.traces)
        print(f"store built in {time.perf_counter() - start:.1f} s", flush=True)
        for name, options, target in CASES:
            if name.startswith("text"):
                options = {**options, "traces": [big]}
            options = {k: tuple(v) if k == "traces" else v for k, v in options.items()}
            print_figures(name, child(db, out, dict(options)), target)


def print_figures(name: str, f: dict[str, float], target: str) -> None:
    """One line per export."""
    rate = f["entries"] / f["seconds"] if f["seconds"] else 0.0
    print(
        f"{name:<20} {f['seconds']:7.2f} s  {f['entries']:>10,.0f} entries "
        f"({rate:,.0f}/s)  {f['bytes'] / 1e6:8.1f} MB  ~{f['tokens']:,.0f} tokens  "
        f"peak RSS {f['rss_mb']:.0f} MB (at start {f['base_mb']:.0f} MB)  {target}",
        flush=True,
    )


if __name__ == "__main__":
    main()
