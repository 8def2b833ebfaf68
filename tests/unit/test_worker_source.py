"""The Worker HTTP source against a loopback Worker backed by the real Redis."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from logsync_tui.config import Settings, load_settings
from logsync_tui.errors import SourceError, SyncCancelled
from logsync_tui.sources.base import ReadRequest
from logsync_tui.sources.ratelimit import BudgetExhausted, RateLimiter, RetryPolicy
from logsync_tui.sources.redis import RedisSource
from logsync_tui.sources.select import open_source, worker_beside
from logsync_tui.sources.worker import CAP_WARNING, WorkerSource
from logsync_tui.stats import buffer_stats
from logsync_tui.storage import Store
from logsync_tui.sync import SyncResult, SyncScope, run_sync
from tests.conftest import push_like_worker, read_jsonl
from tests.worker_server import WorkerServer, running_worker

COLUMNS = (
    "id, trace_id, user_id, system, level, message, timestamp, context, stack, "
    "raw_data, raw_bytes"
)
TOKEN = "tok-SECRET-4f9a"


class Sleeps:
    """Records retry waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def worker(redis_url: str) -> Iterator[WorkerServer]:
    with running_worker(redis_url) as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def source_for(
    url: str, sleeps: Sleeps, *, timeout: float = 10.0, **limits: Any
) -> WorkerSource:
    return WorkerSource(
        url,
        token=TOKEN,
        limiter=RateLimiter(**({"per_second": 0} | limits)),
        retry=RetryPolicy(sleep=sleeps, rand=lambda: 0.5),
        timeout=timeout,
    )


def sync_into(path: Path, source: Any, scope: SyncScope | None = None) -> SyncResult:
    with Store.open(path) as store:
        try:
            return run_sync(store, source, scope or SyncScope())
        finally:
            source.close()


def stored(
    path: Path, sql: str = f"SELECT {COLUMNS} FROM debug_logs ORDER BY id"
) -> Any:
    with Store.open(path, read_only=True) as store:
        return store.cursor().execute(sql).fetchall()


def entry(trace: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{1796126400000 + n}_{trace[-4:]:0>4}{n:05d}",
        "trace_id": trace,
        "system": "browser",
        "level": "info",
        "message": f"step {n}",
        "timestamp": 1796126400000 + n,
        **extra,
    }


def seed_traces(client: redis.Redis, count: int, per_trace: int = 2) -> None:
    entries = [
        entry(f"trace-{t:03d}", t * 10 + i)
        for t in range(count)
        for i in range(per_trace)
    ]
    push_like_worker(client, entries)


def seed_mixed_buffer(client: redis.Redis) -> None:
    """Under 50 traces: real log lines, the bug-report cases and malformed rows."""
    public = read_jsonl("public.jsonl")
    traces = list(dict.fromkeys(str(e["trace_id"]) for e in public))[:30]
    push_like_worker(client, [e for e in public if e["trace_id"] in traces])
    for name in (
        "04-very-long-line.jsonl",
        "05-multiline-stack.jsonl",
        "09-csv-newlines-quotes.jsonl",
        "12-duplicate-id.jsonl",
    ):
        push_like_worker(client, read_jsonl(name))
    client.rpush("logs:t-junk", b"not json at all", b"42", b'["a"]')
    push_like_worker(
        client,
        [
            entry("t-junk", 1),
            {"trace_id": "t-junk", "system": "worker", "level": "log", "message": "x"},
            entry("t-junk", 2, level="fatal"),
            entry("t-junk", 3, timestamp="2026-12-01T12:00:00Z"),
            entry("t-junk", 4, user_id="u1", context={"n": [1, 2.5, None, True]}),
        ],
    )
    client.set("logs:t-str", b"a string, not a list")


