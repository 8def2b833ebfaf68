"""Fitting the AI text export into a token budget.

Every error is kept. Then, as far as the budget allows: warnings, the
entries next to each error and warning, then the rest from the newest back
(an entry too big for what is left is skipped, smaller older ones may still
fit). What is dropped is marked in its trace and summed up in the header.
"""

from __future__ import annotations

from logsync_tui.export.spec import ExportReport, ExportSpec, estimate_tokens
from logsync_tui.export.text_out import Block, Timeline, block_lines, render_markdown
from logsync_tui.redact import Redactor

NEIGHBOURS = 2
"""Entries kept on each side of an error or warning."""
GAP_TOKENS = 30
"""Room kept for the line that marks a gap (each kept block may open one)."""
_MAX_ROUNDS = 50


def fit_budget(
    spec: ExportSpec, timelines: list[Timeline], now_ms: int
) -> tuple[str, ExportReport]:
    """The markdown export cut down to `spec.max_tokens` (errors always kept)."""
    budget = spec.max_tokens
    text, report = render_markdown(spec, timelines, None, now_ms)
    if budget is None or report.tokens_estimate <= budget:
        return text, report
    _measure(timelines, Redactor(spec.redact))
    errors, anchored, rest = priority(timelines)
    skeleton, _ = render_markdown(spec, timelines, set(), now_ms)
    fixed = estimate_tokens(skeleton) + sum(b.tokens + GAP_TOKENS for b in errors)
    kept = _choose(budget, fixed, anchored + rest)
    for _ in range(_MAX_ROUNDS):
        shown = {id(b) for b in errors + kept}
        text, report = render_markdown(spec, timelines, shown, now_ms)
        if report.tokens_estimate <= budget or not kept:
            return text, report
        kept = _drop(kept, report.tokens_estimate - budget)
    return text, report


def _measure(timelines: list[Timeline], red: Redactor) -> None:
    for tl in timelines:
        for block in tl.blocks:
            lines = block_lines(block, red, show_user=True)
            block.tokens = estimate_tokens("\n".join(lines) + "\n")


def priority(
    timelines: list[Timeline],
) -> tuple[list[Block], list[Block], list[Block]]:
    """Blocks by how the budget takes them: errors, anchored, the rest by recency.

    Anchored blocks are warnings and the neighbours of errors (first) and of
    warnings; the rest comes newest first.
    """
    errors: list[Block] = []
    warns: list[Block] = []
    anchors: list[tuple[Timeline, int]] = []
    for tl in timelines:
        for i, block in enumerate(tl.blocks):
            if block.first.level in ("error", "warn"):
                (errors if block.first.level == "error" else warns).append(block)
                anchors.append((tl, i))
    anchors.sort(key=lambda a: a[0].blocks[a[1]].first.level != "error")
    taken = {id(b) for b in errors + warns}
    near: list[Block] = []
    for tl, i in anchors:
        for block in tl.blocks[max(0, i - NEIGHBOURS) : i + NEIGHBOURS + 1]:
            if id(block) not in taken:
                taken.add(id(block))
                near.append(block)
    rest = [b for tl in timelines for b in tl.blocks if id(b) not in taken]
    rest.sort(key=lambda b: (b.end_ms, b.first.id), reverse=True)
    return errors, warns + near, rest


def _choose(budget: int, fixed: int, optional: list[Block]) -> list[Block]:
    """Optional blocks that fit, in priority order; one too big is skipped."""
    used = fixed
    kept: list[Block] = []
    for block in optional:
        if used + block.tokens + GAP_TOKENS <= budget:
            kept.append(block)
            used += block.tokens + GAP_TOKENS
    return kept


def _drop(kept: list[Block], overshoot: int) -> list[Block]:
    """`kept` without its lowest-priority blocks worth at least `overshoot`."""
    freed = 0
    cut = len(kept)
    while cut > 0 and freed < overshoot:
        cut -= 1
        freed += kept[cut].tokens + GAP_TOKENS
    return kept[:cut]
