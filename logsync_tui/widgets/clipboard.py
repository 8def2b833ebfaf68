"""Copying text out of the app: the system clipboard, else OSC 52 and a file.

On a headless box or over SSH there may be no clipboard program at all; the
export package's `copy_text` then sends the text to the terminal as an OSC 52
sequence (which many terminals forward to the local clipboard) and writes it
to a file whose path the notification shows, so nothing is lost.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs
from textual.app import App

from logsync_tui.export.deliver import CopyOutcome, copy_text


def fallback_dir(export_dir: Path | None) -> Path:
    """Where copies that reached no clipboard are written."""
    if export_dir is not None:
        return export_dir
    return Path(platformdirs.user_state_dir("logsync")) / "copies"


def copy_and_notify(
    app: App[object], text: str, *, what: str, export_dir: Path | None = None
) -> CopyOutcome:
    """Copy `text` from the event loop and tell the user where it went."""
    outcome = copy_text(
        text, osc52=app.copy_to_clipboard, fallback_dir=fallback_dir(export_dir)
    )
    app.notify(
        f"{what}: {outcome.message}",
        title="clipboard",
        severity="information" if outcome.copied else "warning",
        timeout=15 if outcome.path else 5,
        markup=False,
    )
    return outcome
