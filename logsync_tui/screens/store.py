"""The Store screen: what the local store holds, its retention limits, cleanup
and the quarantine.

Every read and write of the store runs in a thread worker on its own cursor.
A clean first counts what it would remove (`plan_clean`), asks, then removes
it in one transaction and compacts the file when that gives real space back.
Compaction swaps the store's connection, so it is skipped while a sync runs
on the Sync screen (that sync's cursor would stop working).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

import duckdb
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Static
from textual.worker import Worker

from logsync_tui.errors import UsageError
from logsync_tui.messages import CleanPlanned, StoreChanged, StoreLoaded
from logsync_tui.storage.quarantine import (
    QuarantinedEntry,
    list_quarantine,
    purge_quarantine,
    retry_quarantine,
)
from logsync_tui.storage.retention import (
    CleanCounts,
    CleanRequest,
    RetentionPolicy,
    RetentionResult,
    StorageUsage,
    apply_retention,
    clean,
    compact_if_worthwhile,
    load_policy,
    plan_clean,
    save_policy,
    storage_usage,
)
from logsync_tui.storage.summary import StoreSummary, store_summary
from logsync_tui.timeparse import format_age, parse_age
from logsync_tui.widgets import figures
from logsync_tui.widgets.confirm_dialog import ConfirmDialog
from logsync_tui.widgets.safe_text import LEVEL_STYLES, SYSTEM_STYLES, one_line

if TYPE_CHECKING:
    from logsync_tui.app import LogsyncApp

log = logging.getLogger(__name__)

QUARANTINE_SHOWN = 200
CLEAN_INPUTS = {
    "older": "clean-older",
    "trace": "clean-trace",
    "user": "clean-user",
    "run": "clean-run",
}
POLICY_INPUTS = ("max-age", "max-entries", "max-mb", "quarantine-age")
QUARANTINE_COLUMNS = ("key", "index", "reason", "run", "quarantined (UTC)", "raw")


@dataclass(frozen=True)
class Limit:
    """One retention form field: its policy name and how its text is read."""

    field: str
    parse: Callable[[str], float]
    show: Callable[[float], str]


LIMITS = {
    "max-age": Limit("max_age_ms", parse_age, lambda v: format_age(int(v))),
    "max-entries": Limit("max_entries", int, lambda v: str(int(v))),
    "max-mb": Limit("max_mb", float, lambda v: f"{v:g}"),
    "quarantine-age": Limit(
        "quarantine_max_age_ms", parse_age, lambda v: format_age(int(v))
    ),
}


def read_view(con: duckdb.DuckDBPyConnection, path: Path) -> StoreLoaded:
    """Everything the screen shows: usage, summary, limits, the quarantine."""
    return StoreLoaded(
        usage=storage_usage(con, path),
        summary=store_summary(con, path),
        policy=load_policy(con),
        quarantine=list_quarantine(con, limit=QUARANTINE_SHOWN),
    )


ViewLoader = Callable[[duckdb.DuckDBPyConnection, Path], StoreLoaded]


def parse_policy(values: dict[str, str]) -> RetentionPolicy:
    """The retention limits the form's texts describe; empty or `off` is no limit.

    UsageError names a value that is not a duration or number above 0.
    """
    policy: dict[str, float | None] = {}
    for name, limit in LIMITS.items():
        text = values.get(name, "").strip()
        if text.lower() in ("", "off", "none"):
            policy[limit.field] = None
            continue
        try:
            value = limit.parse(text)
        except ValueError as exc:
            raise UsageError(f"{name}: {text!r} is not a number") from exc
        if value <= 0:
            raise UsageError(f"{name}: {text!r}: a limit must be above 0 (or off)")
        policy[limit.field] = value
    return RetentionPolicy(**policy)  # type: ignore[arg-type]


def clean_request(kind: str, text: str, now: int) -> CleanRequest:
    """The clean the input of `kind` asks for; UsageError when it is unusable."""
    value = text.strip()
    if kind == "all":
        return CleanRequest("all")
    if not value:
        raise UsageError(f"type what to clean first ({kind})")
    if kind == "older":
        return CleanRequest("older", before_ms=now - parse_age(value))
    if kind == "run":
        if not value.isdigit():
            raise UsageError(f"{value!r} is not a run number")
        return CleanRequest("run", run_id=int(value))
    names = tuple(v for v in value.replace(",", " ").split() if v)
    if kind == "trace":
        return CleanRequest("trace", traces=names)
    return CleanRequest("user", users=names)


class StoreScreen(Screen[None]):
    """Storage usage, retention limits, cleanup by kind, and the quarantine."""

    CSS_PATH = "store.tcss"
    AUTO_FOCUS = "#quarantine"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "clean('all')", "Clean all", id="store.clean"),
        Binding("o", "focus_input('clean-older')", "Older", id="store.older"),
        Binding("t", "focus_input('clean-trace')", "By trace", id="store.trace"),
        Binding(
            "u", "focus_input('clean-user')", "By user", id="store.user", show=False
        ),
        Binding("n", "focus_input('clean-run')", "By run", id="store.run", show=False),
        Binding("e", "focus_input('max-age')", "Limits", id="store.retention"),
        Binding("p", "apply_retention", "Apply", id="store.apply"),
        Binding("y", "retry", "Retry", id="store.retry"),
        Binding("d", "purge", "Purge", id="store.purge"),
        Binding("r", "reload", "Refresh", id="store.refresh", show=False),
        Binding("escape", "leave_input", "Leave input", id="store.leave", show=False),
    ]

    def __init__(self, *, load_view: ViewLoader | None = None) -> None:
        super().__init__()
        self._load_view = load_view or read_view
        self._quarantined = 0

    @property
    def logsync(self) -> LogsyncApp:
        """The app, with its settings and store."""
        return cast("LogsyncApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="top"):
            yield Static(id="usage", classes="panel")
            with Vertical(id="side"):
                with Vertical(id="retention", classes="panel"):
                    with Grid(classes="form"):
                        yield from _labelled("Max age", "max-age", "off, or 14d")
                        yield from _labelled(
                            "Max rows", "max-entries", "off, or 2000000"
                        )
                        yield from _labelled("Max MB", "max-mb", "off, or 500")
                        yield from _labelled(
                            "Quar. age", "quarantine-age", "off, or 7d"
                        )
                    with Horizontal(classes="buttons"):
                        yield Button("Save (enter)", id="save", variant="primary")
                        yield Button("Apply now (p)", id="apply")
                with Vertical(id="clean", classes="panel"):
                    with Grid(classes="form"):
                        yield from _labelled("Older", "clean-older", "7d, 12h")
                        yield from _labelled("Trace", "clean-trace", "trace ids")
                        yield from _labelled("User", "clean-user", "user ids")
                        yield from _labelled("Run", "clean-run", "run number")
                    with Horizontal(classes="buttons"):
                        yield Button("Clean all (x)", id="clean-all", variant="error")
        yield DataTable(id="quarantine", cursor_type="row", zebra_stripes=True)
        yield Static(id="status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "logsync · Store"
        self.query_one("#usage").border_title = "Storage usage"
        self.query_one("#retention").border_title = "Retention (kept in the store)"
        self.query_one("#clean").border_title = "Clean up (enter asks first)"
        table = self.query_one("#quarantine", DataTable)
        table.border_title = "Quarantine (y retries, d purges)"
        for label in QUARANTINE_COLUMNS:
            table.add_column(label, key=label)
        if self.logsync.store.read_only:
            self._set_status("The store is read-only here: cleanup is not possible.")
        self.load()

    def on_screen_resume(self) -> None:
        self.load()

    def action_reload(self) -> None:
        """Read the usage, limits and quarantine again."""
        self.load()

    def action_focus_input(self, name: str) -> None:
        """Put the cursor in one of the inputs."""
        self.query_one(f"#{name}", Input).focus()

    def action_leave_input(self) -> None:
        """Leave the inputs for the quarantine table."""
        self.query_one("#quarantine", DataTable).focus()

    def action_clean(self, kind: str, text: str = "") -> None:
        """Count what a clean of `kind` removes, then ask (see on_clean_planned)."""
        if not self._writable("clean"):
            return
        try:
            request = clean_request(kind, text, self.logsync.clock())
        except UsageError as exc:
            self.notify(exc.cause, title="clean", severity="error", markup=False)
            return
        self.plan(request)

    def action_apply_retention(self) -> None:
        """Apply the saved retention limits now."""
        if self._writable("retention"):
            self._set_status("Applying the retention limits…")
            self.apply_limits(compact=not self._syncing())

    def action_retry(self) -> None:
        """Ingest every quarantined entry again; repaired ones move into the store."""
        if self._writable("retry"):
            self._set_status("Retrying the quarantine…")
            self.retry()

    def action_purge(self) -> None:
        """Ask, then delete every quarantined entry."""
        if not self._writable("purge"):
            return
        if not self._quarantined:
            self.notify("The quarantine is empty.", title="purge")
            return
        question = Text(
            f"Purge {quarantined(self._quarantined)}? "
            "They are deleted from the store for good."
        )
        self._ask("Purge quarantine", question, self.purge)

    @on(Button.Pressed, "#clean-all")
    def _clean_all_pressed(self) -> None:
        self.action_clean("all")

    @on(Button.Pressed, "#apply")
    def _apply_pressed(self) -> None:
        self.action_apply_retention()

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.save_form()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        name = event.input.id or ""
        if name in POLICY_INPUTS:
            self.save_form()
            return
        kind = next(k for k, v in CLEAN_INPUTS.items() if v == name)
        self.action_clean(kind, event.value)

    def save_form(self) -> None:
        """Save the retention limits the form shows."""
        if not self._writable("retention"):
            return
        values = {n: self.query_one(f"#{n}", Input).value for n in POLICY_INPUTS}
        try:
            policy = parse_policy(values)
        except UsageError as exc:
            self.notify(exc.cause, title="retention", severity="error", markup=False)
            return
        self.save(policy)

    def _writable(self, what: str) -> bool:
        if self.logsync.store.read_only:
            self.notify(
                "The store is open read-only (another logsync writes it).",
                title=what,
                severity="error",
            )
            return False
        return True

    def _ask(self, title: str, question: Text, then: Callable[[], object]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.app.push_screen(ConfirmDialog(title, question), answered)

    def _set_status(self, text: str) -> None:
        self.query_one("#status", Static).update(Text(text))

    def _syncing(self) -> bool:
        """True while a sync runs: compaction would break its cursor."""
        return any(w.group == "sync" and w.is_running for w in self.app.workers)

    @work(thread=True, exclusive=True, group="db", exit_on_error=False)
    def load(self) -> None:
        """Read usage, summary, limits and the quarantine on this thread's cursor."""
        store = self.logsync.store
        con = store.cursor()
        try:
            message = self._load_view(con, store.path)
        finally:
            con.close()
        self.post_message(message)

    @work(thread=True, exclusive=True, group="db.plan", exit_on_error=False)
    def plan(self, request: CleanRequest) -> None:
        """Count what `request` removes; a missing run reaches the app's handler."""
        con = self.logsync.store.cursor()
        try:
            counts = plan_clean(con, request)
        finally:
            con.close()
        self.post_message(CleanPlanned(request, counts))

    @work(thread=True, group="db.change", exit_on_error=False)
    def run_clean(self, request: CleanRequest, compact: bool) -> None:
        """Clean in one transaction, then compact when asked and worth it."""
        store = self.logsync.store
        con = store.cursor()
        try:
            counts = clean(con, request)
        finally:
            con.close()
        compacted = compact_if_worthwhile(store, counts.entries) if compact else None
        text = f"Removed {counts_text(counts)}{compacted_text(compacted)}."
        self.post_message(StoreChanged("clean", text))

    @work(thread=True, group="db.change", exit_on_error=False)
    def save(self, policy: RetentionPolicy) -> None:
        """Keep the retention limits in the store."""
        con = self.logsync.store.cursor()
        try:
            save_policy(con, policy)
        finally:
            con.close()
        self.post_message(
            StoreChanged("retention", f"Saved: {policy_text(policy)}; p applies them.")
        )

    @work(thread=True, group="db.change", exit_on_error=False)
    def apply_limits(self, compact: bool) -> None:
        """Apply the saved limits now (compacting only while no sync runs)."""
        result = apply_retention(self.logsync.store, compact=compact)
        self.post_message(StoreChanged("retention", retention_text(result)))

    @work(thread=True, group="db.change", exit_on_error=False)
    def retry(self) -> None:
        """Ingest the quarantine again as one recorded run."""
        con = self.logsync.store.cursor()
        try:
            r = retry_quarantine(con, self.logsync.settings.conflict_policy)
        finally:
            con.close()
        text = (
            f"Run {r.run_id}: retried {figures.count(r.tried)}, moved "
            f"{figures.count(r.moved)} ({figures.count(r.inserted)} new), "
            f"{figures.count(r.still_quarantined)} still quarantined."
        )
        self.post_message(StoreChanged("quarantine retry", text))

    @work(thread=True, group="db.change", exit_on_error=False)
    def purge(self) -> None:
        """Delete every quarantined entry."""
        con = self.logsync.store.cursor()
        try:
            purged = purge_quarantine(con)
        finally:
            con.close()
        text = f"Purged {quarantined(purged)}."
        self.post_message(StoreChanged("quarantine purge", text))

    def on_store_loaded(self, message: StoreLoaded) -> None:
        self._quarantined = message.summary.quarantined
        usage = self.query_one("#usage", Static)
        usage.update(usage_renderable(message.usage, message.summary))
        self.query_one("#retention").border_subtitle = policy_text(message.policy)
        self._fill_policy(message.policy)
        self._show_quarantine(message.quarantine, message.summary.quarantined)

    def on_clean_planned(self, message: CleanPlanned) -> None:
        counts, request = message.counts, message.request
        if not (counts.entries or counts.quarantined or counts.watermarks):
            self.notify(
                f"Nothing to clean for {describe(request)}.",
                title="clean",
                markup=False,
            )
            return
        question = Text(f"Clean {describe(request)}? This removes ")
        question.append(counts_text(counts), style="bold")
        question.append(". It cannot be undone.")
        self._ask(
            "Clean the store",
            question,
            lambda: self.run_clean(request, compact=not self._syncing()),
        )

    def on_store_changed(self, message: StoreChanged) -> None:
        self.notify(message.text, title=message.title, markup=False)
        self._set_status(message.text)
        self.load()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # StateChanged does not bubble: failures go to the app's one handler.
        self.logsync.on_worker_state_changed(event)

    def _fill_policy(self, policy: RetentionPolicy) -> None:
        for name, limit in LIMITS.items():
            field = self.query_one(f"#{name}", Input)
            if field.has_focus:
                continue
            value = getattr(policy, limit.field)
            field.value = "" if value is None else limit.show(value)

    def _show_quarantine(self, entries: list[QuarantinedEntry], total: int) -> None:
        table = self.query_one("#quarantine", DataTable)
        table.clear()
        for entry in entries:
            table.add_row(*quarantine_cells(entry))
        shown = f"{figures.count(len(entries))} of " if len(entries) < total else ""
        table.border_subtitle = f"{shown}{figures.plural(total, 'entry', 'entries')}"