def test_worker_and_redis_syncs_store_identical_rows(
    redis_url: str, rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_mixed_buffer(rclient)
    via_worker = tmp_path / "worker.duckdb"
    via_redis = tmp_path / "redis.duckdb"
    got = sync_into(via_worker, source_for(worker.url, Sleeps()))
    want = sync_into(via_redis, RedisSource(redis_url))
    rows = stored(via_worker)
    assert len(rows) > 100
    assert rows == stored(via_redis)
    assert (got.inserted, got.duplicates, got.malformed) == (
        want.inserted,
        want.duplicates,
        want.malformed,
    )
    quarantined = "SELECT raw_data, reason FROM quarantine ORDER BY raw_data"
    assert stored(via_worker, quarantined) == stored(via_redis, quarantined)
    assert not worker.requests("/logs/clear")
    assert {r.method for r in worker.requests()} == {"GET"}


def test_a_second_sync_through_the_worker_finds_everything_present(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 5, per_trace=3)
    db = tmp_path / "s.duckdb"
    first = sync_into(db, source_for(worker.url, Sleeps()))
    second = sync_into(db, source_for(worker.url, Sleeps()))
    assert (first.inserted, second.inserted, second.duplicates) == (15, 0, 15)
    assert first.verified and second.verified


def test_a_full_list_warns_that_traces_may_be_missing(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 60)
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()))
    assert result.inserted == 100  # 50 traces of 2: the Worker lists no more.
    assert CAP_WARNING in result.warnings
    assert worker.requests("/traces/recent")[0].query["limit"] == ["50"]


def test_a_short_list_gives_no_cap_warning(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 49)
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()))
    assert result.inserted == 98
    assert CAP_WARNING not in result.warnings


def test_trace_ids_are_url_encoded(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    odd = "a b&trace_id=x/é#frag?q=1+2%20"
    push_like_worker(rclient, [entry(odd, 1), entry(odd, 2)])
    scope = SyncScope(traces=(odd,))
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()), scope)
    assert result.inserted == 2
    (seen,) = worker.requests("/logs")
    assert seen.query == {"trace_id": [odd]}
    assert stored(
        tmp_path / "s.duckdb", "SELECT DISTINCT trace_id FROM debug_logs"
    ) == [(odd,)]


def test_a_named_trace_the_worker_lacks_is_noted(
    worker: WorkerServer, tmp_path: Path
) -> None:
    scope = SyncScope(traces=("nope",))
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()), scope)
    assert result.inserted == 0
    assert any("logs:nope" in w and "no entries" in w for w in result.warnings)


def test_sync_by_user_walks_the_listed_traces_and_filters(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    push_like_worker(
        rclient,
        [
            entry("t-a", 1, user_id="u1"),
            entry("t-a", 2, user_id="u2"),
            entry("t-b", 3, user_id="u1"),
        ],
    )
    scope = SyncScope(users=("u1",))
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()), scope)
    assert (result.inserted, result.skipped) == (2, 1)


def test_the_bearer_token_is_sent(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 1)
    sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()))
    assert {r.authorization for r in worker.requests()} == {f"Bearer {TOKEN}"}


def test_every_request_is_charged_to_the_shared_limiter(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 7)
    source = source_for(worker.url, Sleeps())
    sync_into(tmp_path / "s.duckdb", source)
    assert source.limiter.figures().used_total == 8 == len(worker.requests())


def test_the_daily_budget_stops_a_worker_sync_cleanly(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 5)
    source = source_for(worker.url, Sleeps(), daily=3)
    with pytest.raises(BudgetExhausted):
        sync_into(tmp_path / "s.duckdb", source)
    assert len(worker.requests()) == 3


# Faults: retried ones.


def test_429_honours_retry_after(
    rclient: redis.Redis, worker: WorkerServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    seed_traces(rclient, 2)
    worker.fault("status", path="/logs", status=429, retry_after="7")
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, sleeps))
    assert result.inserted == 4
    assert sleeps.waits == [7.0]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_with_backoff(
    rclient: redis.Redis,
    worker: WorkerServer,
    sleeps: Sleeps,
    tmp_path: Path,
    status: int,
) -> None:
    seed_traces(rclient, 2)
    worker.fault("status", path="/traces/recent", status=status, times=2)
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, sleeps))
    assert result.inserted == 4
    # Full jitter at rand 0.5 over 0.5 s, then 1 s.
    assert sleeps.waits == [0.25, 0.5]


