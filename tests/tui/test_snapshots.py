"""SVG snapshots of the Logs and Export screens: fixed data, fixed terminal size.

Regenerate with `pytest tests/tui/test_snapshots.py --snapshot-update` and
review the SVGs under tests/tui/__snapshots__ before committing them.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot

from logsync_tui.app import LogsyncApp
from logsync_tui.storage import Store
from tests.tui.conftest import Entries, entry
from tests.tui.test_export_screen import export_ready
from tests.tui.test_logs_screen import settle

SIZE = (150, 34)
MakeApp = Callable[..., LogsyncApp]
Synced = Callable[[Entries], Store]
Snap = Callable[..., bool]


def snapshot_rows() -> Entries:
    """A small, fixed timeline with every level, system and some hostile text."""
    rows = [entry(n) for n in range(24)]
    rows[3]["message"] = "[bold]not bold[/] and [link=http://x]no link[/link] [red"
    rows[7]["message"] = "line one\nline two\r\nline three\tend"
    rows[7]["stack"] = "Error: boom\n    at one (a.js:1:1)\n    at two (b.js:2:2)"
    rows[11]["message"] = "\x1b[31mansi red\x1b[0m and nul\x00byte"
    rows[15]["message"] = "payload=" + "ab3Xy9" * 200 + "|END"
    rows[19]["context"] = {"request": {"path": "/api/pay", "retries": [1, 2]}}
    return rows


async def wait_logs(pilot: Pilot[object]) -> None:
    await settle(pilot)


def test_logs_open(snap_compare: Snap, synced: Synced, make_app: MakeApp) -> None:
    app = make_app(synced(snapshot_rows()))
    assert snap_compare(app, terminal_size=SIZE, run_before=wait_logs)


def test_logs_search(snap_compare: Snap, synced: Synced, make_app: MakeApp) -> None:
    app = make_app(synced(snapshot_rows()))

    async def run_before(pilot: Pilot[object]) -> None:
        await settle(pilot)
        await pilot.press("slash", *"line")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_logs_detail(snap_compare: Snap, synced: Synced, make_app: MakeApp) -> None:
    app = make_app(synced(snapshot_rows()))

    async def run_before(pilot: Pilot[object]) -> None:
        await settle(pilot)
        await pilot.press(*["down"] * 16, "enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_logs_filters(snap_compare: Snap, synced: Synced, make_app: MakeApp) -> None:
    app = make_app(synced(snapshot_rows()))

    async def run_before(pilot: Pilot[object]) -> None:
        await settle(pilot)
        await pilot.press("f", "space", "escape")
        await settle(pilot)
        await pilot.press("f")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_export_json(snap_compare: Snap, synced: Synced, make_app: MakeApp) -> None:
    app = make_app(synced(snapshot_rows()))

    async def run_before(pilot: Pilot[object]) -> None:
        await settle(pilot)
        await pilot.press("t", "4")
        await export_ready(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
