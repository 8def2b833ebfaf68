"""Cleanup kinds, retention limits and compaction, on real DuckDB files."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from logsync_tui.errors import StoreError
from logsync_tui.sources.redis import RedisSource
from logsync_tui.storage import Store
from logsync_tui.storage.db import _V1, file_size
from logsync_tui.storage.ingest import (
    BATCH_SCHEMA,
    WATERMARK_SCHEMA,
    Scope,
    ingest_batch,
)
from logsync_tui.storage.retention import (
    CleanRequest,
    RetentionPolicy,
    apply_retention,
    clean,
    compact_if_worthwhile,
    load_policy,
    plan_clean,
    save_policy,
)
from logsync_tui.storage.runs import get_run, start_run, undo_run
from logsync_tui.storage.state import load_watermarks
from logsync_tui.sync import SyncOptions, SyncScope, run_sync
from logsync_tui.timeparse import now_ms
from tests.conftest import push_like_worker

BASE_MS = 1_796_000_000_000
DAY_MS = 86_400_000


def _hex(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def entry(n: int, trace: str = "t0", user: str | None = "u0", ts: int = 0) -> dict:
    out: dict[str, Any] = {
        "id": f"{BASE_MS + n}_e{n:08d}",
        "trace_id": trace,
        "system": "browser",
        "level": "info",
        "message": f"message {n} " + "x" * (n % 50),
        "timestamp": ts or BASE_MS + n,
    }
    if user is not None:
        out["user_id"] = user
    return out


def ingest(store: Store, entries: list[dict], junk: tuple[str, ...] = ()) -> int:
    """Store entries (and junk elements under the named traces) as one run."""
    con = store.cursor()
    run_id = start_run(con, "sync", {}, "test")
    keys = [f"logs:{e['trace_id']}" for e in entries] + [f"logs:{t}" for t in junk]
    raws = [json.dumps(e) for e in entries] + ["not json"] * len(junk)
    batch = pa.table(
        {
            "source_key": keys,
            "source_index": list(range(len(keys))),
            "raw": raws,
            "raw_bytes": [None] * len(keys),
        },
        schema=BATCH_SCHEMA,
    )
    distinct = sorted(set(keys))
    marks = pa.table(
        {
            "source_key": distinct,
            "taken": [1] * len(distinct),
            "head_hash": ["h"] * len(distinct),
        },
        schema=WATERMARK_SCHEMA,
    )
    ingest_batch(con, run_id, batch, marks, Scope())
    return run_id


def ids(store: Store) -> set[str]:
    rows = store.cursor().execute("SELECT id FROM debug_logs").fetchall()
    return {r[0] for r in rows}


def scalar(store: Store, sql: str) -> Any:
    return store.cursor().execute(sql).fetchall()[0][0]


ENTRY = st.tuples(
    st.sampled_from(["t0", "t1", "t2"]),
    st.sampled_from(["u0", "u1", None]),
    st.integers(0, 10),
    st.integers(0, 2),
)


MIXED = [
    (trace, user, day, run)
    for trace in ("t0", "t1")
    for user in ("u0", "u1", None)
    for day, run in ((1, 0), (5, 1), (9, 2))
]


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    data=st.lists(ENTRY, min_size=0, max_size=30),
    kind=st.sampled_from(["all", "older", "trace", "user", "run"]),
    pick=st.integers(0, 2),
)
@example(data=MIXED, kind="all", pick=0)
@example(data=MIXED, kind="older", pick=1)
@example(data=MIXED, kind="trace", pick=1)
@example(data=MIXED, kind="user", pick=1)
@example(data=MIXED, kind="run", pick=1)
def test_each_clean_kind_removes_exactly_its_rows(
    data: list[tuple[str, str | None, int, int]], kind: str, pick: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "s.db") as store:
        made = [
            (entry(n, trace, user, BASE_MS + day * DAY_MS), run)
            for n, (trace, user, day, run) in enumerate(data)
        ]
        run_ids = [
            ingest(store, [e for e, r in made if r == run], junk=("t1",))
            for run in range(3)
        ]
        request, gone = _request(kind, pick, run_ids)
        marks_before = load_watermarks(store.cursor())
        quarantined = scalar(store, "SELECT count(*) FROM quarantine")
        plan = plan_clean(store.cursor(), request)
        done = clean(store.cursor(), request)

        expected = {e["id"] for e, run in made if not gone(e, run_ids[run])}
        assert ids(store) == expected
        assert done.entries == plan.entries == len(made) - len(expected)
        left = scalar(store, "SELECT count(*) FROM quarantine")
        marks = load_watermarks(store.cursor())
        if kind == "all":
            assert (left, marks) == (0, {})
        elif kind == "trace" and pick == 1:
            assert left == 0 and marks == marks_before
        else:
            assert left == quarantined and marks == marks_before
        assert get_run(store.cursor(), done.run_id).removed == done.entries


def _request(kind: str, pick: int, run_ids: list[int]) -> tuple[CleanRequest, Any]:
    trace, user = f"t{pick}", f"u{pick}"
    before = BASE_MS + (pick * 4) * DAY_MS
    table = {
        "all": (CleanRequest("all"), lambda e, r: True),
        "older": (
            CleanRequest("older", before_ms=before),
            lambda e, r: e["timestamp"] < before,
        ),
        "trace": (
            CleanRequest("trace", traces=(trace,)),
            lambda e, r: e["trace_id"] == trace,
        ),
        "user": (
            CleanRequest("user", users=(user,)),
            lambda e, r: e.get("user_id") == user,
        ),
        "run": (
            CleanRequest("run", run_id=run_ids[pick]),
            lambda e, r: r == run_ids[pick],
        ),
    }
    return table[kind]


def test_clean_by_an_unknown_run_fails_and_changes_nothing(store: Store) -> None:
    ingest(store, [entry(1)])
    with pytest.raises(StoreError, match="no run 99"):
        plan_clean(store.cursor(), CleanRequest("run", run_id=99))
    with pytest.raises(StoreError, match="no run 99"):
        clean(store.cursor(), CleanRequest("run", run_id=99))
    assert len(ids(store)) == 1


def test_a_clean_cannot_be_undone(store: Store) -> None:
    ingest(store, [entry(1)])
    done = clean(store.cursor(), CleanRequest("all"))
    with pytest.raises(StoreError, match="is a clean"):
        undo_run(store.cursor(), done.run_id)


def sync(store: Store, url: str, **options: Any) -> Any:
    source = RedisSource(url)
    try:
        return run_sync(store, source, SyncScope(), SyncOptions(**options))
    finally:
        source.close()


def test_clean_all_forgets_watermarks_narrow_kinds_keep_them(
    store: Store, redis_url: str, rclient: redis.Redis
) -> None:
    push_like_worker(rclient, [entry(n, f"t{n % 2}") for n in range(10)])
    assert sync(store, redis_url).inserted == 10
    clean(store.cursor(), CleanRequest("trace", traces=("t0",)))
    assert sync(store, redis_url).inserted == 0
    push_like_worker(rclient, [entry(100, "t0")])
    assert sync(store, redis_url).inserted == 1
    clean(store.cursor(), CleanRequest("all"))
    assert sync(store, redis_url).inserted == 11


def test_retention_is_applied_after_a_real_sync(
    store: Store, redis_url: str, rclient: redis.Redis
) -> None:
    save_policy(store.cursor(), RetentionPolicy(max_entries=30))
    push_like_worker(rclient, [entry(n, f"t{n % 4}") for n in range(100)])
    result = sync(store, redis_url)
    assert result.inserted == 100
    assert result.retention["max_entries"] == 70
    kept = ids(store)
    assert kept == {entry(n)["id"] for n in range(70, 100)}
    run = get_run(store.cursor(), result.run_id + 1)
    assert (run.kind, run.removed) == ("retention", 70)


def test_max_age_and_quarantine_age(store: Store) -> None:
    now = now_ms()
    days_ago = [entry(n, ts=now - (30 - n) * DAY_MS + 1) for n in range(30)]
    ingest(store, days_ago, junk=("t0",))
    save_policy(
        store.cursor(),
        RetentionPolicy(max_age_ms=10 * DAY_MS, quarantine_max_age_ms=DAY_MS),
    )
    first = apply_retention(store, now=now, compact=False)
    assert first.removed_by_rule == {"max_age": 20, "quarantine": 0}
    assert ids(store) == {e["id"] for e in days_ago[20:]}
    assert apply_retention(store, now=now, compact=False).run_id is None
    later = apply_retention(store, now=now + 2 * DAY_MS, compact=False)
    assert later.removed_by_rule == {"max_age": 2, "quarantine": 1}


def test_size_cap_drops_oldest_entries(store: Store) -> None:
    ingest(store, [entry(n, trace=f"t{n % 50}") for n in range(20_000)])
    save_policy(store.cursor(), RetentionPolicy(max_mb=1.0))
    result = apply_retention(store, compact=True)
    left = ids(store)
    assert 0 < len(left) < 20_000
    assert result.removed_by_rule["max_mb"] == 20_000 - len(left)
    assert entry(19_999)["id"] in left and entry(0)["id"] not in left


def test_policy_round_trips_through_settings(store: Store) -> None:
    policy = RetentionPolicy(14 * DAY_MS, 2_000_000, 500.0, 7 * DAY_MS)
    save_policy(store.cursor(), policy)
    assert load_policy(store.cursor()) == policy
    save_policy(store.cursor(), RetentionPolicy(max_entries=5))
    assert load_policy(store.cursor()) == RetentionPolicy(max_entries=5)


def test_file_shrinks_after_a_large_clear(store: Store) -> None:
    # Hex payloads that do not compress away, so data outweighs the file's
    # fixed overhead.
    big = [
        {**entry(n, trace=f"t{n % 100}"), "context": {"blob": _hex(n) * 8}}
        for n in range(30_000)
    ]
    run_id = ingest(store, big)
    store.cursor().execute("CHECKPOINT")
    full = file_size(store.path)
    counts = clean(store.cursor(), CleanRequest("older", before_ms=BASE_MS + 27_000))
    compacted = compact_if_worthwhile(store, removed=counts.entries)
    assert compacted is not None
    assert compacted[1] < compacted[0] and file_size(store.path) < full / 2
    assert len(ids(store)) == 3_000
    next_run = start_run(store.cursor(), "sync", {}, "test")
    assert next_run > run_id
    store.close()
    with Store.open(store.path) as again:
        assert len(ids(again)) == 3_000


def test_compaction_is_skipped_when_little_is_free(store: Store) -> None:
    ingest(store, [entry(n) for n in range(2_000)])
    assert compact_if_worthwhile(store) is None


def logsync(tmp: Path, *args: str, url: str = "redis://127.0.0.1:1") -> Any:
    env = {
        **os.environ,
        "LOGSYNC_CONFIG": str(tmp / "absent.toml"),
        "LOGSYNC_LOG_FILE": str(tmp / "logsync.log"),
        "LOGSYNC_REDIS_URL": url,
    }
    return subprocess.run(
        [sys.executable, "-m", "logsync_tui", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_clean_refuses_without_yes_when_stdin_is_not_a_terminal(
    tmp_path: Path, db_path: Path
) -> None:
    with Store.open(db_path) as store:
        ingest(store, [entry(n) for n in range(5)])
    done = logsync(tmp_path, "clean", "--all", "--db", str(db_path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "removes 5 entries" in done.stderr and "--yes" in done.stderr
    with Store.open(db_path) as store:
        assert len(ids(store)) == 5


def test_cli_clean_with_yes_reports_what_it_removed(
    tmp_path: Path, db_path: Path
) -> None:
    with Store.open(db_path) as store:
        ingest(store, [entry(n, user=f"u{n % 2}") for n in range(6)])
    done = logsync(
        tmp_path, "clean", "--user", "u1", "--yes", "--json", "--db", str(db_path)
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["entries"] == 3
    with Store.open(db_path) as store:
        assert len(ids(store)) == 3


def test_cli_store_sets_and_shows_retention(tmp_path: Path, db_path: Path) -> None:
    with Store.open(db_path) as store:
        ingest(store, [entry(n) for n in range(4)], ("t0",))
    set_it = logsync(
        tmp_path, "store", "--db", str(db_path), "--max-age", "14d",
        "--max-entries", "2000000", "--max-mb", "500", "--quarantine-max-age", "7d",
    )  # fmt: skip
    assert set_it.returncode == 0, set_it.stderr
    assert "max age 14d" in set_it.stdout and "quarantine max age 7d" in set_it.stdout
    top_level_db = logsync(tmp_path, "--db", str(db_path), "store", "--json")
    shown = json.loads(top_level_db.stdout)
    assert shown["retention"]["max_entries"] == 2_000_000
    assert shown["entries"] == 4 and shown["quarantined"] == 1
    assert shown["tables"]["debug_logs"] == 4 and shown["by_level"] == {"info": 4}
    assert shown["file_bytes"] > 0
    off = logsync(tmp_path, "store", "--json", "--max-age", "off", "--db", str(db_path))
    assert json.loads(off.stdout)["retention"]["max_age_ms"] is None
    bad = logsync(tmp_path, "store", "--max-entries", "-3", "--db", str(db_path))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_retention_compacts_after_removing_most_entries(store: Store) -> None:
    ingest(store, [entry(n, trace=f"t{n % 40}") for n in range(20_000)])
    save_policy(store.cursor(), RetentionPolicy(max_entries=5_000))
    result = apply_retention(store)
    assert result.entries == 15_000
    assert result.compacted is not None
    assert result.compacted[1] < result.compacted[0]
    assert len(ids(store)) == 5_000


@pytest.mark.parametrize(("answer", "code", "left"), [("n", 1, 3), ("y", 0, 0)])
def test_cli_clean_asks_on_a_terminal(
    tmp_path: Path, db_path: Path, answer: str, code: int, left: int
) -> None:
    with Store.open(db_path) as store:
        ingest(store, [entry(n) for n in range(3)])
    leader, follower = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "logsync_tui", "clean", "--all", "--db", str(db_path)],
        env={
            **os.environ,
            "LOGSYNC_CONFIG": str(tmp_path / "absent.toml"),
            "LOGSYNC_LOG_FILE": str(tmp_path / "logsync.log"),
        },
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(follower)
    os.write(leader, f"{answer}\n".encode())
    _, err = proc.communicate(timeout=60)
    os.close(leader)
    assert proc.returncode == code
    assert "removes 3 entries" in err and "Proceed? [y/N]" in err
    with Store.open(db_path) as store:
        assert len(ids(store)) == left


def test_a_schema_1_store_is_upgraded_by_a_writer(db_path: Path) -> None:
    con = duckdb.connect(str(db_path))
    con.execute(_V1)
    con.execute("INSERT INTO schema_version VALUES (1, now()::TIMESTAMP)")
    con.execute(
        "INSERT INTO sync_runs (kind, scope, source, started_at, status) "
        "VALUES ('sync', '{}', 'redis://x', now()::TIMESTAMP, 'ok')"
    )
    con.close()
    with pytest.raises(StoreError, match="needs an upgrade"):
        Store.open(db_path, read_only=True)
    with Store.open(db_path) as store:
        assert store.schema_version() == 2
        assert get_run(store.cursor(), 1).removed == 0
