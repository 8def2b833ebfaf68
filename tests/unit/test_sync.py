"""The sync engine against a real redis-server and a real DuckDB file."""

from __future__ import annotations

import json
import threading

import pytest
import redis

from logsync_tui.errors import SourceError, SyncCancelled
from logsync_tui.sources.redis import RedisSource
from logsync_tui.stats import buffer_stats
from logsync_tui.storage import Store
from logsync_tui.storage.runs import get_run, undo_run
from logsync_tui.sync import SyncOptions, SyncProgress, SyncScope, run_sync
from tests.conftest import push_like_worker


def entry(n: int, trace: str = "t1", **over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": f"{1_796_000_000_000 + n}_abc{n:06d}",
        "trace_id": trace,
        "user_id": f"u{n % 3}",
        "system": ("browser", "convex", "worker", "manual")[n % 4],
        "level": ("log", "info", "warn", "error")[n % 4],
        "message": f"message {n}",
        "timestamp": 1_796_000_000_000 + n,
        "context": {"n": n},
    }
    base.update(over)
    return base


def rows(store: Store, sql: str = "SELECT id FROM debug_logs ORDER BY id") -> list:
    return store.cursor().execute(sql).fetchall()


def sync(store: Store, url: str, scope: SyncScope | None = None, **kw: object):
    source = RedisSource(url)
    try:
        return run_sync(store, source, scope or SyncScope(), SyncOptions(**kw))
    finally:
        source.close()


def test_sync_all_stores_every_field(store: Store, redis_url: str, rclient) -> None:
    entries = [entry(i, trace=f"t{i % 5}") for i in range(50)]
    push_like_worker(rclient, entries)
    result = sync(store, redis_url)
    assert (result.scanned, result.inserted, result.keys) == (50, 50, 5)
    assert result.verified and result.status == "ok"
    got = (
        store.cursor()
        .execute(
            "SELECT id, trace_id, user_id, system, level, message, timestamp, context, "
            "raw_data FROM debug_logs WHERE id = ?",
            [entries[7]["id"]],
        )
        .fetchone()
    )
    raw = json.dumps(entries[7], separators=(",", ":"))
    assert got == (
        entries[7]["id"], "t2", "u1", "manual", "error", "message 7",
        entries[7]["timestamp"], '{"n":7}', raw,
    )  # fmt: skip


def test_second_sync_inserts_nothing(store: Store, redis_url: str, rclient) -> None:
    push_like_worker(rclient, [entry(i, trace=f"t{i % 4}") for i in range(40)])
    sync(store, redis_url)
    again = sync(store, redis_url)
    assert (again.scanned, again.inserted) == (0, 0)
    assert len(rows(store)) == 40


def test_incremental_reads_only_new_heads(
    store: Store, redis_url: str, rclient
) -> None:
    push_like_worker(rclient, [entry(i) for i in range(30)])
    sync(store, redis_url)
    push_like_worker(rclient, [entry(i) for i in range(30, 33)])
    result = sync(store, redis_url)
    assert (result.scanned, result.inserted, result.duplicates) == (3, 3, 0)
    assert len(rows(store)) == 33


def test_recreated_key_is_read_whole(store: Store, redis_url: str, rclient) -> None:
    push_like_worker(rclient, [entry(i) for i in range(5)])
    sync(store, redis_url)
    rclient.delete("logs:t1")
    push_like_worker(rclient, [entry(i) for i in range(100, 106)])
    result = sync(store, redis_url)
    assert (result.scanned, result.inserted) == (6, 6)


def test_full_ignores_watermarks(store: Store, redis_url: str, rclient) -> None:
    push_like_worker(rclient, [entry(i) for i in range(10)])
    sync(store, redis_url)
    result = sync(store, redis_url, SyncScope(full=True))
    assert (result.scanned, result.inserted, result.duplicates) == (10, 0, 10)


def test_scope_by_trace(store: Store, redis_url: str, rclient) -> None:
    push_like_worker(rclient, [entry(i, trace=f"t{i % 3}") for i in range(30)])
    result = sync(store, redis_url, SyncScope(traces=("t1", "t-missing")))
    assert result.inserted == 10
    assert rows(store, "SELECT DISTINCT trace_id FROM debug_logs") == [("t1",)]
    assert any("t-missing" in w for w in result.warnings)


