"""Buffer stats without importing anything."""

from __future__ import annotations

from logsync_tui.sources.redis import RedisSource
from logsync_tui.stats import buffer_stats
from tests.conftest import push_like_worker, read_jsonl


def test_stats_figures(redis_url: str, rclient) -> None:
    entries = read_jsonl("05-multiline-stack.jsonl") + read_jsonl(
        "12-duplicate-id.jsonl"
    )
    push_like_worker(rclient, entries)
    rclient.rpush("logs:t-junk", "not json")
    rclient.expire("logs:t-junk", 120)
    rclient.set("logs:t-str", "x")
    source = RedisSource(redis_url)
    stats = buffer_stats(source)
    source.close()
    assert stats.entries == 7 and stats.malformed == 1 and stats.keys == 3
    assert stats.by_system == {"browser": 4, "worker": 1, "convex": 1}
    assert stats.by_level == {"error": 3, "warn": 1, "log": 1, "info": 1}
    assert stats.users == 1 and stats.traces == 2  # t-junk holds no valid entry
    assert stats.expiring_soon_keys == 1 and stats.expiring_soon_entries == 1
    assert 0 < stats.soonest_expiry_seconds <= 120
    assert stats.bad_keys == [
        {"key": "logs:t-str", "reason": "string key, a list was expected"}
    ]
    assert [t["id"] for t in stats.recent_traces][:2] == ["t-dup", "t-nl"]
    assert sum(c for _, c in stats.per_minute) == 6
    assert stats.server_version.count(".") == 2
