"""Buffer statistics without importing anything: what the buffer holds right now.

From Redis the figures come from reading every key; through the Worker only
from `GET /health` and `GET /traces/recent` (two requests), so per-entry
breakdowns stay empty there.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from logsync_tui.errors import SourceError
from logsync_tui.sources.base import ReadRequest, decode_elements
from logsync_tui.sources.ratelimit import RateLimiter
from logsync_tui.sources.redis import SCAN_COUNT, RedisSource
from logsync_tui.sources.worker import CAP_WARNING, Health, WorkerSource
from logsync_tui.storage.summary import EntryAggregator

EXPIRY_WARNING_SECONDS = 600


@dataclass
class BufferStats:
    """A summary of the buffer, as the Stats screen and `stats --json` show it."""

    source: str
    server_version: str = "?"
    used_memory: str = "?"
    latency_ms: float = 0.0
    keys: int = 0
    entries: int = 0
    traces: int = 0
    users: int = 0
    malformed: int = 0
    by_system: dict[str, int] = field(default_factory=dict)
    by_level: dict[str, int] = field(default_factory=dict)
    soonest_expiry_seconds: int | None = None
    keys_without_ttl: int = 0
    expiring_soon_entries: int = 0
    expiring_soon_keys: int = 0
    per_minute: list[tuple[int, int]] = field(default_factory=list)
    recent_traces: list[dict[str, Any]] = field(default_factory=list)
    bad_keys: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    kind: str = "redis"
    worker: dict[str, Any] | None = None
    """What the Worker's /health reported, secrets masked."""
    cost: dict[str, Any] = field(default_factory=dict)
    """Requests a full sync will cost, and the limiter's figures so far."""
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The stats as a JSON-ready dict."""
        return asdict(self)


def buffer_stats(
    source: RedisSource | WorkerSource,
    cancel: threading.Event | None = None,
    worker: WorkerSource | None = None,
) -> BufferStats:
    """Summarise the buffer from either source; nothing is written anywhere.

    `worker`, when Redis is the source, adds the Worker's health beside.
    """
    if isinstance(source, WorkerSource):
        return worker_stats(source)
    out = redis_stats(source, cancel)
    if worker is not None:
        add_worker_health(out, worker)
        out.cost = cost_figures(out.cost["sync_requests"], source.limiter)
    return out


def redis_stats(
    source: RedisSource, cancel: threading.Event | None = None
) -> BufferStats:
    """Scan the buffer in Redis and summarise it."""
    cancel = cancel or threading.Event()
    started = time.perf_counter()
    out = BufferStats(source=source.describe())
    info = source.server_info()
    out.server_version, out.used_memory = info.version, info.used_memory
    out.latency_ms = round(info.latency_ms, 2)
    keys = source.scan_keys(cancel)
    scan = source.key_ttls(keys)
    out.keys = len(scan.lists)
    out.bad_keys = [{"key": b.key, "reason": b.reason} for b in scan.bad]
    _ttl_figures(out, scan.lists)
    aggregator = EntryAggregator()
    names = tuple(k.key[len("logs:") :] for k in scan.lists)
    for chunk in source.read(ReadRequest(traces=names), cancel):
        if not chunk.pieces:
            continue
        elements = [e for p in chunk.pieces for e in p.elements]
        keys_col = [p.key for p in chunk.pieces for _ in p.elements]
        aggregator.add(
            pa.table({"source_key": keys_col, "raw": decode_elements(elements).strings})
        )
    agg = aggregator.result()
    out.entries, out.malformed, out.users = agg.entries, agg.malformed, agg.users
    out.traces = agg.traces_with_entries
    out.by_system, out.by_level = agg.by_system, agg.by_level
    out.per_minute, out.recent_traces = agg.per_minute, agg.recent_traces
    out.seconds = round(time.perf_counter() - started, 3)
    cost = redis_sync_cost([k.length for k in scan.lists], len(scan.bad))
    out.cost = cost_figures(cost, source.limiter)
    return out


def redis_sync_cost(lengths: list[int], bad_keys: int) -> int:
    """Commands a full sync from Redis costs: SCAN, LLEN, LRANGE, TYPE, checks."""
    keys = len(lengths) + bad_keys
    scans = math.ceil(keys / SCAN_COUNT) + 1
    lranges = sum(math.ceil(n / 50_000) for n in lengths)
    return scans + keys + lranges + bad_keys + len(lengths)


def cost_figures(sync_requests: int, limiter: RateLimiter) -> dict[str, Any]:
    """What a sync will cost beside what the limiter allows and has spent."""
    figures = limiter.figures()
    return {
        "sync_requests": sync_requests,
        "used_today": figures.used_today,
        "used_total": figures.used_total,
        "daily_budget": figures.daily_budget or None,
        "remaining_today": figures.remaining_today,
        "requests_per_second": figures.requests_per_second or None,
    }


def worker_stats(source: WorkerSource) -> BufferStats:
    """The buffer as the Worker describes it: /health, then /traces/recent."""
    started = time.perf_counter()
    out = BufferStats(source=source.describe(), kind="worker")
    health = source.health()
    out.server_version = health.service
    out.latency_ms = health.latency_ms
    out.worker = worker_summary(health)
    out.notes.extend(health.problems)
    try:
        listing = source.recent()
    except SourceError as exc:
        if health.healthy:
            raise
        out.notes.append(f"the Worker reports Redis {health.redis_status}: {exc}")
        listing = None
    if listing is not None:
        out.notes.extend(listing.problems)
        if listing.full:
            out.notes.append(CAP_WARNING)
        out.recent_traces = listing.traces
        out.keys = out.traces = len(listing.traces)
        out.entries = sum(t["logCount"] for t in listing.traces)
    out.cost = cost_figures(1 + out.keys, source.limiter)
    out.seconds = round(time.perf_counter() - started, 3)
    return out


def add_worker_health(out: BufferStats, source: WorkerSource) -> None:
    """Beside Redis figures, what the Worker also configured says of itself."""
    try:
        health = source.health()
    except SourceError as exc:
        out.notes.append(f"Worker {source.describe()}: {exc.cause}")
        return
    out.worker = worker_summary(health)
    out.notes.extend(health.problems)


def worker_summary(health: Health) -> dict[str, Any]:
    """The parts of a Worker's /health answer the Stats screen shows."""
    return {
        "http_status": health.http_status,
        "status": health.status,
        "service": health.service,
        "redis": health.redis_status,
        "redis_url": health.redis_url,
        "ttl_seconds": health.ttl_seconds,
        "rate_limiter": health.components.get("rate_limiter"),
        "log_processor": health.components.get("log_processor"),
        "cost_model": health.cost_model,
    }


