"""Shared fixtures: one real redis-server per session, a real DuckDB per test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from logsync_tui.sources.embedded import EmbeddedRedis
from logsync_tui.storage import Store

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """A redis-server on a free 127.0.0.1 port, persistence off."""
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> Iterator[str]:
    """The session server's URL, with its database flushed before the test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    client.close()
    yield redis_server.url


@pytest.fixture
def rclient(redis_url: str) -> Iterator[redis.Redis]:
    """A bytes client on the flushed test database."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where this test's DuckDB store lives."""
    return tmp_path / "store.duckdb"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    """A fresh, migrated store in a temp dir."""
    with Store.open(db_path) as opened:
        yield opened


def read_jsonl(name: str) -> list[dict[str, object]]:
    """The entries of a data file in tests/data."""
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def push_like_worker(client: redis.Redis, entries: list[dict[str, object]]) -> None:
    """LPUSH each entry onto logs:{trace_id} in order, as the Worker does."""
    for entry in entries:
        key = f"logs:{entry['trace_id']}"
        client.lpush(key, json.dumps(entry, separators=(",", ":"), ensure_ascii=False))
        client.expire(key, 3600)
