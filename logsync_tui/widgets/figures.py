"""Counts, sizes, durations and rates written the way the screens show them."""

from __future__ import annotations

from datetime import UTC, datetime

_SIZE_UNITS = ("B", "KB", "MB", "GB", "TB")


def count(value: int) -> str:
    """A whole number with thousands separators."""
    return f"{value:,}"


def plural(value: int, one: str, many: str | None = None) -> str:
    """`1 trace`, `3 traces`: the count and the word that agrees with it."""
    word = one if value == 1 else (many or f"{one}s")
    return f"{count(value)} {word}"


def size(num_bytes: int) -> str:
    """A byte count in the largest unit that keeps it at or above 1."""
    value = float(num_bytes)
    for unit in _SIZE_UNITS:
        if value < 1024 or unit == _SIZE_UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{num_bytes} B"


def duration(seconds: float | None) -> str:
    """A duration such as `45s`, `4m 05s` or `1h 02m`; `?` when unknown."""
    if seconds is None or seconds < 0:
        return "?"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def rate(per_second: float) -> str:
    """Entries per second, rounded to what a person can read."""
    if per_second >= 10_000:
        return f"{per_second / 1000:,.0f}k/s"
    return f"{per_second:,.0f}/s"


def clock_time(timestamp_ms: int | None) -> str:
    """Epoch milliseconds as `HH:MM:SS` UTC; `-` when there is none."""
    if timestamp_ms is None:
        return "-"
    moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return moment.strftime("%H:%M:%S")


def date_time(timestamp_ms: int | None) -> str:
    """Epoch milliseconds as `YYYY-MM-DD HH:MM` UTC; `-` when there is none."""
    if timestamp_ms is None:
        return "-"
    moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def ago(timestamp_ms: int | None, now_ms: int) -> str:
    """How long before `now_ms` a moment was, e.g. `3m 10s ago`."""
    if timestamp_ms is None:
        return "-"
    return f"{duration(max(0, now_ms - timestamp_ms) / 1000)} ago"
