"""The shared rate limiter and retry policy, driven by an injected clock."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import redis

from logsync_tui.config import load_settings
from logsync_tui.errors import ConfigError, SourceError
from logsync_tui.sources.base import ReadRequest
from logsync_tui.sources.ratelimit import (
    SECONDS_PER_DAY,
    BudgetExhausted,
    RateLimiter,
    RetryPolicy,
    UsageLedger,
    limiter_from,
    parse_retry_after,
)
from logsync_tui.sources.redis import RedisSource
from tests.conftest import push_like_worker, read_jsonl


class FakeClock:
    """A clock the test moves by hand; sleeping just moves it."""

    def __init__(self, start: float = 1_796_126_400.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make(clock: FakeClock, per_second: float = 10, daily: int = 0) -> RateLimiter:
    return RateLimiter(per_second, daily, clock=clock, sleep=clock.sleep)


def test_burst_passes_then_the_bucket_paces_requests() -> None:
    clock = FakeClock()
    limiter = make(clock, per_second=10)
    waits = [limiter.reserve() for _ in range(12)]
    assert waits[:10] == [0.0] * 10
    assert waits[10] == pytest.approx(0.1)
    assert waits[11] == pytest.approx(0.2)


def test_the_bucket_refills_with_time_up_to_the_burst() -> None:
    clock = FakeClock()
    limiter = make(clock, per_second=10)
    for _ in range(10):
        limiter.reserve()
    clock.now += 0.5
    assert [limiter.reserve() for _ in range(5)] == [0.0] * 5
    assert limiter.reserve() == pytest.approx(0.1)
    clock.now += 3600
    assert [limiter.reserve() for _ in range(10)] == [0.0] * 10
    assert limiter.reserve() > 0


def test_a_pipeline_is_one_round_trip_but_spends_a_request_per_command() -> None:
    clock = FakeClock()
    limiter = make(clock, per_second=2, daily=100)
    assert limiter.reserve(25) == 0.0
    assert limiter.reserve(25) == 0.0
    assert limiter.reserve(25) == pytest.approx(0.5)
    assert limiter.reserve(1) == pytest.approx(1.0)
    assert limiter.figures().used_today == 76


def test_acquire_sleeps_for_the_wait_through_the_injected_sleep() -> None:
    clock = FakeClock()
    limiter = make(clock, per_second=2)
    for _ in range(4):
        limiter.acquire()
    assert clock.slept == pytest.approx([0.5, 0.5])


def test_a_rate_of_zero_never_waits() -> None:
    clock = FakeClock()
    limiter = make(clock, per_second=0)
    assert all(limiter.reserve(1000) == 0.0 for _ in range(50))
    assert clock.slept == []


def test_the_daily_budget_refuses_without_spending_and_resets_next_day() -> None:
    clock = FakeClock()
    limiter = make(clock, per_second=0, daily=5)
    limiter.reserve(4)
    with pytest.raises(BudgetExhausted) as info:
        limiter.reserve(2)
    assert "5 requests" in info.value.cause
    assert isinstance(info.value, SourceError)
    limiter.reserve(1)
    assert limiter.figures().used_today == 5
    assert limiter.figures().remaining_today == 0
    clock.now += SECONDS_PER_DAY
    assert limiter.figures().used_today == 0
    limiter.reserve(5)
    assert limiter.figures().used_total == 10


def test_figures_without_a_budget_have_no_remaining_count() -> None:
    limiter = make(FakeClock(), per_second=3)
    limiter.reserve(2)
    figures = limiter.figures()
    assert figures.remaining_today is None
    assert (figures.requests_per_second, figures.used_today) == (3, 2)


def test_negative_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(per_second=-1)


def test_the_limiter_is_safe_to_share_between_threads() -> None:
    limiter = make(FakeClock(), per_second=0, daily=10_000)
    threads = [
        threading.Thread(target=lambda: [limiter.reserve() for _ in range(500)])
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limiter.figures().used_today == 4000


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(base=0.5, cap=4.0, rand=lambda: 1.0)
    assert [policy.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    half = RetryPolicy(base=0.5, cap=4.0, rand=lambda: 0.5)
    assert half.delay(2) == 1.0


def test_retry_after_wins_over_backoff_and_is_capped() -> None:
    policy = RetryPolicy(max_retry_after=30.0, rand=lambda: 1.0)
    assert policy.delay(0, retry_after=7.0) == 7.0
    assert policy.delay(3, retry_after=600.0) == 30.0
    assert policy.delay(0, retry_after=-5.0) == 0.0


def test_attempts_bound_the_retries() -> None:
    policy = RetryPolicy(attempts=3)
    assert [policy.should_retry(n) for n in range(3)] == [True, True, False]


def test_retry_after_header_as_seconds_or_http_date() -> None:
    assert parse_retry_after("12") == 12.0
    now = 1_796_126_400.0  # 2026-12-01T12:00:00Z
    assert parse_retry_after("Tue, 01 Dec 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Tue, 01 Dec 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_limits_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("requests_per_second = 5\ndaily_request_budget = 10000\n")
    settings = load_settings({}, env={}, path=config)
    limiter = limiter_from(settings)
    assert (limiter.per_second, limiter.daily) == (5.0, 10_000)


@pytest.mark.parametrize(
    "line", ["requests_per_second = -1", "daily_request_budget = 1.5"]
)
def test_bad_limits_in_the_config_file_are_refused(tmp_path: Path, line: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(line + "\n")
    with pytest.raises(ConfigError):
        load_settings({}, env={}, path=config)


def test_redis_source_charges_every_command_of_a_pipeline(
    redis_url: str, rclient: redis.Redis
) -> None:
    push_like_worker(rclient, read_jsonl("12-duplicate-id.jsonl"))
    push_like_worker(rclient, read_jsonl("05-multiline-stack.jsonl"))
    keys = len(list(rclient.scan_iter(match="logs:*")))
    limiter = RateLimiter(per_second=0)
    source = RedisSource(redis_url, limiter=limiter)
    try:
        list(source.read(ReadRequest(), threading.Event()))
    finally:
        source.close()
    # One SCAN page, one LLEN and one LRANGE per key.
    assert limiter.figures().used_total == 1 + 2 * keys


def test_redis_sync_stops_cleanly_at_the_daily_budget(
    redis_url: str, rclient: redis.Redis
) -> None:
    push_like_worker(rclient, read_jsonl("05-multiline-stack.jsonl"))
    source = RedisSource(redis_url, limiter=RateLimiter(per_second=0, daily=2))
    try:
        with pytest.raises(BudgetExhausted):
            list(source.read(ReadRequest(), threading.Event()))
    finally:
        source.close()


def test_the_ledger_carries_todays_spending_into_the_next_run(tmp_path: Path) -> None:
    clock = FakeClock()
    ledger = UsageLedger(tmp_path / "state" / "requests.json")
    first = RateLimiter(0, 100, clock=clock, ledger=ledger)
    first.reserve(30)
    first.flush()
    second = RateLimiter(0, 100, clock=clock, ledger=ledger)
    assert second.figures().used_today == 30
    with pytest.raises(BudgetExhausted):
        second.reserve(71)
    clock.now += SECONDS_PER_DAY
    assert RateLimiter(0, 100, clock=clock, ledger=ledger).figures().used_today == 0


@pytest.mark.parametrize("text", ["{not json", '{"day": "x", "used": 5}', "[1]"])
def test_an_unreadable_ledger_counts_as_nothing_spent(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "requests.json"
    path.write_text(text)
    clock = FakeClock()
    assert RateLimiter(0, 10, clock=clock, ledger=UsageLedger(path)).reserve(10) == 0


def test_a_retry_pause_ends_at_once_when_cancelled() -> None:
    cancel = threading.Event()
    cancel.set()
    assert RetryPolicy().pause(60.0, cancel) is True
    assert RetryPolicy().pause(0.0, threading.Event()) is False
