"""The errors logsync shows to people, and the exit codes of its commands."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit status of every `logsync` command."""

    OK = 0
    """The command did what it was asked."""
    FAILURE = 1
    """It could not: the reason is one line on stderr."""
    USAGE = 2
    """The command line itself was wrong."""
    INTERRUPTED = 130
    """Ctrl-C: work done so far is kept and consistent."""


class LogsyncError(Exception):
    """An error a user can act on: a short title and one sentence of cause."""

    title = "error"

    def __init__(self, cause: str, *, title: str | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        if title is not None:
            self.title = title

    def one_line(self) -> str:
        """The error as `title: cause` on a single line."""
        text = f"{self.title}: {self.cause}"
        return " ".join(text.split())


class UsageError(LogsyncError):
    """The command line or a setting is malformed."""

    title = "usage"


class ConfigError(LogsyncError):
    """The configuration file or environment holds something unusable."""

    title = "configuration"


class SourceError(LogsyncError):
    """Redis or the Worker could not be reached or answered badly."""

    title = "source"


class StoreError(LogsyncError):
    """The DuckDB store could not be opened, read or written."""

    title = "store"


class StoreLockedError(StoreError):
    """Another process holds the lock on the store file."""

    title = "store locked"
    pid: int | None = None
    """The holder's process id, when DuckDB names it."""
    holder: str = "another process"
    readers_only: bool = False
    """True when the holders only read, so a read-only open would succeed."""


class SyncCancelled(LogsyncError):
    """A sync was cancelled; what it committed before stopping is kept."""

    title = "cancelled"


class ExportError(LogsyncError):
    """An export could not be written or delivered."""

    title = "export"
