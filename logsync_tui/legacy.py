"""Importing the old Convex logging tables from a snapshot export.

An export is a ZIP (or its unzipped directory) with one folder per table
holding `documents.jsonl`, or a single `documents.jsonl` named with
`--table`. Rows of `log_queue` and `recent_log_entries` are mapped to the
Worker format and go through the same bulk ingest as a sync, as one run of
kind `import`: dedupe, quarantine and undo behave exactly as for a sync.

A legacy row's id is derived from its log fields (trace, user, system, level,
message, timestamp, stack, arguments), not from its Convex `_id`: the old
pipeline copied a row from `log_queue` into `recent_log_entries` under a new
`_id`, so only the content says that two documents are the same log line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from logsync_tui.errors import LogsyncError, SyncCancelled, UsageError
from logsync_tui.storage import Store
from logsync_tui.storage import runs as run_store
from logsync_tui.storage.ingest import (
    BATCH_SCHEMA,
    LEVELS,
    WATERMARK_SCHEMA,
    BatchCounts,
    Scope,
    ingest_batch,
)
from logsync_tui.storage.legacy import quarantine_rows

log = logging.getLogger(__name__)

LOG_TABLES = ("log_queue", "recent_log_entries")
DEPRECATED_TABLES = ("rate_limit_state", "message_fingerprints")
SYSTEM_MAP = {"browser": "browser", "worker": "worker", "backend": "convex"}
DOCUMENTS = "documents.jsonl"
KEY_PREFIX = "legacy:"
MAX_REPORTED = 200
"""Rejected rows kept in the result; every one is in the quarantine table."""


class LegacyError(LogsyncError):
    """The export could not be read."""

    title = "import"


@dataclass(frozen=True)
class TableFile:
    """One table of an export: its name, where its documents are, their size."""

    name: str
    opener: Callable[[], AbstractContextManager[IO[bytes]]]
    size: int


@dataclass
class Rejection:
    """A legacy row that could not be mapped, as quarantined."""

    table: str
    line: int
    reason: str


@dataclass
class TableResult:
    """What the import did with one log table."""

    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    malformed: int = 0


@dataclass
class ImportResult:
    """What one import run did, as `import-legacy --json` prints it."""

    run_id: int
    source: str
    status: str = "running"
    tables: dict[str, TableResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def totals(self) -> TableResult:
        """The counts of every log table added up."""
        total = TableResult()
        for part in self.tables.values():
            for name in total.__dataclass_fields__:
                setattr(total, name, getattr(total, name) + getattr(part, name))
        return total

    def as_json(self) -> dict[str, Any]:
        """The result as a JSON-ready dict."""
        data = asdict(self)
        data["totals"] = asdict(self.totals)
        return data


@dataclass(frozen=True)
class ImportProgress:
    """Where a running import is: bytes of log documents read of the total."""

    table: str
    bytes_done: int
    bytes_total: int
    rows: int
    """Rows of every log table read so far."""
    elapsed: float

    def describe(self) -> str:
        """One line for a terminal: table, share of bytes read, rate."""
        share = self.bytes_done * 100 / self.bytes_total if self.bytes_total else 100
        rate = self.rows / self.elapsed if self.elapsed > 0 else 0.0
        return f"importing {self.table}: {share:5.1f}% read, {rate:,.0f} rows/s"


@dataclass
class ImportOptions:
    """Knobs of an import that are not its input."""

    batch_rows: int = 50_000
    policy: str = "keep"
    progress: Callable[[ImportProgress], None] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)


def find_tables(path: Path, table: str | None = None) -> list[TableFile]:
    """The tables of an export at `path` (ZIP, directory or one JSONL file)."""
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    if path.is_dir():
        return _dir_tables(path)
    if zipfile.is_zipfile(path):
        return _zip_tables(path)
    if path.suffix.lower() == ".zip":
        raise LegacyError(f"{path} is not a readable ZIP file")
    name = table or (path.parent.name if path.name == DOCUMENTS else None)
    if not name:
        raise UsageError(f"{path} is one JSONL file: name its table with --table")
    return [TableFile(name, lambda: path.open("rb"), path.stat().st_size)]


def _dir_tables(root: Path) -> list[TableFile]:
    found = []
    for doc in sorted(root.rglob(DOCUMENTS)):
        found.append(TableFile(doc.parent.name, _file_opener(doc), doc.stat().st_size))
    if not found:
        raise LegacyError(f"no */{DOCUMENTS} under {root}: not a Convex export")
    return found


def _file_opener(doc: Path) -> Callable[[], AbstractContextManager[IO[bytes]]]:
    return lambda: doc.open("rb")


def _zip_tables(path: Path) -> list[TableFile]:
    with zipfile.ZipFile(path) as archive:
        infos = [i for i in archive.infolist() if i.filename.endswith(DOCUMENTS)]
    found = []
    for info in sorted(infos, key=lambda i: i.filename):
        parts = info.filename.rstrip("/").split("/")
        if len(parts) < 2:
            continue
        found.append(TableFile(parts[-2], _zip_opener(path, info), info.file_size))
    if not found:
        raise LegacyError(f"{path} holds no */{DOCUMENTS}: not a Convex export")
    return found


def _zip_opener(
    path: Path, info: zipfile.ZipInfo
) -> Callable[[], AbstractContextManager[IO[bytes]]]:
    def opener() -> AbstractContextManager[IO[bytes]]:
        archive = zipfile.ZipFile(path)
        return _ZipMember(archive, archive.open(info))

    return opener


class _ZipMember(AbstractContextManager[IO[bytes]]):
    """A member stream that closes its archive with it."""

    def __init__(self, archive: zipfile.ZipFile, stream: IO[bytes]) -> None:
        self.archive = archive
        self.stream = stream

    def __enter__(self) -> IO[bytes]:
        return self.stream

    def __exit__(self, *exc: object) -> None:
        self.stream.close()
        self.archive.close()


def map_document(line: str) -> tuple[str | None, str | None]:
    """(Worker-format JSON, None) for a mappable row, else (None, reason)."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None, "not valid JSON"
    if not isinstance(doc, dict):
        return None, f"JSON {_JSON_TYPES.get(type(doc), 'value')} is not an object"
    fields, reason = _log_fields(doc)
    if fields is None:
        return None, reason
    raw_args = doc.get("raw_args")
    entry = {"id": "legacy_" + _content_id(fields, raw_args), **fields}
    if raw_args is not None:
        entry["context"] = {"raw_args": raw_args}
    return _ENCODE(entry), None


