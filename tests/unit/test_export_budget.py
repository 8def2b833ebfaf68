"""The AI text token budget: respected, every error kept, omissions stated."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from logsync_tui.export import ExportSpec, estimate_tokens, render_export
from logsync_tui.sources.embedded import EmbeddedRedis
from logsync_tui.storage import Store
from tests.unit.test_export_formats import synced_store

T0 = 1_796_000_000_000
TOTAL = 240


def level_of(n: int) -> str:
    if n % 37 == 5:
        return "error"
    if n % 29 == 3:
        return "warn"
    return ("log", "info")[n % 2]


def entries() -> list[dict[str, Any]]:
    out = []
    for n in range(TOTAL):
        out.append({
            "id": f"{T0 + n * 10}_b{n:08d}",
            "trace_id": f"t-budget-{n % 2}",
            "user_id": f"u{n % 3}",
            "system": ("browser", "convex", "worker")[n % 3],
            "level": level_of(n),
            "message": f"msg-{n:04d} {level_of(n)} doing step {n} of the checkout",
            "timestamp": T0 + n * 10,
            "context": {"step": n, "detail": "x" * (n % 40)},
        })  # fmt: skip
    return out


ERRORS = [n for n in range(TOTAL) if level_of(n) == "error"]
WARNS = [n for n in range(TOTAL) if level_of(n) == "warn"]


@pytest.fixture(scope="module")
def budget_store(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("budget") / "s.duckdb"
    with synced_store(redis_server, path, entries()) as store:
        yield store


def shown(text: str) -> set[int]:
    return {int(m) for m in re.findall(r"msg-(\d{4})", text)}


@pytest.mark.parametrize("budget", [1500, 3000, 5000, 7000])
def test_budget_respected_and_errors_kept(budget_store: Store, budget: int) -> None:
    spec = ExportSpec("text", max_tokens=budget)
    text, report = render_export(budget_store.cursor(), spec)
    assert report.tokens_estimate == estimate_tokens(text) <= budget
    assert set(ERRORS) <= shown(text)
    assert report.entries == len(shown(text))
    assert report.entries + report.left_out_entries == TOTAL
    assert 0 < report.left_out_entries < TOTAL - len(ERRORS)


def test_left_out_is_stated_exactly(budget_store: Store) -> None:
    text, report = render_export(
        budget_store.cursor(), ExportSpec("text", max_tokens=4000)
    )
    missing = set(range(TOTAL)) - shown(text)
    assert f"left out {len(missing)} of {TOTAL} entries" in text
    gaps = re.findall(r"^- \.\.\. left out (\d+) entr", text, flags=re.M)
    assert len(gaps) == len(report.left_out)
    assert sum(int(g) for g in gaps) == len(missing)
    by_level: dict[str, int] = {}
    for n in missing:
        by_level[level_of(n)] = by_level.get(level_of(n), 0) + 1
    for item in report.left_out:
        for level, count in item.by_level.items():
            by_level[level] -= count
    assert set(by_level.values()) == {0}


def test_warnings_and_neighbours_before_the_rest(budget_store: Store) -> None:
    text, _ = render_export(budget_store.cursor(), ExportSpec("text", max_tokens=6000))
    kept = shown(text)
    assert set(WARNS) <= kept
    # Traces interleave n by parity: a neighbour is two steps away in n.
    for n in ERRORS:
        assert {n - 2, n + 2} & set(range(TOTAL)) <= kept
    plain = [n for n in range(TOTAL) if n not in kept]
    rest_kept = [
        n for n in kept if level_of(n) in ("log", "info")
        and all(abs(n - a) > 4 for a in ERRORS + WARNS)
    ]  # fmt: skip
    assert rest_kept and min(rest_kept) > max(plain)


def test_errors_alone_over_budget_are_all_kept(budget_store: Store) -> None:
    text, report = render_export(
        budget_store.cursor(), ExportSpec("text", max_tokens=50)
    )
    assert shown(text) == set(ERRORS)
    assert "- Over budget: about" in text and report.tokens_estimate > 50


def test_ample_budget_leaves_nothing_out(budget_store: Store) -> None:
    con = budget_store.cursor()
    full, _ = render_export(con, ExportSpec("text"), now_ms=T0)
    text, report = render_export(
        con, ExportSpec("text", max_tokens=1_000_000), now_ms=T0
    )
    assert report.left_out == [] and shown(text) == set(range(TOTAL))
    assert "nothing left out" in text
    lines = [line for line in text.split("\n") if "Token budget" not in line]
    assert lines[3:] == full.split("\n")[3:]


def many_traces() -> list[dict[str, Any]]:
    out = []
    for t in range(60):
        for n in range(3):
            level = "error" if (t, n) == (7, 1) else "info"
            out.append({
                "id": f"{T0 + t * 1000 + n}_m{t:04d}{n}",
                "trace_id": f"t-many-{t:02d}",
                "system": "worker",
                "level": level,
                "message": f"trace {t:02d} step {n} {level}",
                "timestamp": T0 + t * 1000 + n,
            })  # fmt: skip
    return out


def test_whole_traces_without_errors_are_left_out_oldest_first(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("many") / "s.duckdb"
    with synced_store(redis_server, path, many_traces()) as store:
        text, report = render_export(
            store.cursor(), ExportSpec("text", max_tokens=1500)
        )
    assert report.tokens_estimate <= 1500
    assert "trace 07 step 1 error" in text
    whole = [i for i in report.left_out if i.whole_trace]
    assert whole and f"{len(whole)} whole traces without errors" in text
    kept = {int(m) for m in re.findall(r"## Trace `t-many-(\d\d)`", text)}
    dropped = {int(i.trace_id[-2:]) for i in whole}
    assert kept | dropped == set(range(60)) and not kept & dropped
    assert 7 in kept and max(dropped) < min(kept - {7})
    assert report.entries + report.left_out_entries == 180
