"""Buffer statistics without importing anything: what Redis holds right now."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from logsync_tui.sources.base import ReadRequest, decode_elements
from logsync_tui.sources.redis import RedisSource
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

    def as_json(self) -> dict[str, Any]:
        """The stats as a JSON-ready dict."""
        return asdict(self)


def buffer_stats(
    source: RedisSource, cancel: threading.Event | None = None
) -> BufferStats:
    """Scan the buffer and summarise it; nothing is written anywhere."""
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
    return out


def _ttl_figures(out: BufferStats, lists: list[Any]) -> None:
    ttls = [k.ttl for k in lists if k.ttl >= 0]
    out.keys_without_ttl = sum(1 for k in lists if k.ttl < 0)
    out.soonest_expiry_seconds = min(ttls) if ttls else None
    soon = [k for k in lists if 0 <= k.ttl <= EXPIRY_WARNING_SECONDS]
    out.expiring_soon_keys = len(soon)
    out.expiring_soon_entries = sum(k.length for k in soon)
