"""The sync engine: source chunks in, DuckDB batches out, one recorded run.

It knows nothing of Textual: progress goes to a plain callback and
cancellation comes in as a `threading.Event`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import chain, repeat
from typing import Any

import pyarrow as pa

from logsync_tui.errors import LogsyncError, SyncCancelled
from logsync_tui.sources.base import (
    KeyPiece,
    ReadChunk,
    ReadRequest,
    Source,
    decode_elements,
)
from logsync_tui.storage import Store
from logsync_tui.storage import runs as run_store
from logsync_tui.storage.db import SYNC_MEMORY_LIMIT, memory_limit
from logsync_tui.storage.ingest import BatchCounts, Scope, ingest_batch
from logsync_tui.storage.retention import apply_retention
from logsync_tui.storage.state import load_watermarks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncScope:
    """What a run takes: everything, named traces, users and/or a time range."""

    traces: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    since_ms: int | None = None
    until_ms: int | None = None
    full: bool = False
    """Ignore watermarks and read every list whole."""

    @property
    def filtered(self) -> bool:
        """True when entries are kept by user or time: lists are read whole."""
        return (
            bool(self.users) or self.since_ms is not None or self.until_ms is not None
        )

    def describe(self) -> dict[str, Any]:
        """The scope as plain data for the run record."""
        return {k: v for k, v in asdict(self).items() if v not in ((), None, False)}


@dataclass(frozen=True)
class SyncProgress:
    """Where a running sync is."""

    keys_done: int
    keys_total: int
    entries_read: int
    entries_inserted: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Entries read per second so far."""
        return self.entries_read / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left, estimated from the share of keys done."""
        if not self.keys_done or not self.keys_total:
            return None
        left = self.keys_total - self.keys_done
        return self.elapsed / self.keys_done * left


@dataclass
class SyncResult:
    """What a run did, as `sync --json` prints it."""

    run_id: int
    scope: dict[str, Any]
    source: str
    status: str = "running"
    keys: int = 0
    scanned: int = 0
    inserted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    malformed: int = 0
    skipped: int = 0
    verified: bool = False
    differences: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    retention: dict[str, int] = field(default_factory=dict)
    """What the retention pass after the run removed, by rule."""

    def as_json(self) -> dict[str, Any]:
        """The result as a JSON-ready dict."""
        return asdict(self)


ProgressCallback = Callable[[SyncProgress], None]


@dataclass
class SyncOptions:
    """Knobs of a run that are not its scope."""

    batch_entries: int = 200_000
    policy: str = "keep"
    progress: ProgressCallback | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    compact: bool = False
    """Rewrite the file after large retention deletions (no other thread
    may use the store meanwhile)."""


def run_sync(
    store: Store, source: Source, scope: SyncScope, options: SyncOptions | None = None
) -> SyncResult:
    """Copy what `scope` names from `source` into `store` as one recorded run."""
    opts = options or SyncOptions()
    con = store.cursor()
    run_store.close_abandoned_runs(con)
    run_id = run_store.start_run(con, "sync", scope.describe(), source.describe())
    result = SyncResult(run_id, scope.describe(), source.describe())
    log.info("run %d: sync %s from %s", run_id, result.scope, result.source)
    try:
        with memory_limit(con, SYNC_MEMORY_LIMIT):
            _Engine(store, source, scope, opts, result).run()
    except BaseException as exc:
        result.status = _failed_status(exc, opts.cancel)
        reason = _failure_text(exc, result.status)
        run_store.finish_run(con, run_id, result.status, error=reason)
        log.info("run %d %s: %s", run_id, result.status, reason)
        if result.status == "cancelled" and not isinstance(exc, SyncCancelled):
            if isinstance(exc, KeyboardInterrupt):
                raise
            # A cancel that interrupted a query: that batch was rolled back.
            raise SyncCancelled(CANCELLED) from exc
        raise
    result.status = "ok"
    run_store.finish_run(con, run_id, "ok", verified=result.verified)
    log.info("run %d done: %s", run_id, result.as_json())
    _retain(store, result, opts.compact)
    return result


CANCELLED = "the sync was cancelled; every committed batch is kept"


def _failed_status(exc: BaseException, cancel: threading.Event) -> str:
    if isinstance(exc, SyncCancelled | KeyboardInterrupt) or cancel.is_set():
        return "cancelled"
    return "failed"


def _failure_text(exc: BaseException, status: str) -> str:
    if status == "cancelled":
        return "cancelled by the user"
    if isinstance(exc, LogsyncError):
        return exc.one_line()
    return f"internal error: {exc!r}"


@dataclass
class _Prepared:
    """What the reader thread hands the writer: progress, and maybe a batch."""

    entries_read: int = 0
    keys_total: int = 0
    keys_done: int = 0
    warnings: list[str] = field(default_factory=list)
    batch: pa.Table | None = None
    marks: pa.Table | None = None
    taken: dict[str, int] = field(default_factory=dict)


def _prepare(
    chunks: Iterator[ReadChunk], batch_entries: int, keep_marks: bool
) -> Iterator[_Prepared]:
    """Group source chunks into Arrow batches; runs in the reader thread.

    Each chunk becomes Arrow data as soon as it arrives, so the raw bytes
    objects of at most one chunk are alive at a time.
    """
    pending = _Pending()
    for chunk in chunks:
        notes = [f"skipped {b.key}: {b.reason}" for b in chunk.bad_keys] + chunk.notes
        notes += pending.add(chunk, keep_marks)
        yield _Prepared(chunk.entries, chunk.keys_total, warnings=notes)
        if pending.size >= batch_entries:
            yield pending.take()
    if pending.size or pending.keys_done:
        yield pending.take()


@dataclass
class _Pending:
    """Arrow tables and finished keys gathered for the next batch."""

    tables: list[pa.Table] = field(default_factory=list)
    done: list[KeyPiece] = field(default_factory=list)
    size: int = 0
    keys_done: int = 0

    def add(self, chunk: ReadChunk, keep_marks: bool) -> list[str]:
        """Convert a chunk; returns its invalid UTF-8 warnings."""
        table, bad_positions = _batch_table(chunk.pieces)
        warnings = _invalid_utf8_warnings(chunk.pieces, bad_positions)
        self.tables.append(table)
        self.size += table.num_rows
        self.keys_done += chunk.keys_done
        for piece in chunk.pieces:
            piece.elements = []  # The Arrow table holds the only copy now.
            if keep_marks and piece.watermark is not None:
                self.done.append(piece)
        return warnings

    def take(self) -> _Prepared:
        """The gathered batch; leaves this empty."""
        batch = pa.concat_tables(self.tables) if self.tables else _empty_batch()
        out = _Prepared(keys_done=self.keys_done, batch=batch)
        out.marks = _marks_table(self.done)
        out.taken = {p.key: p.watermark.taken for p in self.done if p.watermark}
        self.tables, self.done, self.size, self.keys_done = [], [], 0, 0
        return out


def _invalid_utf8_warnings(pieces: list[KeyPiece], positions: list[int]) -> list[str]:
    if not positions:
        return []
    starts = list(_accumulate_lengths(pieces))
    out = []
    for pos in positions:
        i = bisect_right(starts, pos) - 1
        index = pieces[i].start + pos - starts[i]
        message = (
            f"{pieces[i].key} element {index}: invalid UTF-8, stored with U+FFFD "
            "(original bytes kept in raw_bytes)"
        )
        log.warning(message)
        out.append(message)
    return out


def _retain(store: Store, result: SyncResult, compact: bool) -> None:
    """Apply the retention limits after a run; a failure is only a warning."""
    try:
        applied = apply_retention(store, compact=compact)
    except LogsyncError as exc:
        result.warnings.append(f"retention not applied: {exc.one_line()}")
        return
    result.retention = applied.removed_by_rule


class _Engine:
    """One run: the reader thread prepares batches, this thread ingests them."""

    def __init__(
        self,
        store: Store,
        source: Source,
        scope: SyncScope,
        opts: SyncOptions,
        result: SyncResult,
    ) -> None:
        self.con = store.cursor()
        self.source = source
        self.scope = scope
        self.opts = opts
        self.result = result
        self.keep_marks = not scope.filtered
        self.counts = BatchCounts()
        self.keys_total = self.keys_done = self.entries_read = 0
        self.started = time.perf_counter()
        self.synced_keys: dict[str, int] = {}

    def run(self) -> None:
        marks = {}
        if self.keep_marks and not self.scope.full:
            marks = load_watermarks(self.con)
        request = ReadRequest(
            traces=self.scope.traces,
            watermarks=marks,
            chunk_entries=min(self.opts.batch_entries, 50_000),
        )
        chunks = self.source.read(request, self.opts.cancel)
        prepared = _prepare(chunks, self.opts.batch_entries, self.keep_marks)
        for item in _prefetch(prepared, self.opts.cancel):
            self._take(item)
        if self.opts.cancel.is_set():
            raise SyncCancelled(CANCELLED)
        self._verify()

    def _take(self, item: _Prepared) -> None:
        self.keys_total = max(self.keys_total, item.keys_total)
        self.entries_read += item.entries_read
        self.result.warnings.extend(item.warnings)
        if item.batch is not None and item.marks is not None:
            scope = Scope(self.scope.users, self.scope.since_ms, self.scope.until_ms)
            counts = ingest_batch(
                self.con, self.result.run_id, item.batch, item.marks, scope,
                self.opts.policy, item.keys_done,
            )  # fmt: skip
            self.counts.add(counts)
            log.info(
                "run %d: batch committed, %d entries, %d inserted so far",
                self.result.run_id, item.batch.num_rows, self.counts.inserted,
            )  # fmt: skip
            self.synced_keys.update(item.taken)
            self.keys_done += item.keys_done
            self._copy_counts(item.keys_done)
        self._report()

    def _copy_counts(self, keys_done: int) -> None:
        r, c = self.result, self.counts
        r.keys += keys_done
        r.scanned, r.inserted, r.duplicates = c.scanned, c.inserted, c.duplicates
        r.conflicts, r.malformed, r.skipped = c.conflicts, c.malformed, c.skipped

    def _report(self) -> None:
        callback = self.opts.progress
        if callback is not None:
            callback(
                SyncProgress(
                    keys_done=self.keys_done,
                    keys_total=self.keys_total,
                    entries_read=self.entries_read,
                    entries_inserted=self.counts.inserted,
                    elapsed=time.perf_counter() - self.started,
                )
            )

    def _verify(self) -> None:
        r = self.result
        r.seconds = round(time.perf_counter() - self.started, 3)
        accounted = r.inserted + r.duplicates + r.conflicts + r.malformed + r.skipped
        problems = []
        if accounted != r.scanned:
            problems.append(f"{r.scanned} read but {accounted} accounted for")
        if self.counts.missing:
            problems.append(f"{self.counts.missing} valid entries missing from store")
        r.differences.extend(problems)
        r.differences.extend(self._length_changes())
        r.verified = not problems

    def _length_changes(self) -> list[str]:
        lengths = getattr(self.source, "lengths", None)
        if lengths is None or not self.synced_keys:
            return []
        now = lengths(list(self.synced_keys))
        out = []
        for key, taken in self.synced_keys.items():
            held = now.get(key, 0)
            if held > taken:
                out.append(f"{key}: {held - taken} entries arrived during the sync")
            elif held < taken:
                out.append(f"{key}: {taken - held} entries expired during the sync")
        return out


def _accumulate_lengths(pieces: list[KeyPiece]) -> Iterator[int]:
    total = 0
    for piece in pieces:
        yield total
        total += len(piece.elements)


def _empty_batch() -> pa.Table:
    return _batch_table([])[0]


def _batch_table(pieces: list[KeyPiece]) -> tuple[pa.Table, list[int]]:
    elements = list(chain.from_iterable(p.elements for p in pieces))
    decoded = decode_elements(elements)
    names = pa.array([p.key for p in pieces], type=pa.string())
    indices = pa.array(
        array(
            "i",
            chain.from_iterable(
                repeat(i, len(p.elements)) for i, p in enumerate(pieces)
            ),
        ),
        type=pa.int32(),
    )
    keys = pa.DictionaryArray.from_arrays(indices, names).cast(pa.string())
    positions = pa.array(
        array(
            "q",
            chain.from_iterable(
                range(p.start, p.start + len(p.elements)) for p in pieces
            ),
        ),
        type=pa.int64(),
    )
    table = pa.table(
        {
            "source_key": keys,
            "source_index": positions,
            "raw": decoded.strings,
            "raw_bytes": decoded.raw_bytes,
        }
    )
    return table, decoded.invalid_utf8


def _marks_table(done: list[KeyPiece]) -> pa.Table:
    return pa.table(
        {
            "source_key": pa.array([p.key for p in done], type=pa.string()),
            "taken": pa.array(
                [p.watermark.taken for p in done if p.watermark], type=pa.int64()
            ),
            "head_hash": pa.array(
                [p.watermark.head_hash for p in done if p.watermark], type=pa.string()
            ),
        }
    )


def _prefetch(
    items: Iterator[_Prepared], cancel: threading.Event
) -> Iterator[_Prepared]:
    """Read and prepare in a thread while the caller ingests: one batch ahead."""
    box: queue.Queue[Any] = queue.Queue(maxsize=4)
    stop = threading.Event()
    # One batch may wait while another is ingested; progress items are free.
    batch_slot = threading.Semaphore(1)

    def put(item: Any) -> bool:
        if getattr(item, "batch", None) is not None:
            while not batch_slot.acquire(timeout=0.1):
                if stop.is_set() or cancel.is_set():
                    return False
        while not (stop.is_set() or cancel.is_set()):
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    reader = threading.Thread(target=produce, name="logsync-read", daemon=True)
    reader.start()
    try:
        while True:
            try:
                item = box.get(timeout=0.1)
            except queue.Empty:
                if reader.is_alive() or not box.empty():
                    continue
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            if item.batch is not None:
                batch_slot.release()
    finally:
        stop.set()
