"""Opening stores of other schema versions: older ones upgrade, newer refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from logsync_tui.errors import StoreError
from logsync_tui.storage import SCHEMA_VERSION, Store
from logsync_tui.storage.ingest import (
    BATCH_SCHEMA,
    WATERMARK_SCHEMA,
    Scope,
    ingest_batch,
)
from logsync_tui.storage.runs import list_runs, start_run

SEED_SCHEMA = """
CREATE TABLE debug_logs (
    id VARCHAR PRIMARY KEY, trace_id VARCHAR, user_id VARCHAR, system VARCHAR,
    level VARCHAR, message VARCHAR, timestamp BIGINT, context VARCHAR,
    stack VARCHAR, raw_data VARCHAR, synced_at TIMESTAMP
)
"""
ENTRY = {
    "id": "1700000000000_abcdefghi",
    "trace_id": "t1",
    "system": "browser",
    "level": "error",
    "message": "boom",
    "timestamp": 1_700_000_000_000,
    "stack": "at f",
}


def _v0_store(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute(SEED_SCHEMA)
    con.execute(
        "INSERT INTO debug_logs VALUES (?, 't1', NULL, 'browser', 'error', 'boom', "
        "1700000000000, NULL, 'at f', ?, TIMESTAMP '2024-01-02 03:04:05')",
        [ENTRY["id"], json.dumps(ENTRY)],
    )
    con.execute(
        "INSERT INTO debug_logs VALUES ('old_2', 't1', 'u9', 'convex', 'info', "
        "'ok', 1700000000500, '{\"a\":1}', NULL, NULL, NULL)"
    )
    con.close()


def test_seed_store_upgrades_in_place(db_path: Path) -> None:
    _v0_store(db_path)
    with Store.open(db_path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        con = store.cursor()
        rows = con.execute(
            "SELECT id, user_id, system, message, stack, context, synced_at, "
            "source_key FROM debug_logs ORDER BY timestamp"
        ).fetchall()
        runs = list_runs(con)
    assert [r[0] for r in rows] == [ENTRY["id"], "old_2"]
    assert rows[0][4] == "at f"
    assert str(rows[0][6]) == "2024-01-02 03:04:05"
    assert (rows[1][1], rows[1][5], rows[1][7]) == ("u9", '{"a":1}', "logs:t1")
    assert [(r.kind, r.inserted) for r in runs] == [("migrate", 2)]


def test_upgraded_store_takes_a_sync_of_the_same_entry(db_path: Path) -> None:
    _v0_store(db_path)
    with Store.open(db_path) as store:
        con = store.cursor()
        run = start_run(con, "sync", {}, "test")
        batch = pa.Table.from_pylist(
            [{"source_key": "logs:t1", "source_index": 0, "raw": json.dumps(ENTRY)}],
            schema=BATCH_SCHEMA,
        )
        counts = ingest_batch(con, run, batch, WATERMARK_SCHEMA.empty_table(), Scope())
    assert (counts.inserted, counts.duplicates) == (0, 1)


def test_reopening_an_upgraded_store_changes_nothing(db_path: Path) -> None:
    _v0_store(db_path)
    Store.open(db_path).close()
    with Store.open(db_path) as store:
        runs = list_runs(store.cursor())
        count = store.cursor().execute("SELECT count(*) FROM debug_logs").fetchone()
    assert len(runs) == 1
    assert count == (2,)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("read_only", [False, True])
def test_newer_store_is_refused_untouched(db_path: Path, read_only: bool) -> None:
    Store.open(db_path).close()
    con = duckdb.connect(str(db_path))
    con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [99])
    con.close()
    before = _digest(db_path)
    with pytest.raises(StoreError, match=r"newer logsync \(schema 99") as caught:
        Store.open(db_path, read_only=read_only)
    assert "upgrade logsync" in caught.value.cause
    assert _digest(db_path) == before
    assert not db_path.with_name(db_path.name + ".wal").exists()


def test_failed_upgrade_leaves_the_seed_store_as_it_was(db_path: Path) -> None:
    _v0_store(db_path)
    con = duckdb.connect(str(db_path))
    con.execute("INSERT INTO debug_logs (id, message) VALUES ('no_trace', 'x')")
    con.close()
    before = _digest(db_path)
    with pytest.raises(StoreError, match=r"cannot upgrade .* left as it was"):
        Store.open(db_path)
    con = duckdb.connect(str(db_path), read_only=True)
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    con.close()
    assert tables == {"debug_logs"}
    assert _digest(db_path) == before
