"""Which source a command or the app reads from: Redis first, else the Worker.

Every source opened here shares one rate limiter, so Redis commands and
Worker requests count against the same per-second rate and daily budget.
"""

from __future__ import annotations

from pathlib import Path

from logsync_tui.config import Settings
from logsync_tui.sources.ratelimit import RateLimiter, limiter_from
from logsync_tui.sources.redis import RedisSource
from logsync_tui.sources.worker import WorkerSource


def open_source(
    settings: Settings, ledger: Path | None = None
) -> RedisSource | WorkerSource | None:
    """Redis when a Redis URL is set, else the Worker, else None.

    `ledger` is the file that carries today's request count between runs.
    """
    limiter = limiter_from(settings, ledger)
    if settings.redis_url:
        return RedisSource(settings.redis_url, limiter=limiter)
    return worker_source(settings, limiter)


def worker_beside(
    settings: Settings, source: RedisSource | WorkerSource
) -> WorkerSource | None:
    """The Worker too, when both URLs are set and Redis is the source."""
    if isinstance(source, WorkerSource):
        return None
    return worker_source(settings, source.limiter)


def worker_source(settings: Settings, limiter: RateLimiter) -> WorkerSource | None:
    """The Worker named by the settings, sharing `limiter`; None without a URL."""
    if not settings.worker_url:
        return None
    return WorkerSource(
        settings.worker_url, token=settings.worker_token, limiter=limiter
    )
