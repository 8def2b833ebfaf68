"""Real-world log lines (tests/data/public.jsonl) through seed and sync."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.conftest import DATA


def logsync(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "logsync_tui", *args],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def test_public_lines_round_trip(redis_url: str, db_path: Path, tmp_path: Path) -> None:
    env = {**os.environ, "LOGSYNC_LOG_FILE": str(tmp_path / "log.txt")}
    source = DATA / "public.jsonl"
    seeded = logsync(
        "seed", "--redis-url", redis_url, "--from-file", str(source), env=env
    )
    assert seeded.returncode == 0, seeded.stderr
    done = logsync(
        "sync", "--redis-url", redis_url, "--db", str(db_path), "--json", env=env
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    lines = [json.loads(x) for x in source.read_text(encoding="utf-8").splitlines()]
    assert result["inserted"] == len(lines) and result["malformed"] == 0
    assert result["verified"] is True

    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    for column in ("trace_id", "system", "level"):
        stored = dict(
            con.execute(
                f"SELECT {column}, count(*) FROM debug_logs GROUP BY 1"
            ).fetchall()
        )
        assert stored == Counter(e[column] for e in lines), column
    messages = dict(con.execute("SELECT id, message FROM debug_logs").fetchall())
    assert all(messages[e["id"]] == e["message"] for e in lines)
    raws = con.execute("SELECT id, raw_data FROM debug_logs").fetchall()
    by_id = {e["id"]: e for e in lines}
    assert all(json.loads(raw) == by_id[i] for i, raw in raws)
    con.close()
