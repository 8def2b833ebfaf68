"""The Export screen: the Logs view, a trace or one row as JSON, AI text or CSV.

It drives `logsync_tui.export`: the same writers as `logsync export`, so
what the screen copies or saves is what the command line would write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, RadioButton, RadioSet, Static, Switch
from textual.worker import get_current_worker

from logsync_tui.export import (
    ExportSpec,
    default_filename,
    preview_export,
    render_export,
    save_export,
    write_export,
)
from logsync_tui.export.deliver import copy_text
from logsync_tui.messages import ExportMeasured, ExportPreview
from logsync_tui.storage.queries import LogFilter, LogRow, get_entry
from logsync_tui.widgets.clipboard import fallback_dir
from logsync_tui.widgets.safe_text import multi_line

log = logging.getLogger(__name__)

FORMATS = (("json", "JSON"), ("text", "AI text (markdown)"), ("csv", "CSV"))
SCOPES = (("view", "Logs view"), ("trace", "Row's trace"), ("row", "Selected row"))


class _Counter:
    """A binary stream that only counts: measures an export without keeping it."""

    def write(self, data: bytes) -> int:
        return len(data)


@dataclass(frozen=True)
class Choice:
    """The screen's options, turned into an ExportSpec by `spec_for`."""

    format: str = "json"
    scope: str = "view"
    redact: bool = True
    max_tokens: int | None = None


def spec_for(choice: Choice, view: LogFilter, row: LogRow | None) -> ExportSpec:
    """The export the options describe, for the Logs filter and selected row."""
    flt = view
    if choice.scope == "trace" and row is not None:
        flt = LogFilter(traces=(row.trace_id,))
    elif choice.scope == "row" and row is not None:
        # A row is named by trace and millisecond: two entries of one trace
        # logged in the same millisecond are exported together.
        flt = LogFilter(
            traces=(row.trace_id,), since_ms=row.timestamp, until_ms=row.timestamp
        )
    max_tokens = choice.max_tokens if choice.format == "text" else None
    return ExportSpec(
        format=choice.format, filter=flt, redact=choice.redact, max_tokens=max_tokens
    )


