"""The command line as a subprocess: exit codes, one-line errors, no secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from logsync_tui.sources.embedded import EmbeddedRedis, free_port
from tests.conftest import push_like_worker

SECRET = "s3cret-Pa55"
ONE = {"id": "1_a", "trace_id": "t", "system": "worker", "level": "info",
       "message": "m", "timestamp": 1}  # fmt: skip


def run(*args: str, tmp: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if "REDIS" not in k and "LOGSYNC" not in k
    }
    clean.update(LOGSYNC_LOG_FILE=str(tmp / "logsync.log"),
                 LOGSYNC_CONFIG=str(tmp / "none.toml"), **env)  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "logsync_tui", *args],
        capture_output=True, text=True, timeout=120, env=clean,
    )  # fmt: skip


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    assert run("sync", "--bogus", tmp=tmp_path).returncode == 2
    done = run("sync", "--since", "last tuesday", "--redis-url", "redis://127.0.0.1:1",
               "--db", str(tmp_path / "s.db"), tmp=tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("logsync: usage: ") and done.stderr.count("\n") == 1


def test_missing_redis_url_exits_2(tmp_path: Path) -> None:
    done = run("stats", tmp=tmp_path)
    assert done.returncode == 2 and "LOGSYNC_REDIS_URL" in done.stderr


def test_unreachable_redis_exits_1_with_one_line(tmp_path: Path) -> None:
    url = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0"
    done = run("sync", "--db", str(tmp_path / "s.db"), tmp=tmp_path, REDIS_URL=url)
    assert done.returncode == 1
    assert done.stderr.startswith("logsync: redis: cannot reach redis://:***@127.0.0.1")
    assert done.stderr.count("\n") == 1 and done.stdout == ""
    assert SECRET not in done.stderr


@pytest.fixture(scope="module")
def locked_redis():
    with EmbeddedRedis(password=SECRET) as server:
        yield server


def test_password_never_appears(locked_redis: EmbeddedRedis, tmp_path: Path) -> None:
    import redis

    client = redis.Redis.from_url(locked_redis.url)
    client.flushdb()
    push_like_worker(client, [ONE])
    client.close()
    db = str(tmp_path / "s.db")
    in_query = f"redis://127.0.0.1:{locked_redis.port}/0?password={SECRET}"
    outputs = [
        run("stats", tmp=tmp_path, LOGSYNC_REDIS_URL=locked_redis.url),
        run("stats", "--json", tmp=tmp_path, LOGSYNC_REDIS_URL=locked_redis.url),
        run(
            "sync",
            "--db",
            db,
            "--json",
            tmp=tmp_path,
            LOGSYNC_REDIS_URL=locked_redis.url,
        ),
        run("sync", "--runs", "--db", db, "--json", tmp=tmp_path),
        run("sync", "--db", db, "--json", tmp=tmp_path, LOGSYNC_REDIS_URL=in_query),
    ]
    assert all(o.returncode == 0 for o in outputs), [o.stderr for o in outputs]
    assert json.loads(outputs[2].stdout)["source"].startswith("redis://:***@127.0.0.1")
    wrong = locked_redis.url.replace(SECRET, "nope-" + SECRET)
    denied = run("stats", tmp=tmp_path, LOGSYNC_REDIS_URL=wrong)
    assert denied.returncode == 1 and "password" in denied.stderr
    texts = [o.stdout + o.stderr for o in [*outputs, denied]]
    texts.append((tmp_path / "logsync.log").read_text(encoding="utf-8"))
    import duckdb

    con = duckdb.connect(db, read_only=True)
    texts.append(repr(con.execute("SELECT * FROM sync_runs").fetchall()))
    con.close()
    assert not any(SECRET in t for t in texts)


def test_sync_json_has_the_documented_keys(
    redis_url: str, rclient, tmp_path: Path
) -> None:
    push_like_worker(rclient, [ONE])
    done = run("sync", "--json", "--redis-url", redis_url, "--db",
               str(tmp_path / "s.db"), tmp=tmp_path)  # fmt: skip
    data = json.loads(done.stdout)
    for key in ("run_id", "scope", "keys", "scanned", "inserted", "duplicates",
                "conflicts", "malformed", "verified", "seconds"):  # fmt: skip
        assert key in data
    assert (data["inserted"], data["keys"]) == (1, 1)


def test_seed_refuses_a_used_buffer(redis_url: str, rclient, tmp_path: Path) -> None:
    rclient.rpush("logs:x", "y")
    done = run("seed", "--entries", "10", "--redis-url", redis_url, tmp=tmp_path)
    assert done.returncode == 2 and "--force" in done.stderr
    forced = run("seed", "--entries", "10", "--traces", "2", "--force",
                 "--redis-url", redis_url, tmp=tmp_path)  # fmt: skip
    assert forced.returncode == 0
    assert rclient.llen("logs:x") == 1
    keys = [k for k in rclient.keys("logs:*") if k != b"logs:x"]
    assert len(keys) == 2 and all(0 < rclient.ttl(k) <= 3600 for k in keys)


def test_the_app_needs_a_terminal(tmp_path: Path) -> None:
    for args in (("--db", str(tmp_path / "s.db")), ("demo",)):
        done = run(*args, tmp=tmp_path)
        assert done.returncode == 2, done.stderr
        assert "needs a terminal" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize("command", ["sync", "export"])
def test_a_range_ending_before_it_starts_is_bad_usage(
    tmp_path: Path, command: str
) -> None:
    db = str(tmp_path / "s.db")
    done = run(command, "--since", "5m", "--until", "1h", "--db", db,
               tmp=tmp_path, REDIS_URL="redis://127.0.0.1:1")  # fmt: skip
    assert done.returncode == 2 and "range is empty" in done.stderr


def test_missing_password_is_named(locked_redis: EmbeddedRedis, tmp_path: Path) -> None:
    bare = f"redis://127.0.0.1:{locked_redis.port}/0"
    done = run("stats", tmp=tmp_path, LOGSYNC_REDIS_URL=bare)
    assert done.returncode == 1 and "requires a password" in done.stderr


def test_a_closed_pipe_is_not_an_error(redis_url: str, rclient, tmp_path: Path) -> None:
    entries = [dict(ONE, id=f"{i}_a", trace_id=f"t{i}") for i in range(3000)]
    push_like_worker(rclient, entries)
    db = str(tmp_path / "s.db")
    assert (
        run("sync", "--redis-url", redis_url, "--db", db, tmp=tmp_path).returncode == 0
    )
    env = {**os.environ, "LOGSYNC_LOG_FILE": str(tmp_path / "l.log")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "logsync_tui", "traces", "--json", "--db", db],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.read(10)
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"internal error" not in err
