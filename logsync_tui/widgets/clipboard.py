"""Copying text out of the app: the system clipboard, else OSC 52 and a file.

On a headless box or over SSH there may be no clipboard program at all; the
text is then sent to the terminal as an OSC 52 sequence (which many
terminals forward to the local clipboard) and also written to a file whose
path the notification shows, so nothing is lost.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import platformdirs
import pyperclip
from textual.app import App

log = logging.getLogger(__name__)


def fallback_dir(export_dir: Path | None) -> Path:
    """Where copies that reached no clipboard are written."""
    if export_dir is not None:
        return export_dir
    return Path(platformdirs.user_state_dir("logsync")) / "copies"


def write_fallback(text: str, folder: Path, stem: str, suffix: str) -> Path:
    """Write `text` to a new file in `folder` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = folder / f"{stem}-{stamp}{suffix}"
    number = 1
    while path.exists():
        number += 1
        path = folder / f"{stem}-{stamp}-{number}{suffix}"
    path.write_text(text, encoding="utf-8", newline="")
    return path


def copy_text(
    app: App[object],
    text: str,
    *,
    what: str,
    export_dir: Path | None = None,
    suffix: str = ".json",
) -> Path | None:
    """Copy `text`; returns the fallback file when no clipboard took it."""
    try:
        pyperclip.copy(text)
    except pyperclip.PyperclipException as exc:
        log.info("no system clipboard: %s", exc)
    else:
        app.notify(f"Copied {what} to the clipboard ({len(text):,} characters).")
        return None
    app.copy_to_clipboard(text)
    try:
        path = write_fallback(text, fallback_dir(export_dir), "copy", suffix)
    except OSError as exc:
        app.notify(
            f"No system clipboard found and the copy file could not be written "
            f"({exc.strerror}); {what} was sent to the terminal via OSC 52 only.",
            title="clipboard",
            severity="warning",
            markup=False,
        )
        return None
    app.notify(
        f"No system clipboard found: {what} was sent to the terminal via OSC 52 "
        f"and saved to {path}",
        title="clipboard",
        severity="warning",
        timeout=15,
        markup=False,
    )
    return path