def _labelled(label: str, name: str, placeholder: str) -> ComposeResult:
    yield Label(label)
    yield Input(id=name, placeholder=placeholder)


def describe(request: CleanRequest) -> str:
    """A clean request in a few words: `everything`, `trace a, b`."""
    if request.kind == "all":
        return "everything (and forget what the buffer had shown)"
    if request.kind == "older":
        return f"entries before {figures.date_time(request.before_ms)} UTC"
    if request.kind == "run":
        return f"the entries of run {request.run_id}"
    names = request.traces or request.users
    return f"{request.kind} {', '.join(one_line(n, 60) for n in names)}"


def counts_text(counts: CleanCounts) -> str:
    """`12 entries, 3 quarantined entries and 4 watermarks`."""
    parts = [figures.plural(counts.entries, "entry", "entries")]
    if counts.quarantined:
        parts.append(quarantined(counts.quarantined))
    if counts.watermarks:
        parts.append(figures.plural(counts.watermarks, "watermark"))
    return ", ".join(parts)


def quarantined(count: int) -> str:
    """`1 quarantined entry`, `3 quarantined entries`."""
    return figures.plural(count, "quarantined entry", "quarantined entries")


def compacted_text(pair: tuple[int, int] | None) -> str:
    """`; file 10 MB → 2 MB` after a compaction, else nothing."""
    if pair is None:
        return ""
    return f"; file {figures.size(pair[0])} → {figures.size(pair[1])}"


