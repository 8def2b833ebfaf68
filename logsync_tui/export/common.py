"""Pieces every export format shares: the counting sink, entry conversion and
the streamed lines that DuckDB builds (Python builds the redacted ones)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from logsync_tui.redact import Redactor
from logsync_tui.storage.export_queries import ISO_US_FORMAT, LINE_FIELDS
from logsync_tui.storage.queries import LogRow
from logsync_tui.timeparse import iso_ms

_FLUSH_AT = 1 << 16
# json.dumps writes \u001b, DuckDB's to_json \u001B: lines from both must match.
_ESCAPE = re.compile(r"\\(u00[0-9a-f]{2}|.)")


class Sink:
    """Writes text as UTF-8 to a binary stream, counting characters and bytes."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._parts: list[str] = []
        self._pending = 0
        self.chars = 0
        self.bytes = 0
        self.text_bytes = 0
        """Bytes of text only (a byte order mark is not text)."""

    def write(self, text: str) -> int:
        """Queue `text`; it reaches the stream in large blocks."""
        self._parts.append(text)
        self._pending += len(text)
        if self._pending >= _FLUSH_AT:
            self.flush()
        return len(text)

    def write_bytes(self, data: bytes) -> None:
        """Write bytes that are not text (a byte order mark)."""
        self.flush()
        self._out.write(data)
        self.bytes += len(data)

    def write_encoded(self, data: bytes | memoryview, chars: int) -> None:
        """Write text already encoded as UTF-8 (`chars` characters long)."""
        self.flush()
        self._out.write(data)
        self.chars += chars
        self.bytes += len(data)
        self.text_bytes += len(data)

    def flush(self) -> None:
        """Send everything queued to the stream."""
        if not self._parts:
            return
        text = "".join(self._parts)
        data = text.encode("utf-8")
        self._out.write(data)
        self.chars += len(text)
        self.bytes += len(data)
        self.text_bytes += len(data)
        self._parts.clear()
        self._pending = 0


def parse_context(text: str | None) -> Any:
    """The stored context as a JSON value (the text itself if it is not JSON)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def compact_json(value: Any) -> str:
    """JSON on one line, non-ASCII kept as is, escapes as DuckDB writes them."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if "\\u00" not in text:
        return text
    return _ESCAPE.sub(lambda m: "\\" + m.group(1)[:3] + m.group(1)[3:].upper(), text)


def context_text(text: str | None, red: Redactor) -> str | None:
    """Stored context text, redacted; unchanged byte for byte when nothing matched."""
    if text is None or not red.enabled:
        return text
    before = red.total
    redacted = red.value(parse_context(text))
    if red.total == before:
        return text
    return redacted if isinstance(redacted, str) else compact_json(redacted)


def iso_datetime(value: Any) -> Any:
    """A stored naive-UTC timestamp as ISO 8601 text; other values unchanged."""
    if isinstance(value, datetime):
        return value.strftime(ISO_US_FORMAT)
    return value


def entry_json(row: LogRow, red: Redactor) -> dict[str, Any]:
    """One entry with every stored field, ISO time beside the ms timestamp.

    Optional fields the entry never had are left out, as the Worker does;
    `raw_data` is left out because it repeats the fields unredacted.
    """
    entry: dict[str, Any] = {"id": row.id, "trace_id": row.trace_id}
    if row.user_id is not None:
        entry["user_id"] = red.text(row.user_id)
    entry["system"] = row.system
    entry["level"] = row.level
    entry["message"] = red.text(row.message)
    entry["timestamp"] = row.timestamp
    entry["time"] = iso_ms(row.timestamp)
    if row.context is not None:
        entry["context"] = red.value(parse_context(row.context))
    if row.stack is not None:
        entry["stack"] = red.text(row.stack)
    entry["synced_at"] = iso_datetime(row.synced_at)
    entry["sync_run_id"] = row.sync_run_id
    return entry


def json_line(row: LogRow, red: Redactor) -> str:
    """One entry as the JSON line (newline included) DuckDB builds, redacted."""
    return compact_json(entry_json(row, red)) + "\n"


def row_at(table: Any, index: int) -> LogRow:
    """Row `index` of an Arrow table holding `LINE_FIELDS`."""
    values = {name: table.column(name)[index].as_py() for name in LINE_FIELDS}
    return LogRow(raw_data="", **values)


def finished_lines(
    tables: Iterable[Any], make_line: Callable[[LogRow], str]
) -> Iterator[tuple[list[str], list[str]]]:
    """(lines, trace ids) per table; `make_line` fills the lines DuckDB left NULL."""
    for table in tables:
        lines = table.column("line").to_pylist()
        if None in lines:
            for i, line in enumerate(lines):
                if line is None:
                    lines[i] = make_line(row_at(table, i))
        yield lines, table.column("trace_id").to_pylist()


def write_lines(
    sink: Sink, tables: Iterable[Any], make_line: Callable[[LogRow], str]
) -> int:
    """Write every line of `tables` in order; returns how many.

    Runs of lines DuckDB finished go out as the Arrow buffer's bytes, never
    becoming Python strings; `make_line` fills the NULL ones.
    """
    count = 0
    for table in tables:
        column = table.column("line").combine_chunks()
        start = 0
        if column.null_count:
            for i in pc.indices_nonzero(pc.is_null(column)).to_pylist():
                _write_array(sink, column.slice(start, i - start))
                sink.write(make_line(row_at(table, i)))
                start = i + 1
        _write_array(sink, column.slice(start))
        count += len(column)
    return count


def _write_array(sink: Sink, array: Any) -> None:
    if not len(array):
        return
    if array.type != pa.string():
        sink.write("".join(array.to_pylist()))
        return
    offsets = memoryview(array.buffers()[1]).cast("i")
    first, last = offsets[array.offset], offsets[array.offset + len(array)]
    chars = pc.sum(pc.utf8_length(array)).as_py()
    sink.write_encoded(memoryview(array.buffers()[2])[first:last], chars)
