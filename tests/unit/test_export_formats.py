"""Export formats from data synced through the real Redis + sync path.

Golden files pin each format; the round-trip tests check JSON against the
store and CSV against the source rows, including cases 05 and 09.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from logsync_tui.export import (
    ExportSpec,
    estimate_tokens,
    render_export,
    write_export,
)
from logsync_tui.export.common import Sink, json_line, write_lines
from logsync_tui.export.csv_out import csv_line
from logsync_tui.redact import TRIGGER_PATTERN, Redactor
from logsync_tui.sources.embedded import EmbeddedRedis
from logsync_tui.sources.redis import RedisSource
from logsync_tui.storage import Store
from logsync_tui.storage.export_queries import csv_line_sql, json_line_sql, line_batches
from logsync_tui.storage.queries import LogFilter, LogRow, iter_rows
from logsync_tui.sync import SyncOptions, SyncScope, run_sync
from tests.conftest import DATA, push_like_worker, read_jsonl

GOLDEN = DATA / "golden"
NOW = 1_796_100_000_000
UPDATE = os.environ.get("LOGSYNC_UPDATE_GOLDEN") == "1"


def synced_store(
    server: EmbeddedRedis, path: Path, entries: list[dict[str, Any]]
) -> Store:
    """A store holding `entries`, pushed as the Worker does and synced."""
    client = redis.Redis.from_url(server.url)
    client.flushdb()
    push_like_worker(client, entries)
    client.close()
    store = Store.open(path)
    source = RedisSource(server.url)
    try:
        run_sync(store, source, SyncScope(), SyncOptions())
    finally:
        source.close()
    # synced_at is the wall clock: pin it so golden files stay stable.
    store.cursor().execute(
        "UPDATE debug_logs SET synced_at = TIMESTAMP '2026-01-01 00:00:00'"
    )
    return store


@pytest.fixture(scope="module")
def golden_store(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("golden") / "store.duckdb"
    store = synced_store(redis_server, path, read_jsonl("golden/export_input.jsonl"))
    yield store
    store.close()


def rows(store: Store, flt: LogFilter | None = None) -> list[LogRow]:
    return list(iter_rows(store.cursor(), flt or LogFilter()))


GOLDEN_SPECS = {
    "golden.json": ExportSpec("json"),
    "golden.jsonl": ExportSpec("json", jsonl=True),
    "golden.md": ExportSpec("text"),
    "golden-budget.md": ExportSpec("text", max_tokens=1200),
    "golden.csv": ExportSpec("csv"),
    "golden-raw.csv": ExportSpec("csv", raw_csv=True, redact=False),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_SPECS))
def test_golden(golden_store: Store, name: str) -> None:
    out = io.BytesIO()
    report = write_export(golden_store.cursor(), GOLDEN_SPECS[name], out, now_ms=NOW)
    got = out.getvalue()
    if UPDATE:
        (GOLDEN / name).write_bytes(got)
    assert got == (GOLDEN / name).read_bytes()
    assert report.bytes == len(got)
    assert report.tokens_estimate == estimate_tokens(got.decode("utf-8"))


def test_json_equals_the_store(golden_store: Store) -> None:
    text, report = render_export(
        golden_store.cursor(), ExportSpec("json", redact=False)
    )
    doc = json.loads(text)
    stored = {r.id: r for r in rows(golden_store)}
    exported = [e for t in doc["traces"] for e in t["entries"]]
    assert len(exported) == len(stored) == report.entries == 13
    for entry in exported:
        row = stored[entry["id"]]
        assert entry["message"] == row.message
        assert entry.get("stack") == row.stack
        assert entry.get("user_id") == row.user_id
        assert entry.get("context") == (
            json.loads(row.context) if row.context else None
        )
        assert (entry["trace_id"], entry["system"], entry["level"]) == (
            row.trace_id, row.system, row.level)  # fmt: skip
        assert entry["timestamp"] == row.timestamp
        assert entry["sync_run_id"] == row.sync_run_id
    assert doc["redaction"] == {"enabled": False, "redacted": 0, "by_kind": {}}


def test_json_trace_metadata(golden_store: Store) -> None:
    doc = json.loads(render_export(golden_store.cursor(), ExportSpec("json"))[0])
    head = doc["export"]
    assert head["counts"]["entries"] == 13 and head["counts"]["traces"] == 2
    assert head["counts"]["by_level"] == {"log": 5, "info": 4, "warn": 2, "error": 2}
    assert head["time_span"]["duration_ms"] == 5400
    assert head["command"] == "logsync export --format json"
    checkout, search = doc["traces"]
    assert checkout["id"] == "t-checkout" and search["id"] == "t-search"
    assert checkout["systems"] == ["browser", "worker", "convex"]
    assert checkout["users"] == ["u-anna", "u-bob"]
    assert checkout["duration_ms"] == 2600
    assert checkout["counts_by_level"] == {"log": 3, "info": 2, "warn": 1, "error": 2}
    assert checkout["first_error"]["id"].endswith("_g00000007")
    assert search["systems"] == ["manual", "browser", "worker"]
    assert search["first_error"] is None
    times = [e["timestamp"] for e in checkout["entries"]]
    assert times == sorted(times)
    missing = next(e for e in search["entries"] if e["id"].endswith("_g00000009"))
    assert "user_id" not in missing and "context" not in missing
    assert "stack" not in missing


def test_jsonl_one_entry_per_line(golden_store: Store) -> None:
    spec = ExportSpec("json", jsonl=True, redact=False)
    text, _ = render_export(golden_store.cursor(), spec)
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == 15
    head, *entries = (json.loads(line) for line in lines[:-1])
    assert head["export"]["format"] == "jsonl"
    assert [e["id"] for e in entries] == [r.id for r in rows(golden_store)]
    assert [e["message"] for e in entries] == [r.message for r in rows(golden_store)]


def csv_records(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def source_cells(row: LogRow) -> list[str]:
    return [
        row.id, row.trace_id, row.user_id or "", row.system, row.level,
        str(row.timestamp), row.message, row.context or "", row.stack or "",
    ]  # fmt: skip


def without_time(record: list[str]) -> list[str]:
    return record[:6] + record[7:]


def test_csv_reads_back_as_the_source_rows(golden_store: Store) -> None:
    spec = ExportSpec("csv", raw_csv=True, redact=False)
    text, _ = render_export(golden_store.cursor(), spec)
    header, *records = csv_records(text.encode())
    assert header[:7] == ["id", "trace_id", "user_id", "system", "level",
                          "timestamp", "time"]  # fmt: skip
    assert [without_time(r) for r in records] == [
        source_cells(r) for r in rows(golden_store)
    ]


def test_csv_neutralises_formula_cells_only(golden_store: Store) -> None:
    con = golden_store.cursor()
    raw = csv_records(render_export(con, ExportSpec("csv", raw_csv=True))[0].encode())
    safe = csv_records(render_export(con, ExportSpec("csv"))[0].encode())
    changed = 0
    for raw_row, safe_row in zip(raw, safe, strict=True):
        for a, b in zip(raw_row, safe_row, strict=True):
            if a[:1] in ("=", "+", "-", "@", "\t", "\r"):
                assert b == "'" + a
                changed += 1
            else:
                assert b == a
    assert changed == 2


def test_excel_adds_only_a_bom(golden_store: Store) -> None:
    con = golden_store.cursor()
    plain, excel = io.BytesIO(), io.BytesIO()
    write_export(con, ExportSpec("csv"), plain)
    report = write_export(con, ExportSpec("csv", excel=True), excel)
    assert excel.getvalue() == b"\xef\xbb\xbf" + plain.getvalue()
    assert report.bytes == len(excel.getvalue())


def test_text_timeline(golden_store: Store) -> None:
    text, report = render_export(golden_store.cursor(), ExportSpec("text"))
    assert "\x1b" not in text and "\x00" not in text and "\r" not in text
    assert "\\x1b[31mUnhandled\\x1b[0m rejection\\x07 with \\x00 nul" in text
    assert "- +0.120s browser LOG: retrying fetch" not in text
    assert "- +0.120s browser LOG (3 identical, to +0.560s): retrying fetch" in text
    assert "- +1.204s worker INFO: POST /api/pay" in text
    assert "- +2.600s browser ERROR user=u-bob:" in text
    assert "  ````text" in text  # the stack holds ``` so its fence is longer
    assert "[bold red]Checkout[/]" in text
    assert "END-OF-LONG-MESSAGE" in text
    assert "Command: `logsync export --format text`" in text
    assert "systems browser -> worker -> convex" in text
    assert report.entries == 13 and report.traces == 2


def test_case_05_json_round_trips_every_string(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    source = read_jsonl("05-multiline-stack.jsonl")
    with synced_store(redis_server, tmp_path / "s.duckdb", source) as store:
        text, _ = render_export(store.cursor(), ExportSpec("json"))
    exported = {e["id"]: e for e in json.loads(text)["traces"][0]["entries"]}
    for entry in source:
        got = exported[str(entry["id"])]
        for key in ("message", "stack", "context", "user_id", "timestamp"):
            assert got[key] == entry[key]


def test_case_09_csv_newlines_quotes(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    source = read_jsonl("09-csv-newlines-quotes.jsonl")
    with synced_store(redis_server, tmp_path / "s.duckdb", source) as store:
        text, _ = render_export(store.cursor(), ExportSpec("csv"))
    header, *records = csv_records(text.encode("utf-8"))
    assert len(records) == 3 and header[0] == "id"
    for record, entry in zip(records, source, strict=True):
        got = dict(zip(header, record, strict=True))
        assert got["message"] == entry["message"]
        assert got["stack"] == entry["stack"]
        assert json.loads(got["context"]) == entry["context"]
        assert got["id"] == entry["id"] and got["user_id"] == entry["user_id"]
        assert int(got["timestamp"]) == entry["timestamp"]


def test_header_command_reproduces_the_slice(
    golden_store: Store, tmp_path: Path
) -> None:
    flt = LogFilter(levels=("warn", "error"), since_ms=1_796_000_001_000,
                    search="e")  # fmt: skip
    spec = ExportSpec("csv", filter=flt)
    expected, _ = render_export(golden_store.cursor(), spec)
    path = Path(golden_store.path)
    copy = tmp_path / "copy.duckdb"
    golden_store.cursor().execute("CHECKPOINT")
    copy.write_bytes(path.read_bytes())
    argv = shlex.split(spec.command())[1:]
    done = subprocess.run(
        [sys.executable, "-m", "logsync_tui", *argv, "--db", str(copy)],
        capture_output=True, timeout=120,
        env={**os.environ, "LOGSYNC_LOG_FILE": str(tmp_path / "log")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode("utf-8") == expected
    assert expected.count("\r\n") >= 3


@pytest.mark.parametrize("fmt", ["json", "csv", "csv-raw"])
def test_duckdb_and_python_lines_agree(golden_store: Store, fmt: str) -> None:
    """Rows without secrets get lines from DuckDB, the others from Python:
    both must write the same bytes for the same row."""
    guard = fmt == "csv"
    line_sql = json_line_sql() if fmt == "json" else csv_line_sql(guard)
    off = Redactor(enabled=False)
    con = golden_store.cursor()
    tables = list(line_batches(con, LogFilter(), line_sql, trigger=None, chunk=5))
    assert len(tables) == 3
    lines = [line for t in tables for line in t.column("line").to_pylist()]
    stored = rows(golden_store)
    assert len(lines) == len(stored) == 13
    for line, row in zip(lines, stored, strict=True):
        made = json_line(row, off) if fmt == "json" else csv_line(row, off, guard)
        assert line == made


@pytest.mark.parametrize("chunk", [1, 4, 100])
def test_windows_and_redacted_rows_interleave(golden_store: Store, chunk: int) -> None:
    """Lines DuckDB finished and lines Python redacted come out in time order
    whatever the window size: the body equals the golden CSV's."""
    red = Redactor()
    sink_out = io.BytesIO()
    sink = Sink(sink_out)
    tables = line_batches(golden_store.cursor(), LogFilter(), csv_line_sql(True),
                          trigger=TRIGGER_PATTERN, chunk=chunk)  # fmt: skip
    assert write_lines(sink, tables, lambda row: csv_line(row, red, True)) == 13
    sink.flush()
    golden = (GOLDEN / "golden.csv").read_bytes()
    assert sink_out.getvalue() == golden[golden.index(b"\r\n") + 2 :]
    assert red.total == 4
