"""The Redis source: SCAN over `logs:*`, pipelined LLEN/TTL/LRANGE, never a write.

Lists are read by tail-relative (negative) indices: the Worker pushes new
entries at the head, so a tail-relative range names the same elements for
the whole sync even while the Worker keeps writing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
import redis.exceptions as rex
from redis.client import Pipeline

from logsync_tui.errors import SourceError
from logsync_tui.redact import MASK, redact_text, redact_url
from logsync_tui.sources.base import (
    KEY_PREFIX,
    BadKey,
    KeyPiece,
    ReadChunk,
    ReadRequest,
    batched,
    head_hash,
    trace_key,
)
from logsync_tui.sources.ratelimit import RateLimiter
from logsync_tui.storage.state import Watermark

log = logging.getLogger(__name__)

KEYS_PER_PIPELINE = 500
SCAN_COUNT = 1000


@dataclass
class _Plan:
    """How to read one key: tail positions [low, length-1], newest last."""

    key: bytes
    name: str
    length: int
    low: int
    verify: Watermark | None = None
    failed: bool = False


@dataclass
class _Step:
    plan: _Plan
    low: int
    high: int
    last: bool


@dataclass
class KeyTtl:
    """A list key's length and remaining time to live (-1: never expires)."""

    key: str
    length: int
    ttl: int


@dataclass
class ServerInfo:
    """What the server says about itself."""

    version: str = "?"
    used_memory: str = "?"
    latency_ms: float = 0.0


@dataclass
class KeyScan:
    """Every `logs:*` key, split into readable lists and the rest."""

    lists: list[KeyTtl] = field(default_factory=list)
    bad: list[BadKey] = field(default_factory=list)


