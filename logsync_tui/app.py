"""The Textual application: one App switching between the four screens."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path, PurePath
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from logsync_tui.config import Settings
from logsync_tui.errors import LogsyncError
from logsync_tui.screens.export import ExportScreen
from logsync_tui.screens.logs import LogsScreen
from logsync_tui.screens.stats import StatsScreen
from logsync_tui.screens.sync import SyncScreen
from logsync_tui.screens.traces import TracesScreen
from logsync_tui.sources.redis import RedisSource
from logsync_tui.storage import Store
from logsync_tui.storage.queries import LogFilter
from logsync_tui.timeparse import now_ms

log = logging.getLogger(__name__)

SCREENS_DIR = Path(__file__).parent / "screens"

SCREEN_TITLES = {
    "stats": "Stats",
    "sync": "Sync",
    "logs": "Logs",
    "export": "Export",
    "traces": "Traces",
}


class LogsyncApp(App[int]):
    """The logsync terminal app.

    Contract between the screens (kept by every screen module):
    - `LogsyncApp(settings, *, store=None, start=None, clock=now_ms)`
      (`start`: the first mode; `clock`: epoch ms, fixed in snapshot tests);
      `self.settings`, `self.store` (opened from `settings.db` when not
      given), `self.source` (a
      `RedisSource` from `settings.redis_url`, else None: every screen must
      work on the local store alone).
    - Screens are Textual MODES named stats, sync, logs, export, traces,
      bound to the keys 1 to 5 and listed in the command palette.
    - `self.log_filter` / `self.selected_id`: what the Logs screen shows and
      which row is under its cursor; the Export screen reads them.
    - Workers that fail with a LogsyncError are reported by
      `on_worker_state_changed` here; screens need no handler of their own.
    """

    TITLE = "logsync"
    # The Logs and Export styles, read once at start: a screen whose CSS is
    # already loaded opens without Textual re-parsing every stylesheet.
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        SCREENS_DIR / "logs.tcss",
        SCREENS_DIR / "export.tcss",
    ]
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "stats": StatsScreen,
        "sync": SyncScreen,
        "logs": LogsScreen,
        "export": ExportScreen,
        "traces": TracesScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show('stats')", "Stats", id="app.stats"),
        Binding("2", "show('sync')", "Sync", id="app.sync"),
        Binding("3", "show('logs')", "Logs", id="app.logs"),
        Binding("4", "show('export')", "Export", id="app.export"),
        Binding("5", "show('traces')", "Traces", id="app.traces"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        start: str | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        super().__init__()
        self._start = start
        self.clock = clock
        self.settings = settings
        self._owns_store = store is None
        self.store: Store = store if store is not None else Store.open(settings.db)
        self.source: RedisSource | None = (
            RedisSource(settings.redis_url) if settings.redis_url else None
        )
        self.log_filter = LogFilter()
        self.selected_id: str | None = None

    def on_mount(self) -> None:
        self.switch_mode(self._start or self.start_mode())
        if self.store.read_only:
            self.notify(
                f"{self.store.path} is open in another logsync, so it was opened "
                "read-only: browsing and exports work, syncs and undo do not.",
                title="store read-only",
                severity="warning",
                timeout=15,
                markup=False,
            )

    def start_mode(self) -> str:
        """The first screen: Stats when it exists, else the Logs."""
        return "stats" if "stats" in self.MODES else "logs"

    def action_show(self, mode: str) -> None:
        """Switch to one of the four screens."""
        self.switch_mode(mode)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for mode in self.MODES:
            title = SCREEN_TITLES.get(mode, mode)
            yield SystemCommand(
                f"Show {title}",
                f"Switch to the {title} screen",
                lambda mode=mode: self.switch_mode(mode),
            )
        yield from screen_commands(screen)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Show a failed worker's error; the app stays up."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, LogsyncError):
            self.notify(error.cause, title=error.title, severity="error", markup=False)
            return
        log.error("worker %s failed", event.worker.name, exc_info=error)
        self.notify(
            f"{type(error).__name__}: {error}; details in the log file",
            title="internal error",
            severity="error",
            markup=False,
        )

    def on_unmount(self) -> None:
        if self.source is not None:
            self.source.close()
        if self._owns_store:
            self.store.close()


def screen_commands(screen: Screen[object]) -> Iterable[SystemCommand]:
    """A palette command for every described key of the screen and its focus."""
    seen: set[str] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if binding.id is None or binding.id.startswith("app."):
            continue
        if binding.action in seen or not active.enabled:
            continue
        seen.add(binding.action)
        yield SystemCommand(
            binding.description,
            f"Key {screen.app.get_key_display(binding)} ({binding.id})",
            partial(screen.app.run_action, binding.action, active.node),
        )


def run_app(settings: Settings) -> int:
    """Run the app until the user quits; the exit status for the CLI.

    The store is opened before the screen is taken over, so waiting for a
    busy file is reported on stderr like any command; when other processes
    only read it, the app opens it read-only.
    """
    store = Store.open(
        settings.db,
        wait=settings.lock_wait,
        on_wait=_tell,
        fallback_read_only=True,
    )
    try:
        result = LogsyncApp(settings, store=store).run()
    finally:
        store.close()
    return int(result or 0)


def _tell(text: str) -> None:
    sys.stderr.write(f"logsync: {text}\n")
    sys.stderr.flush()