def test_scope_by_user_and_time(store: Store, redis_url: str, rclient) -> None:
    push_like_worker(rclient, [entry(i, trace=f"t{i % 3}") for i in range(30)])
    anonymous = {k: v for k, v in entry(99, trace="t0").items() if k != "user_id"}
    push_like_worker(rclient, [anonymous])
    result = sync(store, redis_url, SyncScope(users=("u2",)))
    assert result.inserted == 10 and result.skipped == 21
    assert rows(store, "SELECT DISTINCT user_id FROM debug_logs") == [("u2",)]
    lo, hi = 1_796_000_000_000 + 5, 1_796_000_000_000 + 9
    result = sync(store, redis_url, SyncScope(since_ms=lo, until_ms=hi))
    got = rows(
        store, f"SELECT count(*) FROM debug_logs WHERE timestamp BETWEEN {lo} AND {hi}"
    )
    assert got == [(5,)]
    assert result.inserted == 5 - 2  # u2 entries 5 and 8 were already there


def test_conflict_keep_and_take(store: Store, redis_url: str, rclient) -> None:
    push_like_worker(rclient, [entry(1)])
    sync(store, redis_url)
    push_like_worker(rclient, [entry(1, message="changed")])
    kept = sync(store, redis_url)
    assert (kept.conflicts, kept.inserted) == (1, 0)
    assert rows(store, "SELECT message FROM debug_logs") == [("message 1",)]
    taken = sync(store, redis_url, SyncScope(full=True), policy="take")
    assert taken.conflicts == 1 and taken.duplicates == 1
    assert rows(store, "SELECT message FROM debug_logs") == [("changed",)]
    undo_run(store.cursor(), taken.run_id)
    assert rows(store, "SELECT message FROM debug_logs") == [("message 1",)]


MALFORMED = [
    (b"not json at all", "not valid JSON"),
    (b"[1, 2, 3]", "JSON array is not an object"),
    (b'"just a string"', "JSON varchar is not an object"),
    (json.dumps({"trace_id": "t1", "system": "worker", "level": "info",
                 "message": "m", "timestamp": 1}).encode(), "missing id"),
    (json.dumps(entry(900, level="fatal")).encode(), "unknown level fatal"),
    (json.dumps(entry(901, system="edge")).encode(), "unknown system edge"),
    (json.dumps(entry(902, timestamp="yesterday")).encode(),
     "unreadable timestamp yesterday"),
    (json.dumps({k: v for k, v in entry(903).items() if k != "message"}).encode(),
     "missing message"),
]  # fmt: skip


def test_each_malformed_kind_is_quarantined(
    store: Store, redis_url: str, rclient
) -> None:
    rclient.rpush("logs:t1", *[raw for raw, _ in MALFORMED])
    push_like_worker(rclient, [entry(1)])
    result = sync(store, redis_url)
    assert (result.malformed, result.inserted, result.scanned) == (len(MALFORMED), 1, 9)
    got = dict(rows(store, "SELECT raw_data, reason FROM quarantine"))
    for raw, reason in MALFORMED:
        assert got[raw.decode()] == reason
    # Quarantine is not refilled by a repeated full read.
    sync(store, redis_url, SyncScope(full=True))
    assert rows(store, "SELECT count(*) FROM quarantine") == [(len(MALFORMED),)]


@pytest.mark.parametrize("stamp", [10**30, -5, "99999999999999999999999", 1e300])
def test_out_of_range_timestamp_is_quarantined_not_fatal(
    store: Store, redis_url: str, rclient, stamp: object
) -> None:
    push_like_worker(rclient, [entry(1), entry(2, timestamp=stamp), entry(3)])
    result = sync(store, redis_url)
    assert (result.inserted, result.malformed, result.status) == (2, 1, "ok")
    reason = rows(store, "SELECT reason FROM quarantine")[0][0]
    assert reason.startswith("unreadable timestamp")
    source = RedisSource(redis_url)
    stats = buffer_stats(source)
    source.close()
    assert stats.entries == 3 and stats.per_minute