def test_retries_give_up_with_url_status_and_body(
    rclient: redis.Redis, worker: WorkerServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    seed_traces(rclient, 1)
    worker.fault("status", path="/traces/recent", status=429, times=10)
    with pytest.raises(SourceError) as info:
        sync_into(tmp_path / "s.duckdb", source_for(worker.url, sleeps))
    text = info.value.one_line()
    assert f"{worker.url}/traces/recent?limit=50" in text
    assert "429" in text and "injected" in text and "4 tries" in text
    assert len(sleeps.waits) == 3
    assert len(worker.requests("/traces/recent")) == 4


def test_a_timeout_is_retried(
    rclient: redis.Redis, worker: WorkerServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    seed_traces(rclient, 2)
    worker.fault("delay", path="/logs", seconds=1.0)
    source = source_for(worker.url, sleeps, timeout=0.2)
    result = sync_into(tmp_path / "s.duckdb", source)
    assert result.inserted == 4
    assert len(sleeps.waits) == 1


def test_a_dropped_connection_is_retried(
    rclient: redis.Redis, worker: WorkerServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    seed_traces(rclient, 2)
    worker.fault("disconnect", path="/logs")
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, sleeps))
    assert result.inserted == 4
    assert len(sleeps.waits) == 1


def test_an_unreachable_worker_fails_with_its_url(
    sleeps: Sleeps, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(SourceError) as info:
        sync_into(tmp_path / "s.duckdb", source_for(url, sleeps))
    assert f"cannot reach {url}/traces/recent" in info.value.cause
    assert len(sleeps.waits) == 3


# Faults: not retried, reported per trace.


@pytest.mark.parametrize("status", [500, 404, 400])
def test_other_errors_on_one_trace_skip_it_with_the_reason(
    rclient: redis.Redis,
    worker: WorkerServer,
    sleeps: Sleeps,
    tmp_path: Path,
    status: int,
) -> None:
    seed_traces(rclient, 3)
    worker.fault("status", path="/logs", status=status)
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, sleeps))
    assert result.inserted == 4
    (warning,) = [w for w in result.warnings if "skipped" in w]
    assert f"answered {status}" in warning and "injected" in warning
    assert f"{worker.url}/logs?trace_id=trace-" in warning
    assert sleeps.waits == []
    assert len(worker.requests("/logs")) == 3


def test_a_refused_token_stops_the_sync(
    rclient: redis.Redis, worker: WorkerServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    seed_traces(rclient, 3)
    worker.fault("status", path="/logs", status=401)
    with pytest.raises(SourceError) as info:
        sync_into(tmp_path / "s.duckdb", source_for(worker.url, sleeps))
    assert "401" in info.value.cause
    assert TOKEN not in info.value.cause
    assert sleeps.waits == []


def test_a_cut_body_is_reported_and_the_rest_synced(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 3)
    worker.fault("truncate", path="/logs")
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()))
    assert result.inserted == 4
    assert any("not JSON" in w and '{"trace_id"' in w for w in result.warnings)


def test_an_html_page_with_200_is_reported_without_its_tags(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 2)
    worker.fault("html", path="/logs", status=200)
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()))
    assert result.inserted == 2
    (warning,) = [w for w in result.warnings if "HTML" in w]
    assert "Bad gateway" in warning and "<h1>" not in warning
    assert "color:red" not in warning


def test_an_html_gateway_page_is_retried(
    rclient: redis.Redis, worker: WorkerServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    seed_traces(rclient, 2)
    worker.fault("html", path="/traces/recent", status=502)
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, sleeps))
    assert result.inserted == 4
    assert len(sleeps.waits) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"trace_id": "trace-000", "count": 0}, "`logs` is missing"),
        ({"trace_id": "trace-000", "logs": "oops"}, "`logs` is string"),
        ([1, 2], "JSON array, not an object"),
        ("just text", "JSON string, not an object"),
    ],
)
def test_a_logs_answer_that_breaks_the_contract_skips_the_trace(
    rclient: redis.Redis,
    worker: WorkerServer,
    tmp_path: Path,
    body: Any,
    reason: str,
) -> None:
    seed_traces(rclient, 2)
    worker.fault("json", path="/logs", body=body)
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()))
    assert result.inserted == 2
    assert any(reason in w for w in result.warnings)