def _ttl_figures(out: BufferStats, lists: list[Any]) -> None:
    ttls = [k.ttl for k in lists if k.ttl >= 0]
    out.keys_without_ttl = sum(1 for k in lists if k.ttl < 0)
    out.soonest_expiry_seconds = min(ttls) if ttls else None
    soon = [k for k in lists if 0 <= k.ttl <= EXPIRY_WARNING_SECONDS]
    out.expiring_soon_keys = len(soon)
    out.expiring_soon_entries = sum(k.length for k in soon)


def worker_lines(stats: BufferStats) -> list[str]:
    """The first lines of `logsync stats` when the Worker is the source."""
    worker = stats.worker or {}
    ttl = worker.get("ttl_seconds")
    return [
        worker_health_line(f"source      {stats.source} ", worker)
        + f", {stats.latency_ms:.1f} ms",
        f"entries     {stats.entries:,} in {stats.traces:,} traces listed by the "
        f"Worker (at most 50); entries kept {ttl if ttl is not None else '?'}s",
    ]


def worker_health_line(head: str, worker: dict[str, Any]) -> str:
    """One line on the Worker's health after `head`."""
    return (
        f"{head:<11} ({worker.get('service')} {worker.get('status')}, "
        f"HTTP {worker.get('http_status')}, redis {worker.get('redis')})"
    )


def cost_line(cost: dict[str, Any]) -> str:
    """What a sync will cost and what was spent, as one line."""
    budget = cost.get("daily_budget")
    limit = f"of {budget:,} a day" if budget else "no daily budget"
    rate = cost.get("requests_per_second")
    return (
        f"cost        a full sync: about {cost.get('sync_requests', 0):,} requests; "
        f"used today {cost.get('used_today', 0):,} {limit}; "
        f"{f'{rate:g}/s' if rate else 'no per-second limit'}"
    )