_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number"}
_JSON_TYPES.update({bool: "boolean", type(None): "null"})


def _log_fields(doc: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    checks = (
        _text(doc, "trace_id"),
        _system(doc),
        _level(doc),
        _text(doc, "message"),
        _timestamp(doc),
    )
    for _, problem in checks:
        if problem:
            return None, problem
    trace, system, level, message, ts = (value for value, _ in checks)
    fields: dict[str, Any] = {"trace_id": trace, "system": system, "level": level}
    fields.update(message=message, timestamp=ts)
    for old, new in (("user_id", "user_id"), ("stack_trace", "stack")):
        value = doc.get(old)
        if value not in (None, ""):
            fields[new] = value if isinstance(value, str) else json.dumps(value)
    return fields, None


def _text(doc: dict[str, Any], name: str) -> tuple[Any, str | None]:
    value = doc.get(name)
    if value is None or value == "":
        return None, f"missing {name}"
    if not isinstance(value, str):
        return None, f"{name} is not a string"
    return value, None


def _system(doc: dict[str, Any]) -> tuple[Any, str | None]:
    area, problem = _text(doc, "system_area")
    if problem:
        return None, problem
    mapped = SYSTEM_MAP.get(area.lower())
    if mapped is None:
        return None, f"unknown system_area {area[:40]}"
    return mapped, None


def _level(doc: dict[str, Any]) -> tuple[Any, str | None]:
    level, problem = _text(doc, "level")
    if problem:
        return None, problem
    if level.lower() not in LEVELS:
        return None, f"unknown level {level[:40]}"
    return level.lower(), None


def _timestamp(doc: dict[str, Any]) -> tuple[Any, str | None]:
    value = doc.get("timestamp")
    if value is None:
        value = doc.get("_creationTime")
    if value is None:
        return None, "missing timestamp"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"unreadable timestamp {str(value)[:40]}"
    if isinstance(value, float) and abs(value) >= 1e11:
        return round(value), None
    return value, None


_ENCODE = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":")
).encode
_IDENTITY = ("trace_id", "user_id", "system", "level", "message", "timestamp")


