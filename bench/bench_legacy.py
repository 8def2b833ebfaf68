"""Benchmark of `import-legacy`: rows per second and peak memory by export size.

Each size runs in its own process (peak RSS is per process), on a generated
Convex snapshot ZIP in a temp dir: both log tables (a quarter of the logs in
both), the two deprecated tables and one malformed line per 10,000 rows.
The import holds one batch at a time and the store caps DuckDB's memory
(`storage.db.MEMORY_LIMIT`), so flat memory shows as a peak RSS that does not
grow with the export.

    .venv/bin/python bench/bench_legacy.py [ROWS ...]    default 100000 500000
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

SYSTEMS = ("browser", "worker", "backend")
LEVELS = ("log", "info", "warn", "error")


def _doc(i: int) -> dict[str, object]:
    doc: dict[str, object] = {
        "_id": f"k{i:09d}",
        "_creationTime": 1_700_000_000_000 + i * 7.25,
        "level": LEVELS[(i * 7919) % 4],
        "message": f"request {i} handled in {i * 31 % 900} ms " + "x" * 80,
        "trace_id": f"trace-{i // 40}",
        "system_area": SYSTEMS[(i // 3) % 3],
        "timestamp": 1_700_000_000_000 + i * 7,
        "raw_args": [f"request {i}", json.dumps({"n": i})],
    }
    if i % 3:
        doc["user_id"] = f"user-{i % 97}"
    if doc["level"] == "error":
        doc["stack_trace"] = "Error: failed\n    at handler (convex/x.ts:1)\n" * 3
    return doc


def make_export(path: Path, rows: int) -> None:
    """Write a snapshot ZIP of `rows` log documents (plus copies and junk)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("log_queue/documents.jsonl", "w") as queue:
            for i in range(0, rows, 2):
                queue.write((json.dumps(_doc(i)) + "\n").encode())
        with archive.open("recent_log_entries/documents.jsonl", "w") as recent:
            for i in range(rows):
                doc = _doc(i) | {"_id": f"r{i:09d}"}
                if i % 2 or i % 4 == 0:
                    recent.write((json.dumps(doc) + "\n").encode())
                if i % 10_000 == 0:
                    recent.write(b'{"_id": "broken", "message": \n')
        archive.writestr("rate_limit_state/documents.jsonl", '{"_id": "r"}\n')
        archive.writestr("message_fingerprints/documents.jsonl", '{"_id": "f"}\n')


def run_one(rows: int) -> None:
    """Generate, import and print one line of figures (child process)."""
    from logsync_tui.legacy import import_export
    from logsync_tui.storage import Store

    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "snapshot.zip"
        make_export(export, rows)
        size = export.stat().st_size
        with zipfile.ZipFile(export) as archive:
            unzipped = sum(i.file_size for i in archive.infolist())
        with Store.open(Path(tmp) / "store.duckdb") as store:
            started = time.perf_counter()
            result = import_export(store, export)
            seconds = time.perf_counter() - started
        t = result.totals
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{t.rows:>9,} legacy rows ({unzipped / 1e6:,.0f} MB, "
            f"{size / 1e6:,.1f} MB zipped): "
            f"{t.rows / seconds:>9,.0f} rows/s, {seconds:6.1f} s, "
            f"inserted {t.inserted:,}, already present {t.duplicates:,}, "
            f"quarantined {t.malformed:,}; peak RSS {peak_mb:,.0f} MB"
        )


def main() -> None:
    """Run each size in a fresh interpreter."""
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        run_one(int(sys.argv[2]))
        return
    sizes = [int(a) for a in sys.argv[1:]] or [100_000, 500_000]
    for rows in sizes:
        subprocess.run([sys.executable, __file__, "--one", str(rows)], check=True)


if __name__ == "__main__":
    main()
