"""The quarantine: listing, retrying through the normal ingest, purging."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from logsync_tui.errors import StoreError
from logsync_tui.sources.redis import RedisSource
from logsync_tui.storage import Store
from logsync_tui.storage.quarantine import (
    count_quarantine,
    list_quarantine,
    purge_quarantine,
    retry_quarantine,
)
from logsync_tui.storage.runs import get_run, start_run, undo_run
from logsync_tui.sync import SyncScope, run_sync
from logsync_tui.timeparse import now_ms
from tests.conftest import push_like_worker

BASE_MS = 1_796_000_000_000


def good(n: int, **over: Any) -> dict[str, Any]:
    entry = {
        "id": f"{BASE_MS + n}_q{n:08d}",
        "trace_id": "t1",
        "system": "worker",
        "level": "warn",
        "message": f"entry {n}",
        "timestamp": BASE_MS + n,
    }
    entry.update(over)
    return entry


def sync(store: Store, url: str) -> Any:
    source = RedisSource(url)
    try:
        return run_sync(store, source, SyncScope())
    finally:
        source.close()


def quarantine_as_older_release(store: Store, raws: list[str]) -> None:
    """Quarantine rows as a stricter, older logsync would have left them."""
    con = store.cursor()
    run_id = start_run(con, "sync", {}, "older release")
    for index, raw in enumerate(raws):
        con.execute(
            "INSERT INTO quarantine VALUES ('logs:t1', md5(?), ?, ?, NULL, "
            "'unreadable timestamp', ?, now()::TIMESTAMP)",
            [raw, index, raw, run_id],
        )


def stored_ids(store: Store) -> set[str]:
    return {
        r[0] for r in store.cursor().execute("SELECT id FROM debug_logs").fetchall()
    }


def test_a_real_sync_quarantines_with_reason_key_and_index(
    store: Store, redis_url: str, rclient: redis.Redis
) -> None:
    push_like_worker(rclient, [good(1)])
    rclient.lpush("logs:t1", "{not json")
    rclient.lpush("logs:t1", json.dumps(good(2, level="fatal")))
    assert sync(store, redis_url).malformed == 2
    listed = {
        (e.source_key, e.source_index, e.reason)
        for e in list_quarantine(store.cursor())
    }
    assert listed == {
        ("logs:t1", 0, "unknown level fatal"),
        ("logs:t1", 1, "not valid JSON"),
    }


def test_retry_moves_entries_that_now_normalise(
    store: Store, redis_url: str, rclient: redis.Redis
) -> None:
    push_like_worker(rclient, [good(1)])
    rclient.lpush("logs:t1", "{not json")
    sync(store, redis_url)
    iso = good(2, timestamp="2026-12-01T10:00:00Z")
    quarantine_as_older_release(store, [json.dumps(iso), json.dumps(good(1))])
    assert count_quarantine(store.cursor()) == 3

    result = retry_quarantine(store.cursor())
    assert (result.tried, result.moved) == (3, 2)
    assert (result.inserted, result.duplicates, result.still_quarantined) == (1, 1, 1)
    assert stored_ids(store) == {good(1)["id"], good(2)["id"]}
    assert [e.reason for e in list_quarantine(store.cursor())] == ["not valid JSON"]
    run = get_run(store.cursor(), result.run_id)
    assert (run.kind, run.status, run.inserted) == ("retry", "ok", 1)

    again = retry_quarantine(store.cursor())
    assert (again.tried, again.moved, again.still_quarantined) == (1, 0, 1)
    with pytest.raises(StoreError, match="quarantine retry"):
        undo_run(store.cursor(), result.run_id)


def test_purge_all_or_only_older(store: Store) -> None:
    quarantine_as_older_release(store, ["a", "b", "c"])
    assert purge_quarantine(store.cursor(), before_ms=now_ms() - 60_000) == 0
    assert purge_quarantine(store.cursor(), before_ms=now_ms() + 60_000) == 3
    quarantine_as_older_release(store, ["d"])
    assert purge_quarantine(store.cursor()) == 1
    assert count_quarantine(store.cursor()) == 0


def logsync(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LOGSYNC_CONFIG": str(tmp / "absent.toml"),
        "LOGSYNC_LOG_FILE": str(tmp / "logsync.log"),
    }
    return subprocess.run(
        [sys.executable, "-m", "logsync_tui", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_lists_retries_and_purges(tmp_path: Path, db_path: Path) -> None:
    with Store.open(db_path) as store:
        fixed = json.dumps(good(5, timestamp="2026-12-01T10:00:00Z"))
        quarantine_as_older_release(store, [fixed, "still\nbroken"])
    db = ("--db", str(db_path))
    listed = json.loads(logsync(tmp_path, "quarantine", "--json", *db).stdout)
    assert listed["total"] == 2
    assert {e["source_index"] for e in listed["entries"]} == {0, 1}
    text = logsync(tmp_path, "quarantine", *db)
    assert "logs:t1[1]  unreadable timestamp" in text.stdout
    assert len(text.stdout.splitlines()) == 2

    retried = json.loads(
        logsync(tmp_path, "quarantine", "--retry", "--json", *db).stdout
    )
    assert (retried["moved"], retried["still_quarantined"]) == (1, 1)

    refused = logsync(tmp_path, "quarantine", "--purge", *db)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    purged = logsync(tmp_path, "quarantine", "--purge", "--yes", *db)
    assert purged.returncode == 0 and "purged 1 " in purged.stdout
