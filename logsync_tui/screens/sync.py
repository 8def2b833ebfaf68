"""The Sync screen: pull all or part of the buffer into the store, and undo runs.

A sync runs `sync.run_sync` in a thread worker. The engine's progress
callback posts `SyncProgressed` messages (stale ones are dropped), Escape
sets the engine's cancel Event, and the engine stops after its last
committed batch, so the store stays consistent. Past runs are listed from
the store and any of them can be undone after a confirmation.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, cast

import duckdb
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Static
from textual.worker import Worker, get_current_worker

from logsync_tui.errors import LogsyncError, SyncCancelled, UsageError
from logsync_tui.messages import (
    RunsLoaded,
    RunUndone,
    SyncEnded,
    SyncProgressed,
    TraceIdsLoaded,
)
from logsync_tui.sources.base import KEY_PREFIX
from logsync_tui.storage.runs import RunRecord, list_runs, undo_run
from logsync_tui.sync import SyncOptions, SyncProgress, SyncResult, SyncScope, run_sync
from logsync_tui.timeparse import parse_range
from logsync_tui.widgets import figures
from logsync_tui.widgets.confirm_dialog import ConfirmDialog
from logsync_tui.widgets.safe_text import one_line
from logsync_tui.widgets.sync_progress import SyncProgressPanel
from logsync_tui.widgets.trace_suggester import IdSuggester

if TYPE_CHECKING:
    from logsync_tui.app import LogsyncApp

log = logging.getLogger(__name__)

SyncRunner = Callable[..., SyncResult]
RunsLoader = Callable[[duckdb.DuckDBPyConnection], list[RunRecord]]
_WORDS = re.compile(r"[\s,]+")
WARNINGS_SHOWN = 5
STATUS_STYLES = {
    "ok": "green",
    "cancelled": "yellow",
    "failed": "bold red",
    "interrupted": "yellow",
    "undone": "dim",
    "running": "cyan",
}
RUN_COLUMNS = (
    "run", "started (UTC)", "status", "scope", "keys", "new", "present",
    "conflicts", "malformed", "verified", "note",
)  # fmt: skip


def words(text: str) -> tuple[str, ...]:
    """The ids typed in an input, separated by spaces or commas."""
    return tuple(w for w in _WORDS.split(text.strip()) if w)


def build_scope(
    traces: str, users: str, since: str, until: str, now: int | None = None
) -> SyncScope:
    """The scope the form describes; UsageError names a malformed time."""
    since_ms, until_ms = parse_range(since, until, now)
    return SyncScope(
        traces=words(traces), users=words(users), since_ms=since_ms, until_ms=until_ms
    )


def describe_scope(scope: dict[str, object]) -> str:
    """A run's scope in a few words: `all`, `trace a, b`, `user u · since …`."""
    parts = []
    for key, label in (("traces", "trace"), ("users", "user")):
        values = scope.get(key)
        if isinstance(values, list | tuple) and values:
            parts.append(f"{label} {', '.join(str(v) for v in values)}")
    for key in ("since_ms", "until_ms"):
        value = scope.get(key)
        if isinstance(value, int):
            parts.append(f"{key[:-3]} {figures.date_time(value)}")
    if scope.get("full"):
        parts.append("full")
    return " · ".join(parts) or "all"


