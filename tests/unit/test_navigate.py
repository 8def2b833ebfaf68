"""The Logs table's queries: windows, edges with tied timestamps, offsets, errors."""

from __future__ import annotations

import redis

from logsync_tui.sources.redis import RedisSource
from logsync_tui.storage import Store
from logsync_tui.storage.navigate import (
    HEAD_CHARS,
    fetch_window,
    first_window,
    next_with_level,
    offset_of,
)
from logsync_tui.storage.queries import LogFilter, count_rows, fetch_offset
from logsync_tui.sync import SyncScope, run_sync
from tests.conftest import push_like_worker


def fill(rclient: redis.Redis, url: str, store: Store) -> None:
    """130 entries, many sharing a millisecond, one very long, a few errors."""
    entries = []
    for n in range(130):
        entries.append(
            {
                "id": f"{1_700_000_000_000 + n // 7}_{n:09d}",
                "trace_id": f"t{n % 4}",
                "system": "browser",
                "level": "error" if n % 17 == 0 else "info",
                "message": f"step {n} 50% done" if n % 5 == 0 else f"step {n}",
                "timestamp": 1_700_000_000_000 + n // 7,
            }
        )
    entries[42]["message"] = "L" * (HEAD_CHARS + 10)
    push_like_worker(rclient, entries)
    source = RedisSource(url)
    run_sync(store, source, SyncScope())
    source.close()


def ids(rows: list) -> list[str]:
    return [r.id for r in rows]


def test_windows_match_plain_offset_paging(
    rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    fill(rclient, redis_url, store)
    con = store.cursor()
    for flt in (LogFilter(), LogFilter(traces=("t1", "t2")), LogFilter(search="50%")):
        total = count_rows(con, flt)
        for newest_first in (True, False):
            matching, first = first_window(con, flt, 20, newest_first=newest_first)
            assert matching == total
            expected = fetch_offset(con, flt, 0, 20, newest_first=newest_first)
            assert ids(first) == ids(expected)
            for offset in (0, 3, 19, total // 2 + 1, total - 5, total + 3):
                window = fetch_window(
                    con, flt, offset, 11, newest_first=newest_first, total=total
                )
                plain = fetch_offset(con, flt, offset, 11, newest_first=newest_first)
                assert ids(window) == ids(plain)


def test_search_treats_wildcards_literally(
    rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    fill(rclient, redis_url, store)
    con = store.cursor()
    assert count_rows(con, LogFilter(search="50%")) == 26
    assert count_rows(con, LogFilter(search="0_")) == 0
    assert count_rows(con, LogFilter(search="STEP 12")) == 11


def test_long_message_is_cut_and_marked(
    rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    fill(rclient, redis_url, store)
    con = store.cursor()
    rows = fetch_window(con, LogFilter(), 0, 200, newest_first=False)
    long_one = next(r for r in rows if r.message.startswith("LLL"))
    assert len(long_one.message) == HEAD_CHARS
    assert long_one.cut
    assert not any(r.cut for r in rows if r is not long_one)


def test_offset_of_and_next_error(
    rclient: redis.Redis, redis_url: str, store: Store
) -> None:
    fill(rclient, redis_url, store)
    con = store.cursor()
    flt = LogFilter()
    rows = fetch_window(con, flt, 0, 200)
    for index in (0, 1, 50, 129):
        assert offset_of(con, flt, rows[index]) == index
    errors = [i for i, r in enumerate(rows) if r.level == "error"]
    found = next_with_level(con, flt, rows[errors[0]], newest_first=True)
    assert found is not None
    assert found.id == rows[errors[1]].id
    back = next_with_level(con, flt, rows[errors[1]], forward=False)
    assert back is not None
    assert back.id == rows[errors[0]].id
    assert next_with_level(con, flt, rows[errors[-1]]) is None
    assert next_with_level(con, LogFilter(levels=("info",)), rows[0]) is None