def test_timestamps_in_seconds_micros_and_iso(
    store: Store, redis_url: str, rclient
) -> None:
    push_like_worker(
        rclient,
        [
            entry(1, timestamp=1_796_000_000),
            entry(2, timestamp=1_796_000_000_123_000),
            entry(3, timestamp="2026-12-01T11:10:00.250Z"),
            entry(4, timestamp=1_796_000_000.5),
        ],
    )
    sync(store, redis_url)
    got = rows(store, "SELECT timestamp FROM debug_logs ORDER BY id")
    assert got == [
        (1_796_000_000_000,), (1_796_000_000_123,), (1_796_123_400_250,),
        (1_796_000_000_500,),
    ]  # fmt: skip


def test_undo_removes_exactly_the_run(store: Store, redis_url: str, rclient) -> None:
    push_like_worker(rclient, [entry(i) for i in range(5)])
    first = sync(store, redis_url)
    push_like_worker(rclient, [entry(i) for i in range(5, 8)] + [entry(0)])
    rclient.rpush("logs:t1", b"junk")
    second = sync(store, redis_url)
    assert second.inserted == 3
    result = undo_run(store.cursor(), second.run_id)
    assert (result.removed, result.unquarantined) == (3, 1)
    assert len(rows(store)) == 5
    assert get_run(store.cursor(), second.run_id).status == "undone"
    assert get_run(store.cursor(), first.run_id).status == "ok"
    again = sync(store, redis_url)  # undo forgot the key: it is read again
    assert again.inserted == 3


def test_cancel_keeps_committed_batches(store: Store, redis_url: str, rclient) -> None:
    push_like_worker(rclient, [entry(i, trace=f"t{i % 50}") for i in range(2000)])
    cancel = threading.Event()

    def stop_after_first(progress: SyncProgress) -> None:
        if progress.entries_inserted:
            cancel.set()

    with pytest.raises(SyncCancelled):
        sync(
            store,
            redis_url,
            batch_entries=200,
            cancel=cancel,
            progress=stop_after_first,
        )
    run = rows(store, "SELECT status, inserted FROM sync_runs")[0]
    stored = rows(store, "SELECT count(*) FROM debug_logs")[0][0]
    assert run[0] == "cancelled" and 0 < stored < 2000 and run[1] == stored
    resumed = sync(store, redis_url)
    assert resumed.inserted == 2000 - stored
    assert len(rows(store)) == 2000


def test_connection_lost_mid_sync_then_resume(
    store: Store, redis_url: str, rclient
) -> None:
    push_like_worker(rclient, [entry(i, trace=f"t{i % 200}") for i in range(4000)])
    admin = redis.Redis.from_url(redis_url)

    def cut(progress: SyncProgress) -> None:
        if progress.entries_inserted and not admin.config_get("requirepass").get(
            "requirepass"
        ):
            admin.config_set("requirepass", "locked-out")
            admin.client_kill_filter(_type="normal", skipme=True)

    try:
        with pytest.raises(SourceError):
            sync(store, redis_url, batch_entries=300, progress=cut)
    finally:
        admin.execute_command("AUTH", "locked-out")
        admin.config_set("requirepass", "")
        admin.close()
    failed = rows(store, "SELECT status, inserted FROM sync_runs")[0]
    assert failed[0] == "failed" and 0 < failed[1] < 4000
    assert rows(store, "SELECT count(*) FROM debug_logs")[0][0] == failed[1]
    resumed = sync(store, redis_url)
    assert resumed.inserted == 4000 - failed[1]
    assert resumed.scanned < 4000
    assert len(rows(store)) == 4000


def test_sync_never_writes_to_redis(store: Store, redis_url: str, rclient) -> None:
    push_like_worker(rclient, [entry(i) for i in range(20)])
    before = {
        k: (rclient.lrange(k, 0, -1), rclient.ttl(k))
        for k in rclient.scan_iter("logs:*")
    }
    rclient.config_resetstat()
    sync(store, redis_url)
    stats = rclient.info("commandstats")
    written = {"cmdstat_lpush", "cmdstat_rpush", "cmdstat_del", "cmdstat_expire",
               "cmdstat_set", "cmdstat_ltrim", "cmdstat_keys"}  # fmt: skip
    assert not written & set(stats)
    after = {
        k: (rclient.lrange(k, 0, -1), rclient.ttl(k))
        for k in rclient.scan_iter("logs:*")
    }
    assert before.keys() == after.keys()
    assert all(before[k][0] == after[k][0] for k in before)
