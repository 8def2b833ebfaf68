"""Settings precedence and URL redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from logsync_tui.config import load_settings
from logsync_tui.errors import ConfigError
from logsync_tui.redact import redact_text, redact_url


def test_precedence_flags_env_file(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        'redis_url = "redis://file:6379"\ndb = "/tmp/file.db"\nbatch_size = 7\n'
    )
    env = {"REDIS_URL": "redis://env-b:6379", "LOGSYNC_REDIS_URL": "redis://env-a:6379"}
    s = load_settings({}, env, cfg)
    assert s.redis_url == "redis://env-a:6379" and s.db == Path("/tmp/file.db")
    assert s.batch_size == 7
    s = load_settings({"redis_url": "rediss://flag:6380"}, env, cfg)
    assert s.redis_url == "rediss://flag:6380"
    s = load_settings({}, {}, tmp_path / "missing.toml")
    assert s.redis_url is None and s.db.name == "logsync.duckdb"


def test_worker_env_order() -> None:
    env = {"LOG_WORKER_URL": "http://c", "NEXT_PUBLIC_LOG_WORKER_URL": "http://b"}
    assert load_settings({}, env, Path("/nonexistent")).worker_url == "http://b"


@pytest.mark.parametrize(
    "text",
    [
        'redis_url = "http://x"',
        "nonsense = 1",
        "batch_size = 0",
        "= broken",
        'refresh_seconds = "often"',
        "refresh_seconds = -5",
    ],
)
def test_bad_config_is_one_clear_error(tmp_path: Path, text: str) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError):
        load_settings({}, {}, cfg)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "rediss://default:TOKEN@eu1.upstash.io:6379",
            "rediss://default:***@eu1.upstash.io:6379",
        ),
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("redis://TOKENONLY@host:1", "redis://***@host:1"),
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
        ("unix:///tmp/r.sock", "unix:///tmp/r.sock"),
        (
            "redis://127.0.0.1:1/0?password=S3cr3t!",
            "redis://127.0.0.1:1/0?password=***",
        ),
        ("unix:///tmp/r.sock?db=0&password=pw", "unix:///tmp/r.sock?db=0&password=***"),
        ("https://w.example/x?token=abc&a=1", "https://w.example/x?token=***&a=1"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_text(f"failed on {url} now") == f"failed on {shown} now"
