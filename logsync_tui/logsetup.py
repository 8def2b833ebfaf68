"""Logging to a rotating file in the user's state dir, never to the terminal."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

import platformdirs

from logsync_tui.redact import RedactingFilter


def log_path() -> Path:
    """Where logsync writes its log (LOGSYNC_LOG_FILE overrides it)."""
    override = os.environ.get("LOGSYNC_LOG_FILE")
    if override:
        return Path(override)
    return Path(platformdirs.user_state_dir("logsync")) / "logsync.log"


def ledger_path() -> Path:
    """Where the shared rate limiter keeps today's request count, beside the log."""
    return log_path().parent / "requests.json"


def setup_logging(level: int = logging.INFO) -> Path:
    """Send every logger's records to the rotating log file and return its path."""
    path = log_path()
    root = logging.getLogger()
    if any(getattr(h, "_logsync", False) for h in root.handlers):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=5_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        # An unwritable state dir must not stop the tool: records are dropped.
        handler = logging.NullHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactingFilter())
    handler._logsync = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return path
