"""The legacy Convex import: mapping, dedupe across tables, quarantine, undo."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from logsync_tui.errors import UsageError
from logsync_tui.legacy import (
    ImportOptions,
    ImportProgress,
    LegacyError,
    find_tables,
    import_export,
    map_document,
)
from logsync_tui.storage import Store
from logsync_tui.storage.quarantine import retry_quarantine
from logsync_tui.storage.runs import get_run, undo_run

T0 = 1_700_000_000_000

Q1 = {
    "_id": "q1",
    "_creationTime": T0 + 3.5,
    "level": "info",
    "message": "page loaded [ok]",
    "trace_id": "t1",
    "user_id": "u1",
    "system_area": "browser",
    "timestamp": T0,
    "raw_args": ["page loaded", '{"ok":true}'],
    "processed": True,
}
Q2 = {
    "_id": "q2",
    "_creationTime": T0 + 1600.25,
    "level": "error",
    "message": "mutation failed",
    "trace_id": "t1",
    "user_id": "u1",
    "system_area": "backend",
    "timestamp": T0 + 1500,
    "stack_trace": "Error: boom\n    at handler (convex/logs.ts:10)",
    "processed": False,
}
Q3 = {
    "_id": "q3",
    "_creationTime": T0 + 2000.0,
    "level": "WARN",
    "message": "retrying",
    "trace_id": "t2",
    "system_area": "worker",
    "timestamp": T0 + 2000,
}
Q5 = {**Q3, "_id": "q5", "system_area": "mobile"}
Q6 = {k: v for k, v in Q3.items() if k != "trace_id"} | {"_id": "q6"}
R1 = {k: v for k, v in Q1.items() if k != "processed"} | {
    "_id": "r1",
    "_creationTime": T0 + 90_000.5,
    "expires_at": T0 + 3_600_000,
}
R2 = {
    "_id": "r2",
    "_creationTime": T0 + 5000.4,
    "level": "log",
    "message": "cron tick",
    "trace_id": "t3",
    "system_area": "backend",
    "expires_at": T0 + 3_600_000,
}
MALFORMED = '{"_id": "q4", "level": "info", "message": "cut off'


def _lines(*docs: Any) -> str:
    return "".join((d if isinstance(d, str) else json.dumps(d)) + "\n" for d in docs)


EXPORT = {
    "log_queue": _lines(Q1, Q2, Q3, MALFORMED, Q5, Q6),
    "recent_log_entries": _lines(R1, "", R2),
    "rate_limit_state": _lines({"_id": "s1", "key": "ip:1", "count": 3}),
    "message_fingerprints": _lines({"_id": "f1", "fingerprint": "ab", "count": 9}),
}


@pytest.fixture
def export_zip(tmp_path: Path) -> Path:
    """A Convex snapshot ZIP built from the documented legacy schema."""
    path = tmp_path / "snapshot.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for table, text in EXPORT.items():
            archive.writestr(f"{table}/documents.jsonl", text)
            archive.writestr(f"{table}/generated_schema.jsonl", '"any"\n')
        archive.writestr("_tables/documents.jsonl", '{"name": "log_queue"}\n')
    return path


def _rows(store: Store) -> dict[str, tuple[Any, ...]]:
    rows = store.cursor().execute(
        "SELECT trace_id, user_id, system, level, message, timestamp, context, "
        "stack, message FROM debug_logs"
    )
    return {r[4]: r for r in rows.fetchall()}


def _quarantine(store: Store) -> list[tuple[Any, ...]]:
    return (
        store.cursor()
        .execute(
            "SELECT source_key, source_index, reason FROM quarantine "
            "ORDER BY source_index"
        )
        .fetchall()
    )


def test_import_maps_dedupes_and_quarantines(store: Store, export_zip: Path) -> None:
    result = import_export(store, export_zip)
    assert result.status == "ok"
    queue, recent = result.tables["log_queue"], result.tables["recent_log_entries"]
    assert (queue.rows, queue.inserted, queue.malformed) == (6, 3, 3)
    assert (recent.rows, recent.inserted, recent.duplicates) == (2, 1, 1)
    assert result.skipped == {
        "_tables": "Convex system table",
        "message_fingerprints": "deprecated table of the old logging: it held no logs",
        "rate_limit_state": "deprecated table of the old logging: it held no logs",
    }
    rows = _rows(store)
    assert len(rows) == 4
    assert rows["page loaded [ok]"][:6] == (
        "t1",
        "u1",
        "browser",
        "info",
        *("page loaded [ok]", T0),
    )
    assert json.loads(rows["page loaded [ok]"][6]) == {"raw_args": Q1["raw_args"]}
    failed = rows["mutation failed"]
    assert (failed[2], failed[7]) == ("convex", Q2["stack_trace"])
    retry = rows["retrying"]
    assert (retry[1], retry[3], retry[6], retry[7]) == (None, "warn", None, None)
    assert rows["cron tick"][5] == T0 + 5000
    assert _quarantine(store) == [
        ("legacy:log_queue", 4, "not valid JSON"),
        ("legacy:log_queue", 5, "unknown system_area mobile"),
        ("legacy:log_queue", 6, "missing trace_id"),
    ]
    assert [(r.line, r.reason) for r in result.rejected] == [
        (4, "not valid JSON"),
        (5, "unknown system_area mobile"),
        (6, "missing trace_id"),
    ]
    run = get_run(store.cursor(), result.run_id)
    assert (run.kind, run.status, run.inserted, run.malformed) == ("import", "ok", 4, 3)


def test_progress_reaches_every_byte(store: Store, export_zip: Path) -> None:
    seen: list[ImportProgress] = []
    import_export(store, export_zip, options=ImportOptions(progress=seen.append))
    assert [p.table for p in seen] == ["log_queue", "recent_log_entries"]
    last = seen[-1]
    assert (last.bytes_done, last.rows) == (last.bytes_total, 8)
    assert last.describe().startswith("importing recent_log_entries: 100.0% read")


def test_import_twice_adds_nothing(store: Store, export_zip: Path) -> None:
    import_export(store, export_zip)
    before = (_rows(store), _quarantine(store))
    again = import_export(store, export_zip)
    assert again.totals.inserted == 0
    assert again.totals.duplicates == 5
    assert again.totals.conflicts == 0
    assert (_rows(store), _quarantine(store)) == before


def test_undo_removes_the_import(store: Store, export_zip: Path) -> None:
    first = import_export(store, export_zip)
    undone = undo_run(store.cursor(), first.run_id)
    assert (undone.removed, undone.unquarantined) == (4, 3)
    assert _rows(store) == {}
    assert _quarantine(store) == []
    assert get_run(store.cursor(), first.run_id).status == "undone"


def test_quarantine_retry_leaves_legacy_rows(store: Store, export_zip: Path) -> None:
    import_export(store, export_zip)
    before = (_rows(store), _quarantine(store))
    retried = retry_quarantine(store.cursor())
    assert retried.inserted == 0
    assert (_rows(store), _quarantine(store)) == before


def test_unzipped_directory_and_single_file(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "unzipped"
    for table, text in EXPORT.items():
        (root / table).mkdir(parents=True)
        (root / table / "documents.jsonl").write_text(text)
    assert [t.name for t in find_tables(root)] == sorted(EXPORT)
    single = tmp_path / "recent.jsonl"
    single.write_text(EXPORT["recent_log_entries"])
    with pytest.raises(UsageError):
        find_tables(single)
    result = import_export(store, single, "recent_log_entries")
    assert result.totals.inserted == 2
    assert import_export(store, root).totals.inserted == 2


def test_a_row_in_both_tables_needs_every_log_field_equal() -> None:
    same_a, _ = map_document(json.dumps(Q1))
    same_b, _ = map_document(json.dumps(R1))
    other, _ = map_document(json.dumps(Q1 | {"raw_args": ["other"]}))
    assert same_a is not None and same_b is not None and other is not None
    assert json.loads(same_a)["id"] == json.loads(same_b)["id"]
    assert json.loads(same_a)["id"] != json.loads(other)["id"]
    assert map_document("[1, 2]") == (None, "JSON array is not an object")
    numeric_user, _ = map_document(json.dumps(Q1 | {"user_id": 42}))
    assert numeric_user is not None
    assert json.loads(numeric_user)["user_id"] == "42"
    null_time, _ = map_document(json.dumps(R2 | {"timestamp": None}))
    assert null_time is not None
    assert json.loads(null_time)["timestamp"] == T0 + 5000
    assert map_document(json.dumps(Q3 | {"timestamp": "soon"})) == (
        None,
        "unreadable timestamp soon",
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "logsync_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unreadable_exports_are_reported(store: Store, tmp_path: Path) -> None:
    fake = tmp_path / "snapshot.zip"
    fake.write_text("not a zip")
    with pytest.raises(LegacyError, match="not a readable ZIP"):
        import_export(store, fake)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("log_queue/documents.jsonl", EXPORT["log_queue"] * 50)
    data = bytearray(broken.read_bytes())
    data[60:90] = bytes(30)
    broken.write_bytes(bytes(data))
    with pytest.raises(LegacyError, match="cannot read log_queue"):
        import_export(store, broken)
    runs = store.cursor().execute("SELECT status FROM sync_runs").fetchall()
    assert runs == [("failed",)]


def test_cli_import_legacy(export_zip: Path, db_path: Path) -> None:
    done = _cli("import-legacy", str(export_zip), "--db", str(db_path), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["totals"]["inserted"] == 4
    assert sorted(data["skipped"]) == [
        "_tables",
        "message_fingerprints",
        "rate_limit_state",
    ]
    text = _cli("import-legacy", str(export_zip), "--db", str(db_path))
    assert text.returncode == 0
    assert "0 new, 5 already present" in text.stdout
    assert "skipped rate_limit_state" in text.stdout
    missing = _cli(
        "import-legacy", str(export_zip.with_name("no.zip")), "--db", str(db_path)
    )
    assert missing.returncode == 2
    assert missing.stderr.startswith("logsync: usage:")
    assert len(missing.stderr.splitlines()) == 1
