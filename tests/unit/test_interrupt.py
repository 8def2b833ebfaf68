"""Ctrl-C during a command-line sync: exit 130, a consistent store, a clean resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from logsync_tui.demo_data import DemoShape, compact, generate
from logsync_tui.sources.redis import RedisSource
from logsync_tui.sources.seed import push


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_keeps_a_consistent_store(
    redis_url: str, tmp_path: Path, presses: int
) -> None:
    traces = generate(DemoShape(entries=80_000, traces=800))
    source = RedisSource(redis_url)
    push(source.client(), {t: [compact(e) for e in es] for t, es in traces.items()})
    source.close()
    db = tmp_path / "s.duckdb"
    env = {**os.environ, "LOGSYNC_LOG_FILE": str(tmp_path / "log.txt"),
           "LOGSYNC_CONFIG": str(tmp_path / "none.toml")}  # fmt: skip
    (tmp_path / "none.toml").write_text("batch_size = 10000\n")
    args = [sys.executable, "-m", "logsync_tui", "sync", "--redis-url", redis_url,
            "--db", str(db)]  # fmt: skip
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _committed(db):
        time.sleep(0.05)
    for _ in range(presses):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.02)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.decode().splitlines()[-1].startswith("logsync: interrupted: ")
    con = duckdb.connect(str(db), read_only=True)
    status, inserted = con.execute("SELECT status, inserted FROM sync_runs").fetchone()
    stored = con.execute("SELECT count(*) FROM debug_logs").fetchone()[0]
    con.close()
    assert status == "cancelled" and inserted == stored and 0 < stored < 80_000
    again = subprocess.run([*args, "--json"], env=env, capture_output=True, timeout=120)
    result = json.loads(again.stdout)
    assert result["inserted"] == 80_000 - stored and result["duplicates"] == 0


def _committed(db: Path) -> bool:
    """True once the running sync has committed a batch (the log says so)."""
    log = db.parent / "log.txt"
    return log.exists() and "batch committed" in log.read_text(encoding="utf-8")