def _content_id(fields: dict[str, Any], raw_args: Any) -> str:
    """A hash of the eight fields that make a legacy row the same log line."""
    key = [fields.get(name) for name in _IDENTITY]
    key += [fields.get("stack"), raw_args]
    return hashlib.blake2b(_ENCODE(key).encode(), digest_size=12).hexdigest()


def import_export(
    store: Store,
    path: Path,
    table: str | None = None,
    options: ImportOptions | None = None,
) -> ImportResult:
    """Import the log tables of the export at `path` as one recorded run."""
    opts = options or ImportOptions()
    tables = find_tables(path, table)
    con = store.cursor()
    run_store.close_abandoned_runs(con)
    source = f"{KEY_PREFIX}{path.name}"
    names = sorted({t.name for t in tables})
    run_id = run_store.start_run(con, "import", {"tables": names}, source)
    result = ImportResult(run_id, source)
    try:
        _Importer(store, tables, opts, result).run()
    except (SyncCancelled, KeyboardInterrupt):
        run_store.finish_run(con, run_id, "cancelled", error="cancelled by the user")
        result.status = "cancelled"
        raise
    except Exception as exc:
        text = exc.one_line() if isinstance(exc, LogsyncError) else repr(exc)
        run_store.finish_run(con, run_id, "failed", error=text)
        result.status = "failed"
        raise
    run_store.finish_run(con, run_id, "ok", verified=True)
    result.status = "ok"
    log.info("run %d: import done: %s", run_id, result.as_json())
    return result


class _Importer:
    """One import run: streams each log table in batches into the store."""

    def __init__(
        self,
        store: Store,
        tables: list[TableFile],
        opts: ImportOptions,
        result: ImportResult,
    ) -> None:
        self.con = store.cursor()
        self.tables = tables
        self.opts = opts
        self.result = result
        self.started = time.perf_counter()
        self.bytes_total = sum(t.size for t in tables if t.name in LOG_TABLES)
        self.bytes_done = 0

    def run(self) -> None:
        order = {name: i for i, name in enumerate(LOG_TABLES)}
        for table in sorted(self.tables, key=lambda t: order.get(t.name, 99)):
            if table.name in LOG_TABLES:
                self._read(table)
            else:
                self.result.skipped[table.name] = _skip_reason(table.name)
        self.result.seconds = round(time.perf_counter() - self.started, 3)

    def _read(self, table: TableFile) -> None:
        try:
            self._import_table(table)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise LegacyError(
                f"cannot read {table.name} ({exc}); the batches before it are kept"
            ) from exc

    def _import_table(self, table: TableFile) -> None:
        counts = self.result.tables.setdefault(table.name, TableResult())
        batch = _Batch(f"{KEY_PREFIX}{table.name}")
        with table.opener() as stream:
            for number, line in enumerate(stream, start=1):
                self.bytes_done += len(line)
                if line.strip():
                    self._take(batch, table.name, number, line)
                if len(batch) >= self.opts.batch_rows:
                    self._flush(batch, counts, table.name)
        self._flush(batch, counts, table.name)

    def _take(self, batch: _Batch, table: str, number: int, line: bytes) -> None:
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        raw_bytes = None if "\ufffd" not in text else line.rstrip(b"\r\n")
        mapped, reason = map_document(text)
        if mapped is not None:
            batch.add(number, mapped)
            return
        batch.reject(number, text, raw_bytes, reason or "unmappable")
        if len(self.result.rejected) < MAX_REPORTED:
            self.result.rejected.append(Rejection(table, number, reason or ""))

    def _flush(self, batch: _Batch, counts: TableResult, table: str) -> None:
        if self.opts.cancel.is_set():
            raise SyncCancelled("the import was cancelled; committed batches are kept")
        rows, rejects = batch.take()
        counts.rows += rows.num_rows + rejects.num_rows
        if rejects.num_rows:
            counts.malformed += quarantine_rows(self.con, self.result.run_id, rejects)
        if rows.num_rows:
            done = ingest_batch(
                self.con, self.result.run_id, rows, _NO_MARKS, Scope(), self.opts.policy
            )
            _add(counts, done)
        self._report(table)

    def _report(self, table: str) -> None:
        if self.opts.progress is None:
            return
        elapsed = time.perf_counter() - self.started
        rows = self.result.totals.rows
        self.opts.progress(
            ImportProgress(table, self.bytes_done, self.bytes_total, rows, elapsed)
        )


