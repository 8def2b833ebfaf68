"""The bug-report cases of tests/data (02, 11, 12) through a real sync."""

from __future__ import annotations

import json

from logsync_tui.sources.redis import RedisSource
from logsync_tui.storage import Store
from logsync_tui.sync import SyncScope, run_sync
from tests.conftest import push_like_worker, read_jsonl


def sync(store: Store, url: str, scope: SyncScope | None = None):
    source = RedisSource(url)
    try:
        return run_sync(store, source, scope or SyncScope())
    finally:
        source.close()


def one(store: Store, sql: str, *params: object) -> object:
    row = store.cursor().execute(sql, list(params)).fetchone()
    return row[0] if row else None


def entry(suffix: str, trace: str, message: str, n: int, **over: object) -> bytes:
    data = {
        "id": f"173305000000{n}_{suffix}", "trace_id": trace, "user_id": "u-anon-02",
        "system": "worker", "level": "info", "message": message, "stack": "",
        "timestamp": 1733050000000 + n, "context": {},
    }  # fmt: skip
    data.update(over)
    return json.dumps(data, separators=(",", ":")).encode()


def test_02_non_utf8_element_is_kept(store: Store, redis_url: str, rclient) -> None:
    bad = entry("en02b", "t-enc", "caf__ au lait", 1, level="error").replace(
        b"caf__", b"caf\xe9"
    )
    rclient.rpush(
        "logs:t-enc", entry("en02a", "t-enc", "before", 0), bad,
        entry("en02c", "t-enc", "after", 2),
    )  # fmt: skip
    rclient.rpush("logs:t-fine", entry("fine01", "t-fine", "fine", 3))
    result = sync(store, redis_url)
    assert result.status == "ok"
    assert one(store, "SELECT count(*) FROM debug_logs WHERE trace_id='t-enc'") == 3
    message = one(store, "SELECT message FROM debug_logs WHERE id LIKE '%_en02b'")
    assert message == "caf\ufffd au lait"
    original = one(store, "SELECT raw_bytes FROM debug_logs WHERE id LIKE '%_en02b'")
    assert original == bad
    warnings = [w for w in result.warnings if "UTF-8" in w]
    assert len(warnings) == 1
    assert "logs:t-enc" in warnings[0] and "element 1" in warnings[0]
    assert one(store, "SELECT count(*) FROM debug_logs WHERE trace_id='t-fine'") == 1


def test_11_wrongtype_keys_are_reported(store: Store, redis_url: str, rclient) -> None:
    def e(n: int, trace: str, system: str, level: str, msg: str) -> bytes:
        return entry(f"wt11{'abcd'[n]}", trace, msg, n, system=system, level=level)

    rclient.rpush("logs:t-ok", e(0, "t-ok", "browser", "info", "first"))
    rclient.rpush("logs:t-ok", e(1, "t-ok", "browser", "warn", "second"))
    rclient.set("logs:t-str", e(2, "t-str", "manual", "error", "written with SET"))
    rclient.hset("logs:t-hash", "message", "a hash, not a list")
    rclient.rpush(
        "logs:t-junk", "not json at all", e(3, "t-junk", "worker", "log", "valid")
    )
    result = sync(store, redis_url)
    ids = [r[0][-5:] for r in store.cursor().execute(
        "SELECT id FROM debug_logs ORDER BY id").fetchall()]  # fmt: skip
    assert ids == ["wt11a", "wt11b", "wt11d"]
    text = "\n".join(result.warnings)
    assert "logs:t-str: string key, a list was expected" in text
    assert "logs:t-hash: hash key, a list was expected" in text
    junk = (
        store.cursor()
        .execute("SELECT source_key, source_index, reason FROM quarantine")
        .fetchall()
    )
    assert junk == [("logs:t-junk", 0, "not valid JSON")]
    traces = (
        store.cursor()
        .execute("SELECT DISTINCT trace_id FROM debug_logs ORDER BY 1")
        .fetchall()
    )
    assert traces == [("t-junk",), ("t-ok",)]


def test_12_duplicate_id_gives_two_rows(store: Store, redis_url: str, rclient) -> None:
    push_like_worker(rclient, read_jsonl("12-duplicate-id.jsonl"))
    first = sync(store, redis_url)
    assert (first.inserted, first.duplicates, first.conflicts) == (2, 1, 0)
    sync(store, redis_url)
    sync(store, redis_url, SyncScope(full=True))
    assert one(store, "SELECT count(*) FROM debug_logs") == 2
