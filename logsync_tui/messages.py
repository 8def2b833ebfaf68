"""Every Message the app's workers and widgets send to its screens."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from logsync_tui.export import ExportReport, ExportSpec
from logsync_tui.insight import Overview, TraceInsight, TraceRow
from logsync_tui.storage.navigate import RowHead
from logsync_tui.storage.quarantine import QuarantinedEntry
from logsync_tui.storage.queries import LogRow
from logsync_tui.storage.retention import (
    CleanCounts,
    CleanRequest,
    RetentionPolicy,
    StorageUsage,
)
from logsync_tui.storage.runs import RunRecord, UndoResult
from logsync_tui.storage.summary import StoreSummary
from logsync_tui.sync import SyncProgress, SyncResult


@dataclass
class WindowLoaded(Message):
    """Rows of the Logs table starting at display position `start`.

    The first window of a new filter also carries the counts for the status
    line, so the table changes once, not twice.
    """

    generation: int
    start: int
    rows: list[RowHead]
    matching: int | None = None
    mark: tuple[int, int | None] | None = None
    """`navigate.store_mark` when the window was read: (stored, newest run)."""


@dataclass
class JumpTo(Message):
    """Move the Logs cursor to display position `index`."""

    generation: int
    index: int


@dataclass
class DetailLoaded(Message):
    """A row ready for the detail pane, with its place in its trace."""

    row: LogRow
    position: int
    trace_size: int


@dataclass
class SyncProgressed(Message):
    """A running sync moved on; a newer copy replaces an unhandled older one."""

    progress: SyncProgress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SyncProgressed)


@dataclass
class SyncEnded(Message):
    """A sync stopped: `status` is ok, cancelled or failed.

    `result` is set when it finished; `run` is its record as stored, when
    the run was recorded at all; `cause` says why it did not finish.
    """

    status: str
    result: SyncResult | None = None
    run: RunRecord | None = None
    cause: str = ""


@dataclass
class RunsLoaded(Message):
    """The most recent sync runs, newest first."""

    runs: list[RunRecord]


@dataclass
class RunUndone(Message):
    """A run was undone: what it removed and restored."""

    undo: UndoResult


@dataclass
class TraceIdsLoaded(Message):
    """The trace ids the buffer holds right now, for completion."""

    ids: list[str]


@dataclass
class ExportPreview(Message):
    """The start of the export `spec` describes, and whether it was cut."""

    spec: ExportSpec
    text: str
    cut: bool


@dataclass
class ExportMeasured(Message):
    """The size, token estimate and counts of the whole export `spec`."""

    spec: ExportSpec
    report: ExportReport


@dataclass
class TracesLoaded(Message):
    """The Traces screen's list for one sort and filter, with the overview."""

    generation: int
    overview: Overview
    rows: list[TraceRow]


@dataclass
class TraceLoaded(Message):
    """One trace's insight and its first entries, oldest first."""

    insight: TraceInsight
    entries: list[LogRow]


@dataclass
class TraceExported(Message):
    """A trace's AI text export, ready to copy; `summary` describes it."""

    trace_id: str
    text: str
    summary: str


@dataclass
class StoreLoaded(Message):
    """What the Store screen shows: usage, retention limits, the quarantine."""

    usage: StorageUsage
    summary: StoreSummary
    policy: RetentionPolicy
    quarantine: list[QuarantinedEntry]


@dataclass
class CleanPlanned(Message):
    """How much a clean would remove, to ask before it runs."""

    request: CleanRequest
    counts: CleanCounts


@dataclass
class StoreChanged(Message):
    """A clean, retention pass, retry or purge finished; `text` says what it did."""

    title: str
    text: str