_NO_MARKS = WATERMARK_SCHEMA.empty_table()


def _add(counts: TableResult, done: BatchCounts) -> None:
    counts.inserted += done.inserted
    counts.duplicates += done.duplicates
    counts.conflicts += done.conflicts
    counts.malformed += done.malformed


def _skip_reason(name: str) -> str:
    if name in DEPRECATED_TABLES:
        return "deprecated table of the old logging: it held no logs"
    if name.startswith("_"):
        return "Convex system table"
    return "not a table of the old logging"


class _Batch:
    """Rows of one table waiting to be ingested, and rows to quarantine."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.clear()

    def clear(self) -> None:
        """Forget every pending row."""
        self.lines: list[int] = []
        self.raws: list[str] = []
        self.bad_lines: list[int] = []
        self.bad_raws: list[str] = []
        self.bad_bytes: list[bytes | None] = []
        self.reasons: list[str] = []

    def __len__(self) -> int:
        return len(self.lines) + len(self.bad_lines)

    def add(self, line: int, raw: str) -> None:
        """Queue one mapped row for ingest."""
        self.lines.append(line)
        self.raws.append(raw)

    def reject(self, line: int, raw: str, raw_bytes: bytes | None, reason: str) -> None:
        """Queue one row for the quarantine."""
        self.bad_lines.append(line)
        self.bad_raws.append(raw)
        self.bad_bytes.append(raw_bytes)
        self.reasons.append(reason)

    def take(self) -> tuple[pa.Table, pa.Table]:
        """(rows to ingest, rows to quarantine) as Arrow tables; then clear."""
        keys = pa.array([self.key] * len(self.lines), type=pa.string())
        rows = pa.Table.from_arrays(
            [
                keys,
                pa.array(self.lines, type=pa.int64()),
                pa.array(self.raws, type=pa.string()),
                pa.nulls(len(self.lines), type=pa.binary()),
            ],
            schema=BATCH_SCHEMA,
        )
        rejects = pa.table(
            {
                "source_key": pa.array([self.key] * len(self.bad_lines), pa.string()),
                "source_index": pa.array(self.bad_lines, type=pa.int64()),
                "raw": pa.array(self.bad_raws, type=pa.string()),
                "raw_bytes": pa.array(self.bad_bytes, type=pa.binary()),
                "reason": pa.array(self.reasons, type=pa.string()),
            }
        )
        self.clear()
        return rows, rejects


def format_import(result: ImportResult) -> str:
    """The result as the lines `import-legacy` prints."""
    t = result.totals
    lines = [
        f"run {result.run_id}: {t.rows:,} legacy rows in {result.seconds:.2f}s: "
        f"{t.inserted:,} new, {t.duplicates:,} already present, "
        f"{t.conflicts:,} conflicts, {t.malformed:,} quarantined"
    ]
    for name, part in result.tables.items():
        lines.append(
            f"  {name}: {part.rows:,} rows, {part.inserted:,} new, "
            f"{part.duplicates:,} already present, {part.malformed:,} quarantined"
        )
    for name, reason in result.skipped.items():
        lines.append(f"  skipped {name}: {reason}")
    for bad in result.rejected:
        lines.append(f"  quarantined {bad.table} line {bad.line}: {bad.reason}")
    hidden = t.malformed - len(result.rejected)
    if hidden > 0:
        lines.append(f"  ... and {hidden:,} more rows in the quarantine table")
    return "\n".join(lines)
