"""Pilot tests of the Export screen: preview, formats, scope, redaction, copy, save."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from logsync_tui.app import LogsyncApp
from logsync_tui.screens.export import ExportScreen
from logsync_tui.storage import Store
from tests.tui.conftest import Entries, entry
from tests.tui.test_log_cases import no_clipboard  # noqa: F401
from tests.tui.test_logs_screen import SIZE, settle

MakeApp = Callable[..., LogsyncApp]
Synced = Callable[[Entries], Store]


def rows() -> Entries:
    out = [entry(n) for n in range(12)]
    out[4]["context"] = {"password": "hunter2", "step": "login"}
    return out


async def export_ready(pilot: Pilot[object]) -> ExportScreen:
    """Wait until the Export screen's preview and measurement are in."""
    screen = pilot.app.screen
    assert isinstance(screen, ExportScreen)
    for _ in range(200):
        await pilot.pause(0.02)
        await pilot.app.workers.wait_for_complete()
        if screen.measured is not None and screen.preview_text:
            return screen
    raise AssertionError("the Export screen never finished measuring")


async def test_preview_follows_logs_filter_and_format(
    synced: Synced, make_app: MakeApp
) -> None:
    store = synced(rows())
    async with make_app(store).run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"number 1", "enter")
        await settle(pilot)
        await pilot.press("4")
        screen = await export_ready(pilot)
        assert screen.measured.entries == 3
        document = json.loads(screen.preview_text)
        assert isinstance(document, dict)
        assert "number 1" in screen.preview_text
        assert "number 2" not in screen.preview_text
        await pilot.press("f", "f")
        screen = await export_ready(pilot)
        assert screen.spec.format == "csv"
        records = list(csv.reader(io.StringIO(screen.preview_text)))
        assert len(records) == 4


async def test_scope_trace_of_selected_row(synced: Synced, make_app: MakeApp) -> None:
    store = synced(rows())
    async with make_app(store).run_test(size=SIZE) as pilot:
        logs = await settle(pilot)
        row = logs.table.current
        assert row is not None
        await pilot.press("4")
        screen = await export_ready(pilot)
        assert screen.measured.entries == 12
        screen.query_one("#scope").query("RadioButton")[1].value = True
        screen = await export_ready(pilot)
        await pilot.pause(0.1)
        screen = await export_ready(pilot)
        assert screen.spec.scope().traces == (row.trace_id,)
        assert screen.measured.entries == 4


async def test_redaction_toggle(synced: Synced, make_app: MakeApp) -> None:
    store = synced(rows())
    async with make_app(store).run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        screen = await export_ready(pilot)
        assert "hunter2" not in screen.preview_text
        await pilot.press("r")
        await pilot.pause(0.1)
        screen = await export_ready(pilot)
        assert not screen.spec.redact
        assert "hunter2" in screen.preview_text


async def test_03_copy_falls_back_then_save_still_works(
    no_clipboard: None,  # noqa: F811
    synced: Synced,
    make_app: MakeApp,
    tmp_path: Path,
) -> None:
    store = synced(rows())
    out = tmp_path / "exports"
    app = make_app(store, export_dir=out)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await export_ready(pilot)
        await pilot.press("c")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        notes = [n for n in app._notifications if n.title == "clipboard"]
        assert len(notes) == 1
        assert "clipboard" in notes[0].message
        copied = list(out.iterdir())
        assert len(copied) == 1
        assert str(copied[0]) in notes[0].message
        assert json.loads(copied[0].read_text(encoding="utf-8"))
        await pilot.press("s")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        saved = [p for p in out.iterdir() if p.suffix == ".json"]
        assert len(saved) == 1
        assert json.loads(saved[0].read_text(encoding="utf-8"))
        assert app.is_running
