"""The Textual application: one App switching between its screens."""

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
from logsync_tui.logsetup import ledger_path
from logsync_tui.screens.export import ExportScreen
from logsync_tui.screens.logs import LogsScreen
from logsync_tui.screens.stats import StatsScreen
from logsync_tui.screens.store import StoreScreen, retention_text
from logsync_tui.screens.sync import SyncScreen
from logsync_tui.screens.traces import TracesScreen
from logsync_tui.sources.redis import RedisSource
from logsync_tui.sources.select import open_source, worker_beside
from logsync_tui.sources.worker import WorkerSource
from logsync_tui.storage import Store
from logsync_tui.storage.queries import LogFilter
from logsync_tui.storage.retention import RetentionResult, apply_retention
from logsync_tui.timeparse import now_ms

log = logging.getLogger(__name__)

SCREENS_DIR = Path(__file__).parent / "screens"

SCREEN_TITLES = {
    "stats": "Stats",
    "sync": "Sync",
    "logs": "Logs",
    "export": "Export",
    "traces": "Traces",
    "store": "Store",
}


class LogsyncApp(App[int]):
    """The logsync terminal app.

    Contract between the screens (kept by every screen module):
    - `LogsyncApp(settings, *, store=None, start=None, clock=now_ms)`
      (`start`: the first mode; `clock`: epoch ms, fixed in snapshot tests);
      `self.settings`, `self.store` (opened from `settings.db` when not
      given), `self.source` (`sources.select.open_source`: a `RedisSource`
      when a Redis URL is set, else a `WorkerSource` when a Worker URL is,
      else None: every screen must work on the local store alone), and
      `self.worker_beside` (the Worker too when both URLs are set).
    - Screens are Textual MODES named stats, sync, logs, export, traces,
      store, bound to the keys 1 to 6 and listed in the command palette.
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
        "store": StoreScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show('stats')", "Stats", id="app.stats"),
        Binding("2", "show('sync')", "Sync", id="app.sync"),
        Binding("3", "show('logs')", "Logs", id="app.logs"),
        Binding("4", "show('export')", "Export", id="app.export"),
        Binding("5", "show('traces')", "Traces", id="app.traces"),
        Binding("6", "show('store')", "Store", id="app.store"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        start: str | None = None,
        clock: Callable[[], int] = now_ms,
        ledger: Path | None = None,
        retained: RetentionResult | None = None,
    ) -> None:
        """`ledger`: the file carrying today's request count (none in tests);
        `retained`: what the retention pass at start removed, to announce."""
        super().__init__()
        self._start = start
        self.clock = clock
        self.settings = settings
        self._owns_store = store is None
        self.store: Store = store if store is not None else Store.open(settings.db)
        self.source: RedisSource | WorkerSource | None = open_source(settings, ledger)
        self.worker_beside: WorkerSource | None = (
            worker_beside(settings, self.source) if self.source is not None else None
        )
        self._retained = retained
        self.log_filter = LogFilter()
        self.selected_id: str | None = None

    def on_mount(self) -> None:
        self.switch_mode(self._start or self.start_mode())
        if self._retained is not None and self._retained.run_id is not None:
            self.notify(
                retention_text(self._retained),
                title="retention",
                timeout=10,
                markup=False,
            )
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
        """Switch to one of the screens."""
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
        for source in (self.source, self.worker_beside):
            if source is not None:
                source.close()
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
    only read it, the app opens it read-only. The retention limits are
    applied before the app starts, while no cursor exists that compaction
    could invalidate.
    """
    store = Store.open(
        settings.db,
        wait=settings.lock_wait,
        on_wait=_tell,
        fallback_read_only=True,
    )
    try:
        retained = retain_at_start(store)
        app = LogsyncApp(settings, store=store, ledger=ledger_path(), retained=retained)
        result = app.run()
    finally:
        store.close()
    return int(result or 0)


def retain_at_start(store: Store) -> RetentionResult | None:
    """Apply the store's retention limits, as every app start does.

    None for a read-only store, or when the pass failed (logged and told on
    stderr: the app still opens).
    """
    if store.read_only:
        return None
    try:
        return apply_retention(store)
    except LogsyncError as exc:
        log.warning("retention at start: %s", exc.one_line())
        _tell(f"retention not applied: {exc.one_line()}")
        return None


def _tell(text: str) -> None:
    sys.stderr.write(f"logsync: {text}\n")
    sys.stderr.flush()
