"""Paged, filtered, searched reads of the store, and the URL kinds a source takes."""

from __future__ import annotations

import pytest

from logsync_tui.errors import SourceError
from logsync_tui.sources.embedded import EmbeddedRedis
from logsync_tui.sources.redis import RedisSource
from logsync_tui.storage import Store
from logsync_tui.storage.queries import (
    Cursor,
    LogFilter,
    count_rows,
    fetch_offset,
    fetch_page,
    get_entry,
    trace_position,
)
from logsync_tui.sync import SyncScope, run_sync
from tests.conftest import push_like_worker, read_jsonl

T0 = 1_796_000_000_000


@pytest.fixture
def filled(store: Store, redis_url: str, rclient) -> Store:
    entries = [
        {"id": f"{1000 + i}_q{i:04d}", "trace_id": f"t{i % 7}", "user_id": f"u{i % 2}",
         "system": ("browser", "convex", "worker")[i % 3],
         "level": ("info", "warn", "error", "log")[i % 4],
         "message": f"step {i} [bold]done[/]", "timestamp": T0 + i // 2,
         "context": {"needle": "haystack-x" if i == 42 else "hay"},
         "stack": "at deep (x.js:1)" if i == 77 else ""}
        for i in range(300)
    ]  # fmt: skip
    push_like_worker(rclient, entries)
    source = RedisSource(redis_url)
    run_sync(store, source, SyncScope())
    source.close()
    return store


def test_keyset_pages_cover_everything_once(filled: Store) -> None:
    con, seen, after = filled.cursor(), [], None
    while True:
        page = fetch_page(con, LogFilter(), after=after, limit=64)
        seen += [r.id for r in page.rows]
        if not page.has_more:
            break
        last = page.rows[-1]
        after = Cursor(last.timestamp, last.id)
    assert len(seen) == len(set(seen)) == 300
    stamps = [int(i.split("_")[0]) for i in seen]
    assert stamps == sorted(stamps, reverse=True)
    oldest = fetch_page(con, LogFilter(), newest_first=False, limit=3).rows
    assert [r.id for r in oldest] == ["1000_q0000", "1001_q0001", "1002_q0002"]


def test_filters_and_search(filled: Store) -> None:
    con = filled.cursor()
    assert count_rows(con, LogFilter(systems=("browser",))) == 100
    assert count_rows(con, LogFilter(levels=("error",), users=("u0",))) == 75
    assert count_rows(con, LogFilter(traces=("t3",))) == 43
    assert count_rows(con, LogFilter(since_ms=T0 + 100, until_ms=T0 + 109)) == 20
    assert count_rows(con, LogFilter(search="HAYSTACK-X")) == 1
    assert count_rows(con, LogFilter(search="deep (x.js")) == 1
    assert count_rows(con, LogFilter(search="[bold]done[/]")) == 300
    assert count_rows(con, LogFilter(search="%")) == 0
    rows = fetch_offset(con, LogFilter(systems=("worker",)), 10, 5)
    assert len(rows) == 5 and {r.system for r in rows} == {"worker"}


def test_entry_and_trace_position(filled: Store) -> None:
    con = filled.cursor()
    row = get_entry(con, "1014_q0014")
    assert row is not None and row.trace_id == "t0"
    assert trace_position(con, row) == (3, 43)
    assert get_entry(con, "nope") is None


def test_long_line_is_stored_whole_and_searchable(
    store: Store, redis_url: str, rclient
) -> None:
    entries = read_jsonl("04-very-long-line.jsonl")
    push_like_worker(rclient, entries)
    source = RedisSource(redis_url)
    run_sync(store, source, SyncScope())
    source.close()
    long = max(entries, key=lambda e: len(str(e["message"])))
    row = get_entry(store.cursor(), str(long["id"]))
    assert row is not None and row.message == long["message"]
    assert row.stack == long["stack"]
    tail = str(long["message"])[-40:]
    assert count_rows(store.cursor(), LogFilter(search=tail)) == 1


def test_unix_socket_url(store: Store) -> None:
    with EmbeddedRedis() as server:
        source = RedisSource(server.unix_url)
        push_like_worker(source.client(), read_jsonl("12-duplicate-id.jsonl"))
        result = run_sync(store, source, SyncScope())
        source.close()
    assert result.inserted == 2 and result.source.startswith("unix://")


def test_tls_to_a_plain_server_is_one_clear_error(redis_server: EmbeddedRedis) -> None:
    source = RedisSource(redis_server.url.replace("redis://", "rediss://"), timeout=3)
    with pytest.raises(SourceError) as caught:
        source.server_info()
    line = caught.value.one_line()
    assert line.startswith("redis: TLS connection to rediss://127.0.0.1:")
    assert "speaks TLS" in line
    assert "\n" not in caught.value.one_line()
