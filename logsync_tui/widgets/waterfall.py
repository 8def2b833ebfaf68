"""A trace's systems over time: one bar line per system, plus its error chains."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from logsync_tui.insight import TraceInsight, format_duration
from logsync_tui.widgets.safe_text import SYSTEM_STYLES

LABEL = 10
FIGURES = 18
BAR = "█"
CHAIN = "━"


def _span(start: int, end: int, t0: int, total: int, width: int) -> range:
    """The columns a [start, end] interval covers on a bar of `width` cells."""
    if total <= 0:
        return range(0, 1)
    first = min(width - 1, (start - t0) * width // total)
    last = min(width, -(-(end - t0) * width // total))
    return range(first, max(first + 1, last))


def render_waterfall(found: TraceInsight, width: int) -> Text:
    """The waterfall of `found` drawn `width` cells wide."""
    bar = max(10, width - LABEL - FIGURES)
    t0, total = found.trace.start_ms, found.trace.duration_ms
    out = Text(no_wrap=True, overflow="crop")
    out.append(f"{'':<{LABEL}}0")
    end = format_duration(total)
    out.append(" " * max(1, bar - 1 - len(end)) + end + "\n", style="dim")
    for share in found.systems:
        cells = [" "] * bar
        for seg in found.segments:
            if seg.system == share.system:
                for col in _span(seg.start_ms, seg.end_ms, t0, total, bar):
                    cells[col] = BAR
        percent = share.time_ms * 100 / total if total else 100.0
        out.append(f"{share.system[: LABEL - 1]:<{LABEL}}")
        out.append("".join(cells), style=SYSTEM_STYLES.get(share.system, ""))
        out.append(f" {format_duration(share.time_ms):>9} {percent:>4.0f}%\n")
    if found.chains:
        out.append(_chain_line(found, bar))
    out.rstrip()
    return out


def _chain_line(found: TraceInsight, bar: int) -> Text:
    cells = [" "] * bar
    t0, total = found.trace.start_ms, found.trace.duration_ms
    for chain in found.chains:
        for col in _span(chain.start_ms, chain.end_ms, t0, total, bar):
            cells[col] = CHAIN
    line = Text(f"{'errors':<{LABEL}}", style="bold red")
    line.append("".join(cells), style="red")
    return line


class Waterfall(Static):
    """Draws a TraceInsight as a waterfall that follows the widget's width."""

    DEFAULT_CSS = """
    Waterfall {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.insight: TraceInsight | None = None

    def show(self, found: TraceInsight | None) -> None:
        """Draw `found` (or nothing)."""
        self.insight = found
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if self.insight is None:
            self.update("")
            return
        width = self.content_region.width or 80
        self.update(render_waterfall(self.insight, width))