class RedisSource:
    """Reads the Worker's buffer straight from Redis."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.url = url
        self._timeout = timeout
        self._client: redis.Redis | None = None
        self.limiter = limiter or RateLimiter(per_second=0)

    def describe(self) -> str:
        """The Redis URL with its password masked."""
        return redact_url(self.url)

    def close(self) -> None:
        """Drop the connection pool and record the requests spent."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self.limiter.flush()

    def client(self) -> redis.Redis:
        """The connected client (bytes in, bytes out)."""
        if self._client is None:
            try:
                self._client = redis.Redis.from_url(
                    self.url,
                    decode_responses=False,
                    socket_timeout=self._timeout,
                    socket_connect_timeout=min(self._timeout, 10.0),
                )
            except ValueError as exc:
                raise SourceError(
                    f"cannot use {self.describe()}: {redact_text(str(exc))}",
                    title="redis",
                ) from exc
        return self._client

    def call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one client call, turning Redis failures into SourceError.

        The shared limiter sees one round trip; a pipeline costs the daily
        budget one request per command in it.
        """
        owner = getattr(fn, "__self__", None)
        self.limiter.acquire(len(owner) if isinstance(owner, Pipeline) else 1)
        try:
            return fn(*args, **kwargs)
        except rex.RedisError as exc:
            raise _source_error(self.describe(), what, exc) from exc
        except OSError as exc:
            raise _source_error(self.describe(), what, exc) from exc

    def server_info(self) -> ServerInfo:
        """Version, memory and round-trip latency of the server."""
        client = self.client()
        start = time.perf_counter()
        self.call("PING", client.ping)
        latency = (time.perf_counter() - start) * 1000
        info = ServerInfo(latency_ms=latency)
        try:
            server = client.info("server")
            memory = client.info("memory")
        except rex.ResponseError:
            return info  # Some hosted servers refuse INFO: the rest still works.
        except (rex.RedisError, OSError) as exc:
            raise _source_error(self.describe(), "INFO", exc) from exc
        info.version = str(server.get("redis_version", "?"))
        info.used_memory = str(memory.get("used_memory_human", "?"))
        return info

    def scan_keys(self, cancel: threading.Event | None = None) -> list[bytes]:
        """Every key under `logs:` (SCAN, never KEYS)."""
        client = self.client()
        keys: list[bytes] = []
        cursor = 0
        while True:
            if cancel is not None and cancel.is_set():
                break
            cursor, found = self.call(
                "SCAN", client.scan, cursor, match=f"{KEY_PREFIX}*", count=SCAN_COUNT
            )
            keys.extend(found)
            if cursor == 0:
                break
        return sorted(set(keys))

    def key_ttls(self, keys: list[bytes]) -> KeyScan:
        """Length and TTL of each key; keys that are not lists are reported."""
        out = KeyScan()
        for group in batched(keys, KEYS_PER_PIPELINE):
            pipe = self.client().pipeline(transaction=False)
            for key in group:
                pipe.llen(key)
                pipe.ttl(key)
            replies = self.call("LLEN/TTL", pipe.execute, raise_on_error=False)
            wrong: list[bytes] = []
            for i, key in enumerate(group):
                length, ttl = replies[2 * i], replies[2 * i + 1]
                if isinstance(length, rex.ResponseError):
                    wrong.append(key)
                elif isinstance(length, Exception):
                    raise _source_error(self.describe(), "LLEN", length)
                elif length:
                    out.lists.append(KeyTtl(_name(key), int(length), int(ttl)))
            out.bad.extend(self._describe_bad(wrong))
        return out

    def lengths(self, names: list[str]) -> dict[str, int]:
        """Current LLEN of each named key (0 for a missing or non-list key)."""
        out: dict[str, int] = {}
        for group in batched(names, KEYS_PER_PIPELINE):
            pipe = self.client().pipeline(transaction=False)
            for name in group:
                pipe.llen(name.encode("utf-8", errors="surrogateescape"))
            replies = self.call("LLEN", pipe.execute, raise_on_error=False)
            for name, reply in zip(group, replies, strict=True):
                out[name] = reply if isinstance(reply, int) else 0
        return out

    def read(
        self, request: ReadRequest, cancel: threading.Event
    ) -> Iterator[ReadChunk]:
        """Yield the entries the request asks for, `chunk_entries` at a time."""
        if request.traces:
            keys = sorted({trace_key(t).encode() for t in request.traces})
        else:
            keys = self.scan_keys(cancel)
        chunk = ReadChunk(keys_total=len(keys))
        for group in batched(keys, KEYS_PER_PIPELINE):
            if cancel.is_set():
                return
            plans = self._plans(list(group), request, chunk)
            for ready in self._run_plans(plans, request.chunk_entries, cancel):
                chunk.pieces.extend(ready.pieces)
                chunk.keys_done += ready.keys_done
                chunk.notes.extend(ready.notes)
                if chunk.entries >= request.chunk_entries:
                    yield chunk
                    chunk = ReadChunk(keys_done=0, keys_total=len(keys))
        yield chunk

    def _plans(
        self, group: list[bytes], request: ReadRequest, chunk: ReadChunk
    ) -> list[_Plan]:
        pipe = self.client().pipeline(transaction=False)
        for key in group:
            pipe.llen(key)
        lengths = self.call("LLEN", pipe.execute, raise_on_error=False)
        plans: list[_Plan] = []
        wrong: list[bytes] = []
        for key, length in zip(group, lengths, strict=True):
            if isinstance(length, rex.ResponseError):
                wrong.append(key)
                continue
            if isinstance(length, Exception):
                raise _source_error(self.describe(), "LLEN", length)
            name = _name(key)
            plan = _plan_key(key, name, int(length), request.watermarks.get(name))
            if plan is None:
                chunk.keys_done += 1
                if request.traces and not length:
                    chunk.notes.append(f"{name}: no such key in Redis")
            else:
                plans.append(plan)
        chunk.bad_keys.extend(self._describe_bad(wrong))
        chunk.keys_done += len(wrong)
        return plans

    def _describe_bad(self, keys: list[bytes]) -> list[BadKey]:
        if not keys:
            return []
        pipe = self.client().pipeline(transaction=False)
        for key in keys:
            pipe.type(key)
        kinds = self.call("TYPE", pipe.execute, raise_on_error=False)
        out = []
        for key, kind in zip(keys, kinds, strict=True):
            kind_text = kind.decode() if isinstance(kind, bytes) else str(kind)
            reason = f"{kind_text} key, a list was expected"
            log.warning("skipped %s: %s", _name(key), reason)
            out.append(BadKey(_name(key), reason))
        return out

    def _run_plans(
        self, plans: list[_Plan], chunk_entries: int, cancel: threading.Event
    ) -> Iterator[ReadChunk]:
        steps = [s for p in plans for s in _steps(p, chunk_entries)]
        while steps:
            if cancel.is_set():
                return
            batch, steps = _take(steps, chunk_entries)
            pipe = self.client().pipeline(transaction=False)
            for step in batch:
                pipe.lrange(step.plan.key, -(step.high + 1), -(step.low + 1))
            replies = self.call("LRANGE", pipe.execute, raise_on_error=False)
            out = ReadChunk()
            for step, reply in zip(batch, replies, strict=True):
                retry = self._absorb(step, reply, out)
                if retry is not None:
                    steps.extend(_steps(retry, chunk_entries))
            yield out

    def _absorb(self, step: _Step, reply: Any, out: ReadChunk) -> _Plan | None:
        plan = step.plan
        if plan.failed:
            return None
        if isinstance(reply, Exception):
            raise _source_error(self.describe(), "LRANGE", reply)
        elements: list[bytes] = reply
        expected = step.high - step.low + 1
        if plan.verify is not None and step.low == plan.low:
            if not elements or head_hash(elements[-1]) != plan.verify.head_hash:
                plan.failed = True
                log.info("%s changed since the last sync: reading it whole", plan.name)
                return _Plan(plan.key, plan.name, plan.length, 0)
            elements = elements[:-1]
            expected -= 1
            if step.last and not elements:
                out.keys_done += 1  # Nothing new; the watermark stays as it is.
                return None
        if len(elements) != expected:
            plan.failed = True
            out.notes.append(f"{plan.name}: the list shrank while it was read")
            out.keys_done += 1
            return None
        piece = KeyPiece(plan.name, plan.length - 1 - step.high, elements)
        if step.last:
            newest = elements[0] if elements else b""
            piece.watermark = Watermark(plan.length, head_hash(newest))
            out.keys_done += 1
        out.pieces.append(piece)
        return None


def _name(key: bytes) -> str:
    return key.decode("utf-8", errors="backslashreplace")


def _plan_key(
    key: bytes, name: str, length: int, mark: Watermark | None
) -> _Plan | None:
    if length == 0:
        return None
    if mark is not None and 0 < mark.taken <= length:
        return _Plan(key, name, length, mark.taken - 1, verify=mark)
    return _Plan(key, name, length, 0)


def _steps(plan: _Plan, size: int) -> list[_Step]:
    top = plan.length - 1
    if plan.verify is not None and plan.low == top:
        # Nothing new: one step that only checks the old head is still there.
        return [_Step(plan, plan.low, plan.low, last=True)]
    out = []
    low = plan.low
    while low <= top:
        high = min(low + size - 1, top)
        out.append(_Step(plan, low, high, last=high == top))
        low = high + 1
    return out


def _take(steps: list[_Step], budget: int) -> tuple[list[_Step], list[_Step]]:
    total = 0
    for i, step in enumerate(steps):
        total += step.high - step.low + 1
        if total >= budget and i + 1 < len(steps):
            return steps[: i + 1], steps[i + 1 :]
    return steps, []


def _source_error(where: str, what: str, exc: BaseException) -> SourceError:
    detail = redact_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    auth = isinstance(exc, rex.AuthenticationError) or any(
        word in detail for word in ("WRONGPASS", "NOAUTH", "authenticated")
    )
    if auth and MASK not in where:
        cause = (
            f"{where} requires a password: put it in the URL "
            "(redis://:PASSWORD@host:6379)"
        )
    elif auth:
        cause = f"{where} refused the password (check the URL's credentials)"
    elif where.startswith("rediss://") and _at_connect(exc):
        cause = (
            f"TLS connection to {where} failed ({detail}): check that the server "
            "speaks TLS, or use redis:// for a plain one"
        )
    elif isinstance(exc, rex.TimeoutError):
        cause = f"{where} did not answer {what} in time: {detail}"
    elif isinstance(exc, rex.ConnectionError | OSError):
        cause = f"cannot reach {where}: {detail}"
    else:
        cause = f"{where} failed on {what}: {detail}"
    return SourceError(cause, title="redis")


def _at_connect(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "ssl" in text or "connecting" in text or "handshake" in text