def test_malformed_entries_are_quarantined_one_by_one(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    push_like_worker(rclient, [entry("t-x", 9)])
    good = entry("t-x", 1)
    logs = [good, {"id": "no-system"}, 7, None, "garbage", ["a"], entry("t-x", 2)]
    worker.fault("json", path="/logs", body={"trace_id": "t-x", "logs": logs})
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()))
    assert (result.inserted, result.malformed) == (2, 5)
    reasons = stored(tmp_path / "s.duckdb", "SELECT reason FROM quarantine")
    assert len(reasons) == 5
    assert ("not valid JSON",) in reasons
    assert any("missing system" in r for (r,) in reasons)


def test_a_mismatched_answer_is_noted(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    push_like_worker(rclient, [entry("t-x", 9)])
    body = {"trace_id": "other", "logs": [entry("t-x", 1)], "count": 3}
    worker.fault("json", path="/logs", body=body)
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()))
    assert result.inserted == 1
    assert any("'other'" in w for w in result.warnings)
    assert any("count 3 but holds 1" in w for w in result.warnings)


@pytest.mark.parametrize(
    "body", [{"count": 2}, {"traces": {"id": "x"}}, [], "text", None]
)
def test_a_recent_answer_without_a_trace_list_fails_cleanly(
    worker: WorkerServer, tmp_path: Path, body: Any
) -> None:
    worker.fault("json", path="/traces/recent", body=body)
    with pytest.raises(SourceError) as info:
        sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()))
    assert "traces" in info.value.cause


def test_recent_items_without_an_id_are_reported(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 1)
    body = {"traces": [{"id": "trace-000"}, {"logCount": 3}, "x", {"id": 5}]}
    worker.fault("json", path="/traces/recent", body=body)
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()))
    assert result.inserted == 2
    assert sum("has no trace id" in w for w in result.warnings) == 3