class ExportScreen(Screen[None]):
    """Choose format, scope and redaction; preview, then copy or save."""

    CSS_PATH = "export.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "copy", "Copy", id="export.copy"),
        Binding("s", "save", "Save", id="export.save"),
        Binding("f", "cycle_format", "Format", id="export.format"),
        Binding("r", "toggle_redact", "Redaction", id="export.redact"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.choice = Choice()
        self.row: LogRow | None = None
        self.spec = ExportSpec(format="json")
        self.preview_text = ""
        self.measured: Any = None

    def compose(self) -> Any:
        with Horizontal(id="export-options"):
            with RadioSet(id="format"):
                for value, label in FORMATS:
                    yield RadioButton(label, value == "json", name=value)
            with RadioSet(id="scope"):
                for value, label in SCOPES:
                    yield RadioButton(label, value == "view", name=value)
            with VerticalScroll(id="export-switches"):
                yield Label("Redact secrets")
                yield Switch(True, id="redact")
                yield Label("Token budget (AI text)")
                yield Input(placeholder="no limit", id="max-tokens", type="integer")
        yield Static(id="export-info")
        with VerticalScroll(id="preview-box"):
            yield Static(id="preview")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#format").border_title = "Format"
        self.query_one("#scope").border_title = "Scope"
        self.query_one("#preview-box").border_title = "Preview"

    def on_screen_resume(self) -> None:
        self._load_row(self.app.selected_id)  # type: ignore[attr-defined]

    @work(thread=True, exclusive=True, group="db.export.row", exit_on_error=False)
    def _load_row(self, entry_id: str | None) -> None:
        row = None
        if entry_id is not None:
            row = get_entry(self.app.store.cursor(), entry_id)  # type: ignore[attr-defined]
        self.app.call_from_thread(self._set_row, row)

    def _set_row(self, row: LogRow | None) -> None:
        self.row = row
        self.refresh_export()

    def refresh_export(self) -> None:
        """Rebuild the spec from the options and start preview and measure."""
        view = self.app.log_filter  # type: ignore[attr-defined]
        self.spec = spec_for(self.choice, view, self.row)
        self.measured = None
        self._show_info()
        self._preview(self.spec)
        self._measure(self.spec)

    @work(thread=True, exclusive=True, group="db.export.preview", exit_on_error=False)
    def _preview(self, spec: ExportSpec) -> None:
        con = self.app.store.cursor()  # type: ignore[attr-defined]
        now = self.app.clock()  # type: ignore[attr-defined]
        text, cut = preview_export(con, spec, max_chars=20_000, now_ms=now)
        self.post_message(ExportPreview(spec, text, cut))

    @work(thread=True, exclusive=True, group="db.export.measure", exit_on_error=False)
    def _measure(self, spec: ExportSpec) -> None:
        con = self.app.store.cursor()  # type: ignore[attr-defined]
        now = self.app.clock()  # type: ignore[attr-defined]
        report = write_export(con, spec, _Counter(), now_ms=now)  # type: ignore[arg-type]
        if not get_current_worker().is_cancelled:
            self.post_message(ExportMeasured(spec, report))

    def on_export_preview(self, message: ExportPreview) -> None:
        if message.spec != self.spec:
            return
        self.preview_text = message.text
        text = Text(multi_line(message.text), end="")
        if message.cut:
            text.append("\n… (preview cut; copy or save writes it whole)", "dim")
        self.query_one("#preview", Static).update(text)

    def on_export_measured(self, message: ExportMeasured) -> None:
        if message.spec == self.spec:
            self.measured = message.report
            self._show_info()

    def _show_info(self) -> None:
        text = Text(end="")
        text.append(dict(SCOPES)[self.choice.scope], style="bold")
        if self.choice.scope != "view" and self.row is None:
            text.append(" (no row selected on the Logs screen: the view is used)")
        text.append(f" · {dict(FORMATS)[self.choice.format]}")
        text.append(" · redaction " + ("on" if self.choice.redact else "OFF"))
        report = self.measured
        if report is None:
            text.append(" · measuring…", style="dim")
        else:
            text.append(
                f" · {report.entries:,} entries in {report.traces:,} traces · "
                f"{report.bytes:,} bytes · ~{report.tokens_estimate:,} tokens"
            )
        self.query_one("#export-info", Static).update(text)

    @on(RadioSet.Changed)
    def _radio_changed(self, event: RadioSet.Changed) -> None:
        value = event.pressed.name or ""
        if event.radio_set.id == "format":
            self._choose(format=value)
        else:
            self._choose(scope=value)

    @on(Switch.Changed)
    def _switch_changed(self, event: Switch.Changed) -> None:
        self._choose(redact=event.value)

    @on(Input.Changed, "#max-tokens")
    def _budget_changed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        budget = int(text) if text.isdigit() and int(text) > 0 else None
        self._choose(max_tokens=budget)

    def _choose(self, **changes: Any) -> None:
        fields = {**self.choice.__dict__, **changes}
        choice = Choice(**fields)
        if choice != self.choice:
            self.choice = choice
            self.refresh_export()

    def action_cycle_format(self) -> None:
        """Switch to the next format."""
        names = [value for value, _ in FORMATS]
        following = names[(names.index(self.choice.format) + 1) % len(names)]
        buttons = self.query_one("#format", RadioSet).query(RadioButton)
        next(b for b in buttons if b.name == following).value = True

    def action_toggle_redact(self) -> None:
        """Turn secret redaction on or off."""
        switch = self.query_one("#redact", Switch)
        switch.value = not switch.value

    def action_copy(self) -> None:
        """Copy the whole export to the clipboard."""
        self._copy(self.spec)

    def action_save(self) -> None:
        """Write the whole export to a new file."""
        self._save(self.spec)

    @work(thread=True, exclusive=True, group="db.export.copy", exit_on_error=False)
    def _copy(self, spec: ExportSpec) -> None:
        con = self.app.store.cursor()  # type: ignore[attr-defined]
        text, report = render_export(con, spec, now_ms=self.app.clock())  # type: ignore[attr-defined]
        settings = self.app.settings  # type: ignore[attr-defined]
        outcome = copy_text(
            text,
            osc52=lambda data: self.app.call_from_thread(
                self.app.copy_to_clipboard, data
            ),
            fallback_dir=fallback_dir(settings.export_dir),
        )
        self.notify(
            f"{outcome.message} {report.summary()}",
            title="clipboard",
            severity="information" if outcome.copied else "warning",
            timeout=15,
            markup=False,
        )

    @work(thread=True, exclusive=True, group="db.export.save", exit_on_error=False)
    def _save(self, spec: ExportSpec) -> None:
        settings = self.app.settings  # type: ignore[attr-defined]
        folder = Path(settings.export_dir or Path.cwd())
        now = self.app.clock()  # type: ignore[attr-defined]
        path = folder / default_filename(spec, now)
        con = self.app.store.cursor()  # type: ignore[attr-defined]
        report = save_export(con, spec, path, now_ms=now)
        self.notify(
            f"Saved to {path}: {report.summary()}",
            title="export",
            timeout=15,
            markup=False,
        )
