"""The live progress of a sync: a bar over keys, and the figures beside it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from logsync_tui.sync import SyncProgress
from logsync_tui.widgets import figures


def progress_text(progress: SyncProgress) -> Text:
    """Keys, entries, rate and ETA of a running sync, on one line."""
    keys = f"{figures.count(progress.keys_done)} / {figures.count(progress.keys_total)}"
    text = Text()
    text.append("keys ", style="dim")
    text.append(keys)
    text.append(" · entries ", style="dim")
    text.append(f"{figures.count(progress.entries_read)} read, ")
    text.append(f"{figures.count(progress.entries_inserted)} new")
    text.append(" · rate ", style="dim")
    text.append(figures.rate(progress.rate))
    text.append(" · ETA ", style="dim")
    text.append(figures.duration(progress.eta))
    text.append(" · elapsed ", style="dim")
    text.append(figures.duration(progress.elapsed))
    return text


class SyncProgressPanel(Vertical):
    """A progress bar over the keys of a sync, with keys, entries, rate and ETA."""

    DEFAULT_CSS = """
    SyncProgressPanel {
        height: auto;
    }
    SyncProgressPanel ProgressBar {
        width: 1fr;
    }
    SyncProgressPanel ProgressBar Bar {
        width: 1fr;
    }
    SyncProgressPanel #progress-figures {
        height: 1;
    }
    """

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=1, show_eta=False, id="progress-bar")
        yield Static(Text("No sync running.", style="dim"), id="progress-figures")

    def show(self, progress: SyncProgress) -> None:
        """Move the bar and the figures to `progress`."""
        bar = self.query_one(ProgressBar)
        if progress.keys_total:
            bar.update(total=progress.keys_total, progress=progress.keys_done)
        self.query_one("#progress-figures", Static).update(progress_text(progress))

    def start(self, what: Text) -> None:
        """Reset the bar for a new run described by `what`."""
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one("#progress-figures", Static).update(what)

    def stop(self, text: Text) -> None:
        """Leave the bar where it is and replace the figures with `text`."""
        bar = self.query_one(ProgressBar)
        if bar.total is None:
            bar.update(total=1, progress=0)
        self.query_one("#progress-figures", Static).update(text)
