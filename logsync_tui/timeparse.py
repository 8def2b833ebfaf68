"""Reading `15m`, `2h`, `7d` and ISO times the way every command accepts them."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from logsync_tui.errors import UsageError

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return int(time.time() * 1000)


def parse_age(text: str) -> int:
    """A duration such as `15m` or `7d`, in milliseconds."""
    match = _AGE.match(text)
    if not match:
        raise UsageError(f"{text!r} is not a duration like 30s, 15m, 2h, 7d or 1w")
    return int(float(match.group(1)) * _UNIT_MS[match.group(2).lower()])


def parse_time(text: str, now: int | None = None) -> int:
    """A point in time: a duration ago (`15m`), epoch ms, or ISO 8601 (UTC default)."""
    now = now_ms() if now is None else now
    if _AGE.match(text):
        return now - parse_age(text)
    if text.strip().isdigit():
        return int(text.strip())
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(
            f"{text!r} is not a time: use 15m, 2h, 1d, epoch ms or an ISO time"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def parse_range(
    since: str | None, until: str | None, now: int | None = None
) -> tuple[int | None, int | None]:
    """A `--since`/`--until` pair in ms; refuses a range that ends before it starts."""
    now = now_ms() if now is None else now
    start = parse_time(since, now) if since and since.strip() else None
    end = parse_time(until, now) if until and until.strip() else None
    if start is not None and end is not None and start > end:
        raise UsageError(
            f"the range is empty: since {iso_ms(start)} is after until {iso_ms(end)}"
        )
    return start, end


def iso_ms(ms: int | None) -> str:
    """Epoch ms as an ISO 8601 UTC string with milliseconds."""
    if ms is None:
        return ""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_age(ms: int) -> str:
    """Milliseconds as a duration in the largest whole unit: `14d`, `90m`."""
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_MS[unit]
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms / 1000:g}s"
