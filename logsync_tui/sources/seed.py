"""Writing entries into Redis exactly as the Worker does (for demos and tests).

This is the only code of logsync that writes to Redis; a sync never does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import redis

from logsync_tui.errors import LogsyncError, UsageError
from logsync_tui.sources.base import KEY_PREFIX, batched, trace_key

WORKER_TTL_SECONDS = 3600


@dataclass
class SeedResult:
    """What a seed wrote."""

    entries: int
    traces: int


def load_jsonl(path: Path) -> dict[str, list[str]]:
    """Entries of a JSONL file by trace, in file order; unparsable lines kept as-is.

    A line that is not a JSON object with a trace_id goes to `logs:unparsed`
    unchanged, so malformed data can be seeded on purpose.
    """
    out: dict[str, list[str]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            out.setdefault("unparsed", []).append(line)
            continue
        if isinstance(entry, dict) and isinstance(entry.get("trace_id"), str):
            raw = json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
            out.setdefault(entry["trace_id"], []).append(raw)
        else:
            out.setdefault("unparsed", []).append(line)
    return out


def existing_log_keys(client: redis.Redis) -> int:
    """How many `logs:*` keys the server holds (stops at the first page)."""
    _, keys = client.scan(0, match=f"{KEY_PREFIX}*", count=1000)
    return len(keys)


def push(
    client: redis.Redis,
    traces: Mapping[str, Iterable[str]],
    *,
    ttl: int = WORKER_TTL_SECONDS,
    force: bool = False,
) -> SeedResult:
    """LPUSH each trace's entries (oldest first, so index 0 is the newest)."""
    if not force and existing_log_keys(client):
        raise UsageError(
            "this Redis already holds logs:* keys; pass --force to add to them"
        )
    entries = 0
    try:
        for group in batched(traces.items(), 200):
            pipe = client.pipeline(transaction=False)
            for trace_id, raws in group:
                values = list(raws)
                key = trace_key(trace_id)
                for part in batched(values, 1000):
                    pipe.lpush(key, *part)
                pipe.expire(key, ttl)
                entries += len(values)
            pipe.execute()
    except (redis.RedisError, OSError) as exc:
        raise LogsyncError(f"cannot write to Redis: {exc}", title="seed") from exc
    return SeedResult(entries=entries, traces=len(traces))
