"""Trace insight figures against values computed by hand on a small store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from logsync_tui.insight import (
    ErrorChain,
    Segment,
    SystemTime,
    list_traces,
    overview,
    trace_insight,
)
from logsync_tui.storage import Store
from logsync_tui.storage.ingest import (
    BATCH_SCHEMA,
    WATERMARK_SCHEMA,
    Scope,
    ingest_batch,
)
from logsync_tui.storage.runs import start_run

T0 = 1_700_000_000_000
# (trace, ms after T0, system, level, message, user)
ENTRIES = [
    ("tA", 1000, "browser", "info", "click", "u1"),
    ("tA", 1200, "browser", "log", "fetch /api", "u1"),
    ("tA", 1500, "worker", "info", "proxy", None),
    ("tA", 2500, "convex", "error", "query timed out after 1000ms", "u2"),
    ("tA", 4000, "worker", "error", "upstream error", None),
    ("tA", 4500, "browser", "error", "request failed", "u1"),
    ("tA", 12000, "browser", "warn", "retry", "u1"),
    ("tA", 13000, "browser", "error", "gave up", "u1"),
    ("tB", 100000, "convex", "error", "ECONNREFUSED 10.0.0.1:6379", "u3"),
    ("tB", 101000, "worker", "error", "fetch failed", None),
    ("tB", 101500, "worker", "info", "ok", None),
    ("tC", 200000, "browser", "warn", "slow render", None),
    ("tC", 200100, "browser", "error", "TypeError: x is undefined", None),
    ("tC", 203000, "convex", "error", "Validation failed", None),
    ("tC", 204000, "browser", "warn", "w", None),
    ("tD", 300000, "manual", "log", "note", None),
]


def fill(store: Store, entries: list[tuple[object, ...]] = ENTRIES) -> None:
    """Ingest the entries as a sync would."""
    con = store.cursor()
    raws = []
    for n, (trace, ms, system, level, message, user) in enumerate(entries):
        entry = {"id": f"{ms}_{n:09d}", "trace_id": trace, "system": system}
        entry.update(level=level, message=message, timestamp=T0 + ms)
        if user:
            entry["user_id"] = user
        raws.append(
            {"source_key": f"logs:{trace}", "source_index": n, "raw": json.dumps(entry)}
        )
    batch = pa.Table.from_pylist(raws, schema=BATCH_SCHEMA)
    run = start_run(con, "sync", {}, "test")
    ingest_batch(con, run, batch, WATERMARK_SCHEMA.empty_table(), Scope())


@pytest.fixture
def filled(store: Store) -> Store:
    fill(store)
    return store


def test_trace_a_breakdown(filled: Store) -> None:
    found = trace_insight(filled.cursor(), "tA")
    assert found is not None
    t = found.trace
    assert (t.users, t.systems) == (("u1", "u2"), ("browser", "worker", "convex"))
    assert (t.start_ms, t.duration_ms, t.entries, t.errors, t.warnings) == (
        T0 + 1000,
        12000,
        8,
        4,
        1,
    )
    assert t.flags == ("slow", "high error rate")
    assert found.levels == {"error": 4, "info": 2, "log": 1, "warn": 1}
    assert found.systems == [
        SystemTime("browser", T0 + 1000, T0 + 13000, 5, 9000),
        SystemTime("worker", T0 + 1500, T0 + 4000, 2, 1500),
        SystemTime("convex", T0 + 2500, T0 + 2500, 1, 1500),
    ]
    assert sum(s.time_ms for s in found.systems) == t.duration_ms
    assert found.segments == [
        Segment("browser", T0 + 1000, T0 + 1500, 2),
        Segment("worker", T0 + 1500, T0 + 2500, 1),
        Segment("convex", T0 + 2500, T0 + 4000, 1),
        Segment("worker", T0 + 4000, T0 + 4500, 1),
        Segment("browser", T0 + 4500, T0 + 13000, 3),
    ]
    assert found.chains == [
        ErrorChain(
            T0 + 2500,
            T0 + 4500,
            3,
            ("convex", "worker", "browser"),
            "timeout cascade",
            "query timed out after 1000ms",
        )
    ]


def test_chain_patterns_and_rate_flags(filled: Store) -> None:
    con = filled.cursor()
    b, c, d = (trace_insight(con, t) for t in ("tB", "tC", "tD"))
    assert b is not None and c is not None and d is not None
    assert [(x.pattern, x.systems) for x in b.chains] == [
        ("connection failure", ("convex", "worker"))
    ]
    assert b.trace.flags == ("high error rate",)
    assert [(x.pattern, x.errors) for x in c.chains] == [("cross-system chain", 2)]
    assert c.trace.flags == ("high error rate", "high warning rate")
    assert (d.chains, d.trace.flags, d.trace.duration_ms) == ([], (), 0)
    assert d.systems == [SystemTime("manual", T0 + 300000, T0 + 300000, 1, 0)]
    assert trace_insight(con, "nope") is None


def test_overview_across_traces(filled: Store) -> None:
    view = overview(filled.cursor())
    assert (view.traces, view.multi_system, view.slow) == (4, 3, 1)
    assert view.avg_duration_ms == 4375.0
    # durations 0, 1500, 4000, 12000: p95 at rank 2.85 = 4000 + 0.85 * 8000
    assert view.p95_duration_ms == pytest.approx(10800.0)
    assert [t.trace_id for t in view.most_active] == ["tA", "tC", "tB", "tD"]


def test_list_sorts_and_filters(filled: Store) -> None:
    con = filled.cursor()
    by_duration = list_traces(con, sort="duration", descending=False)
    assert [t.trace_id for t in by_duration] == ["tD", "tB", "tC", "tA"]
    assert [t.trace_id for t in list_traces(con)] == ["tD", "tC", "tB", "tA"]
    assert [t.trace_id for t in list_traces(con, search="CONVEX")] == ["tC", "tB", "tA"]
    assert [t.trace_id for t in list_traces(con, search="u3")] == ["tB"]
    assert [t.trace_id for t in list_traces(con, limit=1, offset=1)] == ["tC"]


def test_empty_store_overview(store: Store) -> None:
    view = overview(store.cursor())
    assert (view.traces, view.avg_duration_ms, view.most_active) == (0, None, [])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "logsync_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_traces(db_path: Path) -> None:
    with Store.open(db_path) as store:
        fill(store)
    listed = _cli("traces", "--db", str(db_path), "--json")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["overview"]["multi_system"] == 3
    assert [t["trace_id"] for t in data["traces"]] == ["tD", "tC", "tB", "tA"]
    one = _cli("traces", "tA", "--db", str(db_path))
    assert one.returncode == 0
    assert "timeout cascade" in one.stdout
    assert "browser" in one.stdout.splitlines()[0]
    missing = _cli("traces", "nope", "--db", str(db_path))
    assert missing.returncode == 1
    assert missing.stderr.startswith("logsync: ")
    bad = _cli("traces", "--limit", "0", "--db", str(db_path))
    assert (bad.returncode, bad.stderr) == (
        2,
        "logsync: usage: --limit must be at least 1\n",
    )
