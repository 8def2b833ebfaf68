"""What a large deletion does to the store file's size, and what gives it back.

For each share of entries deleted, prints the file size after the DELETE,
after CHECKPOINT, after closing and reopening, and after `Store.compact`
(a COPY FROM DATABASE into a fresh file swapped in atomically), with the
time each took. Run: .venv/bin/python bench/bench_compact.py [--entries N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from logsync_tui.demo_data import DemoShape, compact, generate
from logsync_tui.storage import Store
from logsync_tui.storage.db import file_size
from logsync_tui.storage.ingest import (
    BATCH_SCHEMA,
    WATERMARK_SCHEMA,
    Scope,
    ingest_batch,
)
from logsync_tui.storage.retention import CleanRequest, clean
from logsync_tui.storage.runs import start_run

NOW_MS = 1_796_000_000_000


def fill(store: Store, entries: int) -> list[int]:
    """Generated entries in one run; their timestamps, sorted."""
    traces = generate(DemoShape(entries=entries, traces=entries // 50, now_ms=NOW_MS))
    rows = [(f"logs:{t}", compact(e)) for t, es in traces.items() for e in es]
    batch = pa.table(
        {
            "source_key": [k for k, _ in rows],
            "source_index": list(range(len(rows))),
            "raw": [r for _, r in rows],
            "raw_bytes": [None] * len(rows),
        },
        schema=BATCH_SCHEMA,
    )
    con = store.cursor()
    run = start_run(con, "sync", {}, "bench")
    ingest_batch(con, run, batch, WATERMARK_SCHEMA.empty_table(), Scope())
    con.execute("CHECKPOINT")
    return sorted(e["timestamp"] for es in traces.values() for e in es)


def measure(path: Path, entries: int, share: float) -> dict[str, float]:
    out: dict[str, float] = {}
    store = Store.open(path)
    stamps = fill(store, entries)
    out["full"] = file_size(path)
    cut = stamps[min(int(len(stamps) * share), len(stamps) - 1)]
    request = (
        CleanRequest("all") if share >= 1 else CleanRequest("older", before_ms=cut)
    )
    started = time.perf_counter()
    clean(store.cursor(), request)
    out["delete_s"] = time.perf_counter() - started
    out["deleted"] = file_size(path)
    started = time.perf_counter()
    store.cursor().execute("CHECKPOINT")
    out["checkpoint_s"] = time.perf_counter() - started
    out["checkpointed"] = file_size(path)
    store.close()
    store = Store.open(path)
    out["reopened"] = file_size(path)
    started = time.perf_counter()
    store.compact()
    out["compact_s"] = time.perf_counter() - started
    out["compacted"] = file_size(path)
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=200_000)
    args = parser.parse_args()
    mb = 1024 * 1024
    print(
        f"{args.entries:,} entries; sizes in MB\n"
        "deleted   full  after-DELETE  after-CHECKPOINT  reopened  compacted"
        "  (CHECKPOINT s, compact s)"
    )
    for share in (0.3, 0.9, 1.0):
        with tempfile.TemporaryDirectory() as tmp:
            r = measure(Path(tmp) / "bench.duckdb", args.entries, share)
        print(
            f"{share:>6.0%}  {r['full'] / mb:6.1f}  {r['deleted'] / mb:12.1f}  "
            f"{r['checkpointed'] / mb:16.1f}  {r['reopened'] / mb:8.1f}  "
            f"{r['compacted'] / mb:9.1f}  ({r['checkpoint_s']:.2f}, "
            f"{r['compact_s']:.2f})"
        )


if __name__ == "__main__":
    main()