def retention_text(result: RetentionResult) -> str:
    """What a retention pass removed, by rule, and what compaction gave back."""
    removed = ", ".join(
        f"{figures.count(n)} by {rule.replace('_', ' ')}"
        for rule, n in result.removed_by_rule.items()
        if n
    )
    if not removed:
        return "Retention limits applied: nothing to remove."
    return f"Retention removed {removed}{compacted_text(result.compacted)}."


def policy_text(policy: RetentionPolicy) -> str:
    """The limits in a few words, or that the store keeps everything."""
    parts = []
    for name, limit in LIMITS.items():
        value = getattr(policy, limit.field)
        if value is not None:
            parts.append(f"{name} {limit.show(value)}")
    return ", ".join(parts) or "no limits: keeps everything"


def usage_renderable(usage: StorageUsage, summary: StoreSummary) -> Group:
    """File size, extent, then rows per table beside entries by system and level."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for label, value in (
        ("file size", file_text(usage)),
        (
            "entries",
            f"{figures.count(summary.entries)} in "
            f"{figures.plural(summary.traces, 'trace')}, "
            f"{figures.plural(summary.users, 'user')}",
        ),
        ("oldest", f"{figures.date_time(summary.oldest_ms)} UTC"),
        ("newest", f"{figures.date_time(summary.newest_ms)} UTC"),
        ("quarantine", figures.plural(summary.quarantined, "entry", "entries")),
    ):
        head.add_row(label, Text(value))
    columns = Table.grid(padding=(0, 3))
    columns.add_row(
        counts_grid("table", "rows", usage.tables, {}),
        counts_grid("system", "entries", summary.by_system, SYSTEM_STYLES),
        counts_grid("level", "entries", summary.by_level, LEVEL_STYLES),
    )
    path = Text(summary.path, style="dim", overflow="fold")
    return Group(path, head, Text(), columns)


def file_text(usage: StorageUsage) -> str:
    """The file's size and, once checkpointed, how much of it holds data."""
    size = figures.size(usage.file_bytes)
    if not usage.live_bytes:
        return size
    return f"{size} ({figures.size(usage.live_bytes)} in use)"


def counts_grid(
    label: str, unit: str, counts: dict[str, int], styles: dict[str, str]
) -> Table:
    """Names and counts, one per row, under a header."""
    table = Table.grid(padding=(0, 2))
    table.add_column()
    table.add_column(justify="right")
    table.add_row(
        Text(label, style="bold underline"), Text(unit, style="bold underline")
    )
    for name, value in counts.items():
        table.add_row(
            Text(one_line(name, 30), style=styles.get(name, "")),
            Text(figures.count(value)),
        )
    return table


def quarantine_cells(entry: QuarantinedEntry) -> tuple[Text, ...]:
    """One row of the quarantine table; key, reason and raw text are data."""
    index = "" if entry.source_index is None else str(entry.source_index)
    return (
        Text(one_line(entry.source_key, 40)),
        Text(index, justify="right"),
        Text(one_line(entry.reason, 50), style="yellow"),
        Text(str(entry.sync_run_id), justify="right"),
        Text(entry.quarantined_at.strftime("%Y-%m-%d %H:%M:%S")),
        Text(one_line(entry.raw_data, 120), style="dim"),
    )
