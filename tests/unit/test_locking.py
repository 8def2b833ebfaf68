"""Two real processes, one store file: what waits, what fails, what is kept.

DuckDB lets one process write a file or several read it; a read-only open
fails too while a writer holds it. These tests pin that behaviour down with
a second real process holding the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from logsync_tui.errors import StoreLockedError
from logsync_tui.storage import Store
from logsync_tui.storage.db import describe_process
from tests.conftest import push_like_worker

HOLDER = """
import sys
from logsync_tui.storage import Store
from logsync_tui.storage.db import describe_process

store = Store.open(sys.argv[1], read_only=sys.argv[2] == "ro")
if sys.argv[2] == "write":
    store.cursor().execute("INSERT INTO settings VALUES ('written', 'by holder')")
print("held", flush=True)
sys.stdin.readline()
store.close()
"""


@contextmanager
def holding(tmp: Path, db: Path, mode: str) -> Iterator[subprocess.Popen[str]]:
    """Another process with the store open until the block ends.

    `mode` is `rw`, `ro`, or `write` (read-write, one row committed).
    """
    script = tmp / "hold_store.py"
    script.write_text(HOLDER, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(db), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        yield proc
    finally:
        release(proc)


def release(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)


def env(tmp: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "LOGSYNC_CONFIG": str(tmp / "absent.toml"),
        "LOGSYNC_LOG_FILE": str(tmp / "logsync.log"),
        **extra,
    }


def logsync(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "logsync_tui", *args],
        env=env(tmp),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def made(db_path: Path) -> Path:
    Store.open(db_path).close()
    return db_path


def test_a_writer_gives_up_with_one_line_naming_the_holder(
    tmp_path: Path, made: Path
) -> None:
    db = ("--db", str(made))
    with holding(tmp_path, made, "rw") as holder:
        now = logsync(tmp_path, "clean", "--all", "--yes", "--lock-wait", "0", *db)
        waited = logsync(tmp_path, "clean", "--all", "--yes", "--lock-wait", "0.3", *db)
    assert now.returncode == 1 and now.stdout == ""
    lines = now.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("logsync: store locked: ")
    assert f"in use by process {holder.pid} (hold_store.py" in lines[0]
    assert waited.returncode == 1
    notice, failure = waited.stderr.splitlines()
    assert "waiting up to 0.3s" in notice and f"process {holder.pid}" in notice
    assert "(waited 0.3s)" in failure


def test_read_only_browsing_is_refused_while_a_writer_holds(
    tmp_path: Path, made: Path
) -> None:
    with holding(tmp_path, made, "rw") as holder:
        shown = logsync(tmp_path, "store", "--lock-wait", "0", "--db", str(made))
        with pytest.raises(StoreLockedError) as caught:
            Store.open(made, read_only=True)
    assert shown.returncode == 1 and f"process {holder.pid}" in shown.stderr
    assert caught.value.pid == holder.pid and not caught.value.readers_only


def test_readers_share_the_file_and_keep_writers_out(
    tmp_path: Path, made: Path
) -> None:
    db = ("--db", str(made))
    with holding(tmp_path, made, "ro") as holder:
        shown = logsync(tmp_path, "store", "--json", "--lock-wait", "0", *db)
        cleaned = logsync(tmp_path, "clean", "--all", "--yes", "--lock-wait", "0", *db)
        with Store.open(made, fallback_read_only=True) as browsing:
            assert browsing.read_only
    assert shown.returncode == 0 and json.loads(shown.stdout)["entries"] == 0
    assert cleaned.returncode == 1 and f"process {holder.pid}" in cleaned.stderr


def entry(n: int, trace: str) -> dict[str, object]:
    return {
        "id": f"1796000000{n:03d}_lock{n:05d}",
        "trace_id": trace,
        "system": "convex",
        "level": "info",
        "message": f"m{n}",
        "timestamp": 1_796_000_000_000 + n,
    }


def start_waiting_sync(
    tmp: Path, db: Path, url: str
) -> tuple[subprocess.Popen[str], str]:
    """A `logsync sync` started on a held store, once it says it is waiting."""
    command = ["sync", "--json", "--db", str(db), "--lock-wait", "60"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "logsync_tui", *command],
        env=env(tmp, LOGSYNC_REDIS_URL=url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    return proc, proc.stderr.readline()


def test_a_waiting_sync_completes_once_the_holder_leaves(
    tmp_path: Path, made: Path, redis_url: str, rclient: redis.Redis
) -> None:
    push_like_worker(rclient, [entry(n, f"t{n % 3}") for n in range(30)])
    with holding(tmp_path, made, "rw") as holder:
        waiting, notice = start_waiting_sync(tmp_path, made, redis_url)
        assert "waiting up to 60s" in notice and f"process {holder.pid}" in notice
        release(holder)
        out, _ = waiting.communicate(timeout=60)
    assert waiting.returncode == 0
    assert json.loads(out)["inserted"] == 30
    with Store.open(made, read_only=True) as store:
        rows = store.cursor().execute("SELECT count(*) FROM debug_logs").fetchall()
    assert rows == [(30,)]


def test_a_killed_writer_leaves_a_usable_file(tmp_path: Path, made: Path) -> None:
    with holding(tmp_path, made, "write") as holder:
        holder.kill()
        holder.wait(timeout=30)
    with Store.open(made) as store:
        rows = store.cursor().execute("SELECT * FROM settings").fetchall()
    assert rows == [("written", "by holder")]


def test_a_sync_waiting_through_a_compaction_lands_in_the_new_file(
    tmp_path: Path, made: Path, redis_url: str, rclient: redis.Redis
) -> None:
    push_like_worker(rclient, [entry(n, trace="fresh") for n in range(20)])
    with Store.open(made) as store:
        con = store.cursor()
        con.execute(
            "INSERT INTO debug_logs SELECT 'old' || i, 'old', NULL, 'worker', "
            "'info', repeat('x', 200), i, NULL, NULL, '{}', NULL, 'logs:old', "
            "now()::TIMESTAMP, 0 FROM range(50000) r(i)"
        )
        waiting, notice = start_waiting_sync(tmp_path, made, redis_url)
        assert f"process {os.getpid()}" in notice
        con.execute("DELETE FROM debug_logs WHERE timestamp >= 10")
        before, after = store.compact()
    out, _ = waiting.communicate(timeout=60)
    assert after < before
    assert waiting.returncode == 0 and json.loads(out)["inserted"] == 20
    with Store.open(made, read_only=True) as store:
        rows = store.cursor().execute(
            "SELECT trace_id, count(*) FROM debug_logs GROUP BY 1 ORDER BY 1"
        )
        assert rows.fetchall() == [("fresh", 20), ("old", 10)]


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_the_holder_description_hides_url_passwords(tmp_path: Path) -> None:
    script = tmp_path / "sleeper.py"
    script.write_text(
        "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, str(script), "redis://:hunter2@cache:6379"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # Until the child has exec'd, /proc shows the parent's command line.
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        described = describe_process(proc.pid)
    finally:
        release(proc)
    assert described.startswith("sleeper.py redis://")
    assert "hunter2" not in described and "***@cache:6379" in described