def test_redis_down_gives_503_and_a_clean_failure(
    sleeps: Sleeps, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{s.getsockname()[1]}"
    with running_worker(dead) as server:
        source = source_for(server.url, sleeps)
        stats = buffer_stats(source)
        assert stats.worker is not None and stats.worker["http_status"] == 503
        assert any("unhealthy" in n and "503" in n for n in stats.notes)
        with pytest.raises(SourceError) as info:
            sync_into(tmp_path / "s.duckdb", source)
    assert "503" in info.value.cause and "Redis unavailable" in info.value.cause


# Stats.


def test_worker_stats_from_health_and_recent(
    rclient: redis.Redis, worker: WorkerServer
) -> None:
    seed_traces(rclient, 4, per_trace=3)
    source = source_for(worker.url, Sleeps(), daily=10_000)
    try:
        stats = buffer_stats(source)
    finally:
        source.close()
    assert (stats.kind, stats.keys, stats.traces, stats.entries) == (
        "worker",
        4,
        4,
        12,
    )
    assert stats.worker is not None
    assert stats.worker["redis"] == "healthy" and stats.worker["ttl_seconds"] == 3600
    assert stats.worker["redis_url"] == ("rediss://default:***@example.upstash.io:6379")
    assert "upstash-secret-token" not in json.dumps(stats.as_json())
    assert stats.recent_traces[0]["logCount"] == 3
    assert stats.cost["sync_requests"] == 5
    assert (stats.cost["used_today"], stats.cost["remaining_today"]) == (2, 9_998)


def test_redis_stats_show_the_worker_beside_when_both_are_set(
    redis_url: str, rclient: redis.Redis, worker: WorkerServer
) -> None:
    seed_traces(rclient, 2)
    limiter = RateLimiter(per_second=0)
    redis_source = RedisSource(redis_url, limiter=limiter)
    other = WorkerSource(worker.url, limiter=limiter)
    try:
        stats = buffer_stats(redis_source, worker=other)
    finally:
        redis_source.close()
        other.close()
    assert stats.kind == "redis" and stats.entries == 4
    assert stats.worker is not None and stats.worker["status"] == "healthy"
    assert stats.cost["sync_requests"] > 0
    assert stats.cost["used_total"] == limiter.figures().used_total > 1


# Source selection and the command line.


def test_worker_url_comes_from_the_app_env_names() -> None:
    env = {"NEXT_PUBLIC_LOG_WORKER_URL": "https://a.example", "LOG_WORKER_URL": "x"}
    assert load_settings({}, env=env, path=Path("/nonexistent")).worker_url == (
        "https://a.example"
    )
    env["LOGSYNC_WORKER_URL"] = "https://b.example"
    assert load_settings({}, env=env, path=Path("/nonexistent")).worker_url == (
        "https://b.example"
    )
    only_legacy = {"LOG_WORKER_URL": "https://c.example"}
    settings = load_settings({}, env=only_legacy, path=Path("/nonexistent"))
    assert settings.worker_url == "https://c.example"


def run_cli(
    *args: str, tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if "REDIS_URL" not in k and "WORKER" not in k
    }
    base |= {
        "LOGSYNC_LOG_FILE": str(tmp_path / "logsync.log"),
        "LOGSYNC_CONFIG": str(tmp_path / "none.toml"),
        "LOGSYNC_DB": str(tmp_path / "cli.duckdb"),
    }
    return subprocess.run(
        [sys.executable, "-m", "logsync_tui", *args],
        capture_output=True,
        text=True,
        env=base | (env or {}),
        timeout=60,
        check=False,
    )


def test_cli_syncs_through_the_worker_and_warns_of_the_cap(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 55)
    env = {"NEXT_PUBLIC_LOG_WORKER_URL": worker.url}
    done = run_cli("sync", "--json", tmp_path=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["inserted"] == 100
    assert "may have missed older traces" in done.stderr
    assert "--redis-url" in done.stderr


def test_cli_prefers_redis_when_both_urls_are_set(
    redis_url: str, rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 55)
    env = {"LOG_WORKER_URL": worker.url, "REDIS_URL": redis_url}
    done = run_cli("sync", "--json", tmp_path=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["inserted"] == 110 and result["source"] == redis_url
    assert not worker.requests("/logs")


def test_cli_stats_through_the_worker_shows_cost(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 3)
    done = run_cli("--worker-url", worker.url, "stats", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "3 traces listed by the Worker" in done.stdout
    assert "a full sync: about 4 requests; used today 2" in done.stdout
    as_json = run_cli("stats", "--json", "--worker-url", worker.url, tmp_path=tmp_path)
    assert json.loads(as_json.stdout)["cost"]["sync_requests"] == 4


def test_cli_never_prints_or_logs_the_token_or_passwords(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 2)
    host = worker.url.removeprefix("http://")
    url = f"http://user:pw-SECRET-77@{host}"
    env = {"LOGSYNC_WORKER_TOKEN": TOKEN, "LOGSYNC_WORKER_URL": url}
    outputs = [
        run_cli("stats", tmp_path=tmp_path, env=env),
        run_cli("stats", "--json", tmp_path=tmp_path, env=env),
    ]
    worker.fault("status", path="/traces/recent", status=401)
    outputs.append(run_cli("sync", tmp_path=tmp_path, env=env))
    worker.fault("status", path="/logs", status=500)
    outputs.append(run_cli("sync", "--json", tmp_path=tmp_path, env=env))
    assert [o.returncode for o in outputs] == [0, 0, 1, 0]
    assert "401" in outputs[2].stderr and "user:***@" in outputs[2].stderr
    text = "".join(o.stdout + o.stderr for o in outputs)
    text += (tmp_path / "logsync.log").read_text()
    for secret in (TOKEN, "pw-SECRET-77", "upstash-secret-token"):
        assert secret not in text
    assert "answered 500" in text


def test_cli_stats_remember_todays_requests_across_runs(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 1)
    env = {"LOGSYNC_WORKER_URL": worker.url}
    run_cli("stats", tmp_path=tmp_path, env=env)
    done = run_cli("stats", "--json", tmp_path=tmp_path, env=env)
    assert json.loads(done.stdout)["cost"]["used_today"] == 4


def test_a_cancelled_read_stops_before_fetching_traces(
    rclient: redis.Redis, worker: WorkerServer
) -> None:
    seed_traces(rclient, 3)
    cancel = threading.Event()
    cancel.set()
    source = source_for(worker.url, Sleeps())
    try:
        chunks = list(source.read(ReadRequest(), cancel))
    finally:
        source.close()
    assert chunks == []
    assert not worker.requests("/logs")


def test_open_source_prefers_redis_and_shares_one_limiter(tmp_path: Path) -> None:
    both = Settings(
        redis_url="redis://127.0.0.1:1",
        worker_url="https://w.example",
        worker_token=TOKEN,
    )
    source = open_source(both)
    beside = worker_beside(both, source) if source is not None else None
    assert isinstance(source, RedisSource) and isinstance(beside, WorkerSource)
    assert beside.limiter is source.limiter
    only_worker = Settings(worker_url="https://w.example")
    chosen = open_source(only_worker)
    assert isinstance(chosen, WorkerSource)
    assert worker_beside(only_worker, chosen) is None
    assert open_source(Settings(db=tmp_path / "x.duckdb")) is None


def test_scan_keys_lists_the_workers_traces_like_redis_does(
    redis_url: str, rclient: redis.Redis, worker: WorkerServer
) -> None:
    seed_traces(rclient, 3)
    source = source_for(worker.url, Sleeps())
    redis_source = RedisSource(redis_url)
    try:
        assert source.scan_keys() == redis_source.scan_keys()
        assert len(source.scan_keys()) == 3
    finally:
        source.close()
        redis_source.close()


def test_an_error_body_excerpt_masks_urls_with_secrets(
    rclient: redis.Redis, worker: WorkerServer, tmp_path: Path
) -> None:
    seed_traces(rclient, 2)
    body = b"upstream rediss://default:hunter2-SECRET@db.example:6379 refused " * 20
    worker.fault("raw", path="/logs", status=500, body=body)
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()))
    (warning,) = [w for w in result.warnings if "answered 500" in w]
    assert "rediss://default:***@db.example" in warning
    assert "hunter2" not in warning
    assert warning.endswith("...") and len(warning) < 400


def test_a_stray_invalid_byte_does_not_lose_the_trace(
    worker: WorkerServer, tmp_path: Path
) -> None:
    good = json.dumps({"trace_id": "t-x", "logs": [entry("t-x", 1)]}).encode()
    body = good.replace(b"step 1", b"step \xff1")
    worker.fault("json", path="/traces/recent", body={"traces": [{"id": "t-x"}]})
    worker.fault("raw", path="/logs", status=200, body=body)
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()))
    assert result.inserted == 1
    assert stored(tmp_path / "s.duckdb", "SELECT message FROM debug_logs") == [
        ("step \ufffd1",)
    ]


def test_an_empty_body_is_reported(worker: WorkerServer, tmp_path: Path) -> None:
    worker.fault("json", path="/traces/recent", body={"traces": [{"id": "t-x"}]})
    worker.fault("raw", path="/logs", status=200, body=b"")
    result = sync_into(tmp_path / "s.duckdb", source_for(worker.url, Sleeps()))
    assert any("an empty body instead of JSON" in w for w in result.warnings)


def test_cancel_cuts_a_retry_wait_short(worker: WorkerServer) -> None:
    worker.fault("status", path="/traces/recent", status=429, retry_after="30")
    source = WorkerSource(worker.url, limiter=RateLimiter(per_second=0))
    cancel = threading.Event()
    cancel.set()
    try:
        with pytest.raises(SyncCancelled):
            list(source.read(ReadRequest(), cancel))
    finally:
        source.close()
    assert len(worker.requests()) == 1


def test_a_malformed_worker_url_is_refused_cleanly() -> None:
    with pytest.raises(SourceError) as info:
        WorkerSource("http://[::1")
    assert "cannot use the Worker URL" in info.value.cause
