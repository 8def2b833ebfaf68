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

    batch_entries: int = 100_000
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
    engine = _Engine(store, source, scope, opts, result)
    try:
        engine.run()
    except (SyncCancelled, KeyboardInterrupt):
        result.status = "cancelled"
        run_store.finish_run(con, run_id, "cancelled", error="cancelled by the user")
        raise
    except LogsyncError as exc:
        result.status = "failed"
        run_store.finish_run(con, run_id, "failed", error=exc.one_line())
        raise
    except Exception as exc:
        result.status = "failed"
        run_store.finish_run(con, run_id, "failed", error=f"internal error: {exc!r}")
        raise
    result.status = "ok"
    run_store.finish_run(con, run_id, "ok", verified=result.verified)
    log.info("run %d done: %s", run_id, result.as_json())
    _retain(store, result, opts.compact)
    return result


def _retain(store: Store, result: SyncResult, compact: bool) -> None:
    """Apply the retention limits after a run; a failure is only a warning."""
    try:
        applied = apply_retention(store, compact=compact)
    except LogsyncError as exc:
        result.warnings.append(f"retention not applied: {exc.one_line()}")
        return
    result.retention = applied.removed_by_rule


class _Engine:
    """One run's state: reads chunks, groups them into batches, ingests."""

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
        self.pending: list[KeyPiece] = []
        self.pending_keys = 0
        self.counts = BatchCounts()
        self.keys_total = 0
        self.keys_done = 0
        self.started = time.perf_counter()
        self.synced_keys: dict[str, int] = {}
        self.entries_read = 0

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
        for chunk in _prefetch(chunks, self.opts.cancel):
            self._take(chunk)
            if self._pending_entries() >= self.opts.batch_entries:
                self._flush()
        if self.opts.cancel.is_set():
            raise SyncCancelled("the sync was cancelled; committed batches are kept")
        self._flush()
        self._verify()

    def _take(self, chunk: ReadChunk) -> None:
        self.keys_total = max(self.keys_total, chunk.keys_total)
        self.pending.extend(chunk.pieces)
        self.pending_keys += chunk.keys_done
        for bad in chunk.bad_keys:
            self.result.warnings.append(f"skipped {bad.key}: {bad.reason}")
        self.result.warnings.extend(chunk.notes)
        self._report(read=chunk.entries, keys=chunk.keys_done)

    def _pending_entries(self) -> int:
        return sum(len(p.elements) for p in self.pending)

    def _flush(self) -> None:
        if not self.pending and not self.pending_keys:
            return
        pieces, self.pending = self.pending, []
        keys_done, self.pending_keys = self.pending_keys, 0
        batch, bad_positions = _batch_table(pieces)
        self._warn_invalid_utf8(pieces, bad_positions)
        marks = _marks_table(pieces if self.keep_marks else [])
        scope = Scope(self.scope.users, self.scope.since_ms, self.scope.until_ms)
        counts = ingest_batch(
            self.con,
            self.result.run_id,
            batch,
            marks,
            scope,
            self.opts.policy,
            keys_done,
        )
        self.counts.add(counts)
        for piece in pieces:
            if piece.watermark is not None:
                self.synced_keys[piece.key] = piece.watermark.taken
        self._copy_counts(keys_done)
        self._report(read=0, keys=0)

    def _copy_counts(self, keys_done: int) -> None:
        r, c = self.result, self.counts
        r.keys += keys_done
        r.scanned, r.inserted, r.duplicates = c.scanned, c.inserted, c.duplicates
        r.conflicts, r.malformed, r.skipped = c.conflicts, c.malformed, c.skipped

    def _warn_invalid_utf8(self, pieces: list[KeyPiece], positions: list[int]) -> None:
        if not positions:
            return
        starts = list(_accumulate_lengths(pieces))
        for pos in positions:
            i = bisect_right(starts, pos) - 1
            piece = pieces[i]
            index = piece.start + pos - starts[i]
            message = (
                f"{piece.key} element {index}: invalid UTF-8, stored with U+FFFD "
                "(original bytes kept in raw_bytes)"
            )
            log.warning(message)
            self.result.warnings.append(message)

    def _report(self, read: int, keys: int) -> None:
        self.entries_read += read
        self.keys_done += keys
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


def _marks_table(pieces: list[KeyPiece]) -> pa.Table:
    done = [p for p in pieces if p.watermark is not None]
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
    chunks: Iterator[ReadChunk], cancel: threading.Event
) -> Iterator[ReadChunk]:
    """Read the next chunks in a thread while the caller ingests this one."""
    box: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not (stop.is_set() or cancel.is_set()):
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
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
    finally:
        stop.set()
