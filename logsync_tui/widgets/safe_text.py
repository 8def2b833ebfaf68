"""Turning log strings into rich Text that is shown literally, never as markup.

Log text is data: brackets stay brackets, escape sequences and control
characters become visible symbols in one-line cells, and very long strings
are cut with a visible marker before any styling work is done on them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rich.text import Text

ELLIPSIS = "…"
CELL_SCAN_LIMIT = 2_000
"""A table cell never looks past this many characters of a string."""

_CONTROL_PICTURES = {code: chr(0x2400 + code) for code in range(32)}
_CONTROL_PICTURES[0x7F] = "\u2421"
_CONTROL_PICTURES.update({code: "\ufffd" for code in range(0x80, 0xA0)})
# Bidirectional overrides and isolates would reorder the rest of the line
# (and the columns after it): shown as a visible mark instead.
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_CONTROL_PICTURES.update({code: "\u2423" for code in _BIDI})
_DETAIL_CONTROLS = {
    code: pic for code, pic in _CONTROL_PICTURES.items() if chr(code) not in "\n\t"
}

LEVEL_STYLES = {
    "error": "bold red",
    "warn": "bold yellow",
    "info": "cyan",
    "log": "dim",
}
SYSTEM_STYLES = {
    "browser": "magenta",
    "convex": "green",
    "worker": "blue",
    "manual": "white",
}
MATCH_STYLE = "black on yellow"


def one_line(value: str | None, limit: int = CELL_SCAN_LIMIT) -> str:
    """`value` as a single visible line: controls shown as symbols, cut at `limit`."""
    if not value:
        return ""
    cut = len(value) > limit
    line = value[:limit].translate(_CONTROL_PICTURES)
    return line + ELLIPSIS if cut else line


def multi_line(value: str | None) -> str:
    """`value` with its line breaks kept and other controls shown as symbols."""
    if not value:
        return ""
    return value.replace("\r\n", "\n").replace("\r", "\n").translate(_DETAIL_CONTROLS)


def literal(value: str, style: str = "") -> Text:
    """A Text holding `value` exactly, with no markup or emoji processing."""
    return Text(value, style=style, no_wrap=False, end="")


def highlight(text: Text, search: str) -> Text:
    """Mark every case-insensitive occurrence of `search` in `text`."""
    if search:
        pattern = re.compile(re.escape(search), re.IGNORECASE)
        text.highlight_regex(pattern, MATCH_STYLE)
    return text


def cell(value: str | None, width: int, style: str = "", search: str = "") -> Text:
    """One table cell: a single line of at most `width` cells, `…` when cut."""
    text = highlight(Text(one_line(value), style=style, no_wrap=True, end=""), search)
    if text.cell_len > width:
        text.truncate(width, overflow="ellipsis")
    else:
        text.pad_right(width - text.cell_len)
    return text


def utc_time(timestamp_ms: int) -> str:
    """Epoch milliseconds as `YYYY-MM-DD HH:MM:SS.mmm` in UTC."""
    try:
        moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return str(timestamp_ms)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{timestamp_ms % 1000:03d}"
