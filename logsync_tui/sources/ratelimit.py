"""The one rate limiter and retry policy every source shares.

Hosted Redis plans bill per command and the logging Worker has its own quota,
so every request logsync makes passes one `RateLimiter`: a token bucket caps
requests (round trips) per second and a daily budget caps what is spent per
UTC day. A Redis pipeline is one round trip but costs the budget one request
per command in it, as the bill counts them.

Clock, sleep and randomness are injected, so tests run without waiting.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from logsync_tui.config import Settings
from logsync_tui.errors import SourceError

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
FREE_TIER_DAILY = 10_000
"""Commands a day on the free tier of common hosted Redis plans."""

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class BudgetExhausted(SourceError):
    """The daily request budget would be exceeded by the next request."""

    title = "request budget"


@dataclass(frozen=True)
class LimiterFigures:
    """What the limiter allows and what was spent, for stats and `--json`."""

    requests_per_second: float
    daily_budget: int
    used_today: int
    used_total: int

    @property
    def remaining_today(self) -> int | None:
        """Requests left today, or None when there is no daily budget."""
        if not self.daily_budget:
            return None
        return max(0, self.daily_budget - self.used_today)


class RateLimiter:
    """A token bucket (round trips per second) plus a daily request budget.

    `per_second` of 0 turns the bucket off; `daily` of 0 turns the budget
    off. Tokens are reserved up front: a caller finding the bucket empty
    waits for its token, and later callers queue behind it.
    """

    def __init__(
        self,
        per_second: float = 50.0,
        daily: int = 0,
        *,
        burst: float | None = None,
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        ledger: UsageLedger | None = None,
    ) -> None:
        if per_second < 0 or daily < 0:
            raise ValueError("rate limits cannot be negative")
        self.per_second = per_second
        self.daily = daily
        self.burst = burst if burst is not None else max(1.0, per_second)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._last = clock()
        self._day = self._day_of(self._last)
        self._ledger = ledger
        self._used_today = ledger.load(self._day) if ledger else 0
        self._used_total = 0

    @staticmethod
    def _day_of(moment: float) -> int:
        return int(moment // SECONDS_PER_DAY)

    def reserve(self, cost: int = 1) -> float:
        """Spend one round trip carrying `cost` requests; return the wait.

        Raises BudgetExhausted, spending nothing, when today's budget is short.
        """
        with self._lock:
            now = self._clock()
            self._roll_day(now)
            if self.daily and self._used_today + cost > self.daily:
                raise BudgetExhausted(
                    f"the next request would pass today's budget of "
                    f"{self.daily:,} requests ({self._used_today:,} used); "
                    "raise daily_request_budget or wait for 00:00 UTC"
                )
            self._used_today += cost
            self._used_total += cost
            return self._take_token(now)

    def _roll_day(self, now: float) -> None:
        day = self._day_of(now)
        if day != self._day:
            self._day, self._used_today = day, 0

    def _take_token(self, now: float) -> float:
        if not self.per_second:
            return 0.0
        elapsed = max(0.0, now - self._last)
        self._last = max(self._last, now)
        self._tokens = min(self.burst, self._tokens + elapsed * self.per_second)
        self._tokens -= 1
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.per_second

    def acquire(self, cost: int = 1) -> None:
        """Spend one round trip of `cost` requests, sleeping until it may go."""
        wait = self.reserve(cost)
        if wait > 0:
            log.debug("rate limiter: waiting %.3fs for %d requests", wait, cost)
            self._sleep(wait)

    def flush(self) -> None:
        """Write today's spending to the ledger, if there is one."""
        if self._ledger is not None:
            with self._lock:
                day, used = self._day, self._used_today
            self._ledger.save(day, used)

    def figures(self) -> LimiterFigures:
        """The limits and what has been spent so far."""
        with self._lock:
            self._roll_day(self._clock())
            return LimiterFigures(
                requests_per_second=self.per_second,
                daily_budget=self.daily,
                used_today=self._used_today,
                used_total=self._used_total,
            )


class UsageLedger:
    """Requests spent on one UTC day, kept in a small JSON file between runs.

    Two processes running at once each write their own total: the last one
    to finish wins, so the day's count can come out low.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, day: int) -> int:
        """Requests already spent on `day` (0 for another day or no file)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return 0
        if not isinstance(data, dict) or data.get("day") != day:
            return 0
        used = data.get("used")
        return used if isinstance(used, int) and used >= 0 else 0

    def save(self, day: int, used: int) -> None:
        """Record `used` requests for `day`; a failure is logged, not raised."""
        temp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps({"day": day, "used": used}), encoding="utf-8")
            temp.replace(self.path)
        except OSError as exc:
            log.warning("cannot record request usage in %s: %s", self.path, exc)


RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; `Retry-After` wins when given."""

    attempts: int = 4
    """Tries in all, the first one included."""
    base: float = 0.5
    cap: float = 8.0
    max_retry_after: float = 60.0
    statuses: frozenset[int] = RETRY_STATUSES
    sleep: Sleep | None = field(default=None, compare=False)
    """Injected by tests; by default waits end early when a cancel is set."""
    rand: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (0 is the first)."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_retry_after)
        return self.rand() * min(self.cap, self.base * 2.0**attempt)

    def pause(self, seconds: float, cancel: threading.Event | None = None) -> bool:
        """Wait before a retry; True when `cancel` was set meanwhile."""
        if self.sleep is not None:
            self.sleep(seconds)
        elif cancel is not None:
            return cancel.wait(seconds)
        else:
            time.sleep(seconds)
        return cancel is not None and cancel.is_set()

    def should_retry(self, attempt: int) -> bool:
        """True while tries remain after try number `attempt`."""
        return attempt + 1 < self.attempts


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds named by a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    moment = time.time() if now is None else now
    return max(0.0, when.timestamp() - moment)


def limiter_from(settings: Settings, ledger: Path | None = None) -> RateLimiter:
    """The shared limiter built from `requests_per_second` and the daily budget.

    With `ledger`, today's spending carries over from earlier runs.
    """
    return RateLimiter(
        per_second=float(settings.requests_per_second),
        daily=settings.daily_request_budget,
        ledger=UsageLedger(ledger) if ledger is not None else None,
    )