class SyncScreen(Screen[None]):
    """Sync all, by trace, by user or by time; live progress; runs with undo."""

    CSS_PATH = "sync.tcss"
    AUTO_FOCUS = "#runs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "sync_all", "Sync all", id="sync.all"),
        Binding("t", "focus_input('trace')", "By trace", id="sync.trace"),
        Binding("u", "focus_input('user')", "By user", id="sync.user"),
        Binding("m", "focus_input('since')", "By time", id="sync.range"),
        Binding("escape", "cancel", "Cancel sync", id="sync.cancel"),
        Binding("z", "undo", "Undo run", id="sync.undo"),
        Binding("r", "reload", "Reload runs", id="sync.reload"),
    ]

    def __init__(
        self, *, run: SyncRunner = run_sync, load_runs: RunsLoader = list_runs
    ) -> None:
        super().__init__()
        self._run_engine = run
        self._load_runs = load_runs
        self._sync_cancel = threading.Event()
        self._syncing = False
        self._select_newest = False
        self._run_status: dict[int, str] = {}
        self._suggester = IdSuggester()

    @property
    def logsync(self) -> LogsyncApp:
        """The app, with its settings, store and source."""
        return cast("LogsyncApp", self.app)

    @property
    def running(self) -> bool:
        """True while a sync started here has not ended."""
        return self._syncing

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="scope", classes="panel"):
            with Grid(id="form"):
                yield Label("Trace")
                yield Input(
                    id="trace",
                    placeholder="trace ids, space separated (→ accepts a suggestion)",
                    suggester=self._suggester,
                )
                yield Label("User")
                yield Input(id="user", placeholder="user ids, space separated")
                yield Label("Since")
                yield Input(id="since", placeholder="15m, 2h, epoch ms or ISO time")
                yield Label("Until")
                yield Input(id="until", placeholder="now")
            with Horizontal(id="buttons"):
                yield Button("Sync all (a)", id="sync-all", variant="primary")
                yield Button("Sync this scope (enter)", id="sync-scope")
                yield Button("Cancel (esc)", id="cancel", variant="error")
        yield SyncProgressPanel(id="progress", classes="panel")
        yield Static(id="result", classes="panel", markup=False)
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "logsync · Sync"
        self.query_one("#scope").border_title = "Sync"
        self.query_one("#progress").border_title = "Progress"
        self.query_one("#result").border_title = "Last result"
        self.query_one("#result", Static).update(Text("No sync yet.", style="dim"))
        runs = self.query_one("#runs", DataTable)
        runs.border_title = "Past runs (z undoes the selected one)"
        for label in RUN_COLUMNS:
            runs.add_column(label, key=label)
        self.query_one("#cancel", Button).disabled = True
        self.load_runs()
        self.load_trace_ids()

    def on_screen_resume(self) -> None:
        self.load_runs()

    def on_unmount(self) -> None:
        self._sync_cancel.set()

    def action_sync_all(self) -> None:
        """Sync every trace in the buffer."""
        self.start_sync(SyncScope())

    def action_focus_input(self, name: str) -> None:
        """Put the cursor in one of the scope inputs."""
        self.query_one(f"#{name}", Input).focus()
        if name == "trace":
            self.load_trace_ids()

    def action_cancel(self) -> None:
        """Cancel the running sync; with none running, leave the inputs."""
        if self._syncing:
            self._sync_cancel.set()
            self.query_one(SyncProgressPanel).stop(
                Text("Cancelling after the current batch…", style="yellow")
            )
        else:
            self.query_one("#runs", DataTable).focus()

    def action_reload(self) -> None:
        """Read the list of runs again."""
        self.load_runs()

    def action_undo(self) -> None:
        """Ask, then undo the run under the cursor."""
        run_id = self._selected_run()
        if run_id is None:
            self.notify("Select a run in the list first.", title="undo")
            return
        if self._syncing:
            self.notify("Wait for the running sync to end.", title="undo")
            return
        if self._run_status.get(run_id) == "undone":
            self.notify(f"Run {run_id} was already undone.", title="undo")
            return
        question = Text(
            f"Undo run {run_id}? Every entry it inserted is removed and every "
            "entry it replaced is restored."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.undo(run_id)

        self.app.push_screen(ConfirmDialog("Undo run", question), answered)

    @on(Button.Pressed, "#sync-all")
    def _sync_all_pressed(self) -> None:
        self.action_sync_all()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Button.Pressed, "#sync-scope")
    @on(Input.Submitted)
    def sync_form(self) -> None:
        """Sync what the inputs name (traces, users, time range)."""
        try:
            scope = build_scope(
                self._value("trace"),
                self._value("user"),
                self._value("since"),
                self._value("until"),
            )
        except UsageError as exc:
            self.notify(exc.cause, title="time range", severity="error", markup=False)
            return
        if scope == SyncScope():
            self.notify("Type a trace, a user or a time first, or press a.")
            return
        self.start_sync(scope)

    def _value(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value

    def start_sync(self, scope: SyncScope) -> None:
        """Start a sync of `scope` unless one is running or there is no source."""
        if self._syncing:
            self.notify("A sync is already running; Escape cancels it.")
            return
        if self.logsync.source is None:
            self.notify(
                "No Redis configured (and no Worker URL): set LOGSYNC_REDIS_URL or "
                "LOGSYNC_WORKER_URL (NEXT_PUBLIC_LOG_WORKER_URL and LOG_WORKER_URL "
                "work too), or pass --redis-url or --worker-url.",
                title="sync",
                severity="error",
            )
            return
        self._syncing = True
        self._sync_cancel = threading.Event()
        self.query_one("#runs", DataTable).focus()
        self.query_one("#cancel", Button).disabled = False
        what = describe_scope(scope.describe())
        self.query_one(SyncProgressPanel).start(Text(f"Starting: {what}…"))
        self.run_scope(scope, self._sync_cancel)

    @work(thread=True, exclusive=True, group="sync", exit_on_error=False)
    def run_scope(self, scope: SyncScope, cancel: threading.Event) -> None:
        """Run the engine on this thread; report progress and the end by message."""
        worker = get_current_worker()

        def progress(update: SyncProgress) -> None:
            if worker.is_cancelled:
                cancel.set()
            self.post_message(SyncProgressed(update))

        settings = self.logsync.settings
        options = SyncOptions(
            batch_entries=settings.batch_size,
            policy=settings.conflict_policy,
            progress=progress,
            cancel=cancel,
        )
        source = self.logsync.source
        assert source is not None
        try:
            result = self._run_engine(self.logsync.store, source, scope, options)
        except SyncCancelled as exc:
            self.post_message(
                SyncEnded("cancelled", run=self._last_run(), cause=exc.cause)
            )
            return
        except Exception as exc:
            cause = exc.cause if isinstance(exc, LogsyncError) else repr(exc)
            self.post_message(SyncEnded("failed", run=self._last_run(), cause=cause))
            raise
        self.post_message(SyncEnded("ok", result=result))

    def _last_run(self) -> RunRecord | None:
        con = self.logsync.store.cursor()
        try:
            runs = list_runs(con, limit=1)
        except duckdb.Error:
            log.exception("cannot read the last run")
            return None
        finally:
            con.close()
        return runs[0] if runs else None

    @work(thread=True, exclusive=True, group="db", exit_on_error=False)
    def load_runs(self) -> None:
        """Read the recent runs on this thread's own cursor."""
        con = self.logsync.store.cursor()
        try:
            runs = self._load_runs(con)
        finally:
            con.close()
        if not get_current_worker().is_cancelled:
            self.post_message(RunsLoaded(runs))

    @work(thread=True, group="undo", exit_on_error=False)
    def undo(self, run_id: int) -> None:
        """Undo one run; a StoreError (already undone…) reaches the app's handler."""
        con = self.logsync.store.cursor()
        try:
            result = undo_run(con, run_id)
        finally:
            con.close()
        self.post_message(RunUndone(result))

    @work(thread=True, exclusive=True, group="redis", exit_on_error=False)
    def load_trace_ids(self) -> None:
        """The buffer's trace ids, offered as completions in the trace input."""
        source = self.logsync.source
        if source is None:
            return
        try:
            keys = source.scan_keys()
        except LogsyncError as exc:
            log.info("no trace completion: %s", exc.one_line())
            return
        names = [k.decode("utf-8", "backslashreplace") for k in keys]
        ids = [n[len(KEY_PREFIX) :] for n in names if n.startswith(KEY_PREFIX)]
        self.post_message(TraceIdsLoaded(ids))

    def on_trace_ids_loaded(self, message: TraceIdsLoaded) -> None:
        self._suggester.update(message.ids)

    def on_sync_progressed(self, message: SyncProgressed) -> None:
        if self._syncing and not self._sync_cancel.is_set():
            self.query_one(SyncProgressPanel).show(message.progress)

    def on_sync_ended(self, message: SyncEnded) -> None:
        self._syncing = False
        self._select_newest = True
        self.query_one("#cancel", Button).disabled = True
        panel = self.query_one(SyncProgressPanel)
        result = self.query_one("#result", Static)
        if message.result is not None:
            panel.stop(Text("Done.", style="green"))
            result.update(result_text(message.result))
        else:
            panel.stop(Text(f"{message.status.capitalize()}.", style="yellow"))
            result.update(stopped_text(message))
        self.load_runs()

    def on_runs_loaded(self, message: RunsLoaded) -> None:
        table = self.query_one("#runs", DataTable)
        selected = self._selected_run()
        table.clear()
        self._run_status = {run.run_id: run.status for run in message.runs}
        for run in message.runs:
            table.add_row(*run_cells(run), key=str(run.run_id))
        if self._select_newest:
            self._select_newest = False
        elif selected in {r.run_id for r in message.runs}:
            table.move_cursor(row=table.get_row_index(str(selected)))

    def on_run_undone(self, message: RunUndone) -> None:
        undo = message.undo
        self.notify(
            f"Run {undo.run_id} undone: {figures.count(undo.removed)} entries removed, "
            f"{figures.count(undo.restored)} restored.",
            title="undo",
        )
        self.load_runs()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # StateChanged does not bubble: failures go to the app's one handler.
        self.logsync.on_worker_state_changed(event)

    def _selected_run(self) -> int | None:
        table = self.query_one("#runs", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return int(str(key.value)) if key.value is not None else None


def result_text(result: SyncResult) -> Text:
    """What a finished run did: the counts, verification, warnings."""
    text = Text()
    text.append(
        f"Run {result.run_id} finished in {result.seconds:.2f}s: ", style="bold"
    )
    for i, (label, value) in enumerate(
        (
            ("new", result.inserted),
            ("already present", result.duplicates),
            ("conflicts", result.conflicts),
            ("malformed", result.malformed),
        )
    ):
        if i:
            text.append(" · ")
        text.append(figures.count(value), style="bold")
        text.append(f" {label}")
    text.append(" · ")
    if result.verified:
        text.append("verified ✓", style="green")
    else:
        text.append("not verified ✗", style="bold red")
    _append_lines(text, result.differences, "bold red")
    _append_lines(text, result.warnings, "yellow")
    return text


def _append_lines(text: Text, lines: list[str], style: str) -> None:
    for line in lines[:WARNINGS_SHOWN]:
        text.append("\n")
        text.append(one_line(line, 300), style=style)
    hidden = len(lines) - WARNINGS_SHOWN
    if hidden > 0:
        text.append(f"\n… and {figures.count(hidden)} more", style=style)


def stopped_text(message: SyncEnded) -> Text:
    """What a cancelled or failed run left behind."""
    text = Text()
    run = message.run
    label = f"Run {run.run_id} {message.status}" if run else f"Sync {message.status}"
    text.append(f"{label}: ", style="bold yellow")
    text.append(one_line(message.cause, 300))
    if run is not None and run.inserted:
        text.append(
            f"\n{figures.count(run.inserted)} entries from committed batches are "
            "kept and the store is consistent; z on the run undoes them."
        )
    return text


def run_cells(run: RunRecord) -> tuple[Text, ...]:
    """One row of the runs table."""
    verified = {True: "✓", False: "✗", None: "-"}[run.verified]

    def num(value: int) -> Text:
        return Text(figures.count(value), justify="right")

    return (
        Text(str(run.run_id), justify="right"),
        Text(run.started_at.strftime("%Y-%m-%d %H:%M:%S")),
        Text(run.status, style=STATUS_STYLES.get(run.status, "")),
        Text(one_line(describe_scope(run.scope), 60)),
        num(run.keys),
        num(run.inserted),
        num(run.duplicates),
        num(run.conflicts),
        num(run.malformed),
        Text(verified, justify="center"),
        Text(one_line(run.error or "", 80), style="dim"),
    )
