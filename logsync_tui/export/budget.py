"""Fitting the AI text export into a token budget.

Every error is kept, with its trace's summary. When even the summaries of
all traces do not fit, traces without errors are left out whole, oldest
first. Then, as far as the budget allows: warnings, the
entries next to each error and warning, then the rest from the newest back
(an entry too big for what is left is skipped, smaller older ones may still
fit). What is dropped is marked in its trace and summed up in the header.
"""

from __future__ import annotations

from collections.abc import Callable

from logsync_tui.export.spec import ExportReport, ExportSpec, estimate_tokens
from logsync_tui.export.text_out import (
    Block,
    Timeline,
    block_lines,
    render_markdown,
    trace_lines,
)
from logsync_tui.redact import Redactor

NEIGHBOURS = 2
"""Entries kept on each side of an error or warning."""
GAP_TOKENS = 30
"""Room kept for each line that marks a gap."""
_MAX_ROUNDS = 50
_REFILL_ROUNDS = 3


def fit_budget(
    spec: ExportSpec, timelines: list[Timeline], now_ms: int
) -> tuple[str, ExportReport]:
    """The markdown export cut down to `spec.max_tokens` (errors always kept)."""
    budget = spec.max_tokens
    if budget is None:
        return render_markdown(spec, timelines, None, now_ms)

    def render(shown: set[int] | None) -> tuple[str, ExportReport]:
        return render_markdown(spec, timelines, shown, now_ms)

    _measure(timelines, Redactor(spec.redact))
    skeleton = estimate_tokens(render(set())[0])
    if skeleton + sum(b.tokens for tl in timelines for b in tl.blocks) <= budget:
        whole = render(None)
        if whole[1].tokens_estimate <= budget:
            return whole
    if skeleton > budget:
        _drop_traces(budget, timelines, Redactor(spec.redact), render)
        skeleton = estimate_tokens(render(set())[0])
    live = [tl for tl in timelines if not tl.dropped]
    return _cut(budget, live, skeleton, render)


def _drop_traces(
    budget: int,
    timelines: list[Timeline],
    red: Redactor,
    render: Callable[[set[int] | None], tuple[str, ExportReport]],
) -> None:
    """Leave out whole traces without errors, oldest first, until the trace
    summaries fit (traces with errors always stay)."""
    for tl in timelines:
        tl.dropped = True
    used = estimate_tokens(render(set())[0])
    for tl in _trace_order(timelines):
        errors = [b for b in tl.blocks if b.first.level == "error"]
        cost = estimate_tokens("\n".join(trace_lines(tl, set(), red)))
        cost += sum(b.tokens + GAP_TOKENS for b in errors)
        if errors or used + cost <= budget:
            tl.dropped = False
            used += cost


def _trace_order(timelines: list[Timeline]) -> list[Timeline]:
    """Traces with errors first, then the rest from the newest back."""
    return sorted(
        timelines,
        key=lambda tl: (tl.summary.first_error is None, -tl.summary.end_ms),
    )


def _cut(
    budget: int,
    timelines: list[Timeline],
    skeleton: int,
    render: Callable[[set[int] | None], tuple[str, ExportReport]],
) -> tuple[str, ExportReport]:
    """Errors, then what fits in priority order; fewer until it really fits."""
    errors, anchored, rest = priority(timelines)
    gaps = _Gaps(timelines, [])
    fixed = skeleton
    for block in errors:
        fixed += block.tokens + gaps.delta(block) * GAP_TOKENS
        gaps.show(block)
    kept = _choose(budget, fixed, anchored + rest, gaps)
    for _ in range(_MAX_ROUNDS):
        text, report = render({id(b) for b in errors + kept})
        if report.tokens_estimate <= budget or not kept:
            gaps = _Gaps(timelines, errors + kept)
            return _refill(budget, render, (text, report), gaps, anchored + rest)
        kept = _drop(kept, report.tokens_estimate - budget)
    return text, report


def _refill(
    budget: int,
    render: Callable[[set[int] | None], tuple[str, ExportReport]],
    fitted: tuple[str, ExportReport],
    gaps: _Gaps,
    order: list[Block],
) -> tuple[str, ExportReport]:
    """Use what the estimates left unused, while the result still fits."""
    for _ in range(_REFILL_ROUNDS):
        used = fitted[1].tokens_estimate
        if used > budget or budget - used < GAP_TOKENS:
            return fitted
        extra = _choose(budget, used, [b for b in order if id(b) in gaps.hidden], gaps)
        if not extra:
            return fitted
        trial = render(set(gaps.where) - gaps.hidden)
        if trial[1].tokens_estimate > budget:
            return fitted
        fitted = trial
    return fitted


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


class _Gaps:
    """Which blocks are hidden, and how many gap lines that makes."""

    def __init__(self, timelines: list[Timeline], shown: list[Block]) -> None:
        self.where = {id(b): tl.blocks for tl in timelines for b in tl.blocks}
        self.index = {id(b): i for tl in timelines for i, b in enumerate(tl.blocks)}
        self.hidden = set(self.where) - {id(b) for b in shown}

    def delta(self, block: Block) -> int:
        """How the number of gaps changes when `block` is shown."""
        blocks, i = self.where[id(block)], self.index[id(block)]
        left = i > 0 and id(blocks[i - 1]) in self.hidden
        right = i + 1 < len(blocks) and id(blocks[i + 1]) in self.hidden
        return 1 if left and right else (0 if left or right else -1)

    def show(self, block: Block) -> None:
        """Mark `block` shown."""
        self.hidden.discard(id(block))


def _choose(
    budget: int,
    fixed: int,
    optional: list[Block],
    gaps: _Gaps,
) -> list[Block]:
    """Optional blocks that fit, in priority order; one too big is skipped."""
    used = fixed
    kept: list[Block] = []
    for block in optional:
        cost = block.tokens + gaps.delta(block) * GAP_TOKENS
        if used + cost <= budget:
            kept.append(block)
            gaps.show(block)
            used += cost
    return kept


def _drop(kept: list[Block], overshoot: int) -> list[Block]:
    """`kept` without its lowest-priority blocks worth at least `overshoot`."""
    freed = 0
    cut = len(kept)
    while cut > 0 and freed < overshoot:
        cut -= 1
        freed += kept[cut].tokens + GAP_TOKENS
    return kept[:cut]
