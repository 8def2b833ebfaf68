"""The Worker HTTP source: the logging Worker's read API, for users without Redis.

Only `GET /health`, `GET /traces/recent` and `GET /logs?trace_id=` are used;
`DELETE /logs/clear` never is. Each trace becomes one `logs:{trace_id}` piece
whose elements are the entries re-serialised exactly as the Worker stores
them, so a sync through the Worker and one straight from Redis store the same
rows. There are no watermarks: every sync reads the listed traces whole and
the store's dedupe recognises what it already holds.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from logsync_tui.errors import SourceError, SyncCancelled
from logsync_tui.redact import redact_text, redact_url
from logsync_tui.sources.base import (
    BadKey,
    KeyPiece,
    ReadChunk,
    ReadRequest,
    batched,
    trace_key,
)
from logsync_tui.sources.ratelimit import RateLimiter, RetryPolicy, parse_retry_after

log = logging.getLogger(__name__)

RECENT_CAP = 50
"""The Worker never lists more than this many traces."""
EXCERPT_CHARS = 200
FETCHERS = 4
"""Traces fetched at once; the shared limiter still paces every request."""
AUTH_STATUSES = frozenset({401, 403})
CAP_WARNING = (
    "the Worker lists at most 50 recent traces and its list was full: this sync "
    "may have missed older traces; sync with the Redis URL (--redis-url or "
    "LOGSYNC_REDIS_URL) to read every trace"
)


class BadAnswer(Exception):
    """The Worker answered 2xx with a body that breaks the contract."""


@dataclass
class Health:
    """What `GET /health` said, secrets masked."""

    http_status: int
    status: str = "?"
    service: str = "?"
    redis_status: str = "?"
    redis_url: str = ""
    ttl_seconds: int | None = None
    latency_ms: float = 0.0
    components: dict[str, Any] = field(default_factory=dict)
    cost_model: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """True when the Worker answered 200 and says Redis is up."""
        return self.http_status == 200


@dataclass
class RecentTraces:
    """What `GET /traces/recent` listed, in the Worker's order."""

    traces: list[dict[str, Any]]
    listed: int
    problems: list[str] = field(default_factory=list)

    @property
    def full(self) -> bool:
        """True when the Worker's cap was reached: older traces may be missing."""
        return self.listed >= RECENT_CAP


@dataclass
class TraceLogs:
    """One trace's entries as raw elements, newest first like the Redis list."""

    elements: list[bytes]
    problems: list[str] = field(default_factory=list)


class WorkerSource:
    """Reads the buffer through the logging Worker's HTTP API."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        try:
            httpx.URL(self.url)
        except httpx.InvalidURL as exc:
            raise SourceError(
                f"cannot use the Worker URL {self.describe()}: {exc}", title="worker"
            ) from exc
        self.limiter = limiter or RateLimiter()
        self.retry = retry or RetryPolicy()
        self._token = token
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._cancel: threading.Event | None = None
        """The running read's cancel event: it cuts retry waits short."""

    def describe(self) -> str:
        """The Worker URL with any secret masked."""
        return redact_url(self.url)

    def close(self) -> None:
        """Drop the connection pool and record the requests spent."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
        self.limiter.flush()

    def client(self) -> httpx.Client:
        """The HTTP client, created on first use (bearer token if one is set)."""
        with self._lock:
            if self._client is None:
                headers = {"Accept": "application/json"}
                if self._token:
                    headers["Authorization"] = f"Bearer {self._token}"
                self._client = httpx.Client(
                    base_url=self.url,
                    headers=headers,
                    timeout=self._timeout,
                    follow_redirects=True,
                )
            return self._client

    def get(
        self, path: str, params: dict[str, str] | None = None, *, final: int = 0
    ) -> httpx.Response:
        """GET with the shared limiter and retries; `final` is a status not retried.

        Returns any response that is not retryable (or whose status is
        `final`); raises SourceError once retries are spent.
        """
        attempt = 0
        while True:
            self.limiter.acquire(1)
            failure: httpx.Response | httpx.TransportError
            retry_after = None
            try:
                response = self.client().get(path, params=params)
            except httpx.TransportError as exc:
                failure = exc
            else:
                status = response.status_code
                if status == final or status not in self.retry.statuses:
                    return response
                failure = response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if not self.retry.should_retry(attempt):
                raise self._failure(path, params, failure)
            delay = self.retry.delay(attempt, retry_after)
            log.warning(
                "%s; retrying in %.2fs", self._explain(path, params, failure), delay
            )
            if self.retry.pause(delay, self._cancel):
                raise SyncCancelled("the sync was cancelled while waiting to retry")
            attempt += 1

    def _where(self, path: str, params: dict[str, str] | None) -> str:
        url = httpx.URL(self.url + path, params=params)
        return redact_url(str(url))

    def _explain(
        self,
        path: str,
        params: dict[str, str] | None,
        failure: httpx.Response | httpx.TransportError,
    ) -> str:
        where = self._where(path, params)
        if isinstance(failure, httpx.Response):
            return (
                f"{where} answered {failure.status_code} "
                f"{failure.reason_phrase}: {excerpt(failure)}"
            )
        if isinstance(failure, httpx.TimeoutException):
            return f"{where} did not answer within {self._timeout:g}s"
        detail = redact_text(str(failure) or type(failure).__name__)
        return f"cannot reach {where}: {detail}"

    def _failure(
        self,
        path: str,
        params: dict[str, str] | None,
        failure: httpx.Response | httpx.TransportError,
    ) -> SourceError:
        tries = self.retry.attempts
        text = self._explain(path, params, failure)
        return SourceError(f"{text} (after {tries} tries)", title="worker")

    def get_json(
        self, path: str, params: dict[str, str] | None = None, *, final: int = 0
    ) -> tuple[httpx.Response, Any]:
        """GET and decode JSON; a 2xx body that is not JSON raises BadAnswer.

        Any other non-2xx status (except `final`) raises SourceError.
        """
        response = self.get(path, params, final=final)
        ok = response.is_success or response.status_code == final
        if not ok:
            raise SourceError(self._explain(path, params, response), title="worker")
        return response, self._decode(path, params, response)

    def _decode(
        self, path: str, params: dict[str, str] | None, response: httpx.Response
    ) -> Any:
        # A stray non-UTF-8 byte costs one character, not the whole answer.
        text = response.content.decode("utf-8", errors="replace")
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadAnswer(
                f"{self._where(path, params)} answered {response.status_code} with "
                f"{_body_kind(response)}: {excerpt(response)}"
            ) from exc

    def health(self) -> Health:
        """`GET /health`: a 503 (Redis unhealthy) is an answer, not a failure."""
        started = time.perf_counter()
        try:
            response, data = self.get_json("/health", final=503)
        except BadAnswer as exc:
            raise SourceError(str(exc), title="worker") from exc
        latency = (time.perf_counter() - started) * 1000
        return parse_health(response.status_code, data, latency)

    def recent(self, limit: int = RECENT_CAP) -> RecentTraces:
        """`GET /traces/recent`: the newest traces the Worker knows of."""
        try:
            _, data = self.get_json("/traces/recent", {"limit": str(limit)})
        except BadAnswer as exc:
            raise SourceError(str(exc), title="worker") from exc
        return parse_recent(data)

    def scan_keys(self, cancel: threading.Event | None = None) -> list[bytes]:
        """The `logs:*` keys of the traces the Worker lists (at most 50).

        Shaped like `RedisSource.scan_keys`, so trace completion works
        with either source.
        """
        if cancel is not None and cancel.is_set():
            return []
        return sorted({trace_key(t["id"]).encode() for t in self.recent().traces})

    def trace_logs(self, trace_id: str) -> TraceLogs:
        """`GET /logs?trace_id=`: one trace's entries, newest first.

        A body that breaks the contract raises BadAnswer; a refused token or
        an unreachable Worker raises SourceError.
        """
        path, params = "/logs", {"trace_id": trace_id}
        response = self.get(path, params)
        if response.status_code in AUTH_STATUSES:
            raise SourceError(self._explain(path, params, response), title="worker")
        if not response.is_success:
            raise BadAnswer(self._explain(path, params, response))
        data = self._decode(path, params, response)
        try:
            return parse_logs(trace_id, data)
        except BadAnswer as exc:
            raise BadAnswer(f"{self._where(path, params)}: {exc}") from exc

    def read(
        self, request: ReadRequest, cancel: threading.Event
    ) -> Iterator[ReadChunk]:
        """Yield each listed (or named) trace whole, `chunk_entries` at a time."""
        self._cancel = cancel
        chunk = ReadChunk()
        names = list(dict.fromkeys(request.traces))
        if not names:
            listing = self.recent()
            names = [t["id"] for t in listing.traces]
            chunk.notes.extend(listing.problems)
            if listing.full:
                log.warning(CAP_WARNING)
                chunk.notes.append(CAP_WARNING)
        chunk.keys_total = len(names)
        named = bool(request.traces)
        with ThreadPoolExecutor(FETCHERS, thread_name_prefix="logsync-http") as pool:
            for group in batched(names, FETCHERS):
                if cancel.is_set():
                    return
                for trace_id, got in zip(
                    group, pool.map(self._fetch, group), strict=True
                ):
                    _absorb(trace_id, got, named, chunk)
                if chunk.entries >= request.chunk_entries:
                    yield chunk
                    chunk = ReadChunk(keys_total=len(names))
        yield chunk

    def _fetch(self, trace_id: str) -> TraceLogs | BadAnswer:
        try:
            return self.trace_logs(trace_id)
        except BadAnswer as exc:
            return exc


def _absorb(
    trace_id: str, got: TraceLogs | BadAnswer, named: bool, chunk: ReadChunk
) -> None:
    key = trace_key(trace_id)
    chunk.keys_done += 1
    if isinstance(got, BadAnswer):
        log.warning("skipped %s: %s", key, got)
        chunk.bad_keys.append(BadKey(key, str(got)))
        return
    chunk.notes.extend(f"{key}: {p}" for p in got.problems)
    if got.elements:
        chunk.pieces.append(KeyPiece(key, 0, got.elements))
    elif named:
        chunk.notes.append(f"{key}: the Worker holds no entries for this trace")


def excerpt(response: httpx.Response) -> str:
    """The start of a body as one line: tags stripped, secrets masked."""
    text = response.content[: EXCERPT_CHARS * 8].decode("utf-8", errors="replace")
    if _is_html(response, text):
        text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
        text = re.sub(r"<[^>]*>", " ", text)
    text = " ".join(text.split())
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS] + "..."
    return redact_text(text) or "(empty body)"


def _is_html(response: httpx.Response, text: str) -> bool:
    kind = response.headers.get("content-type", "").lower()
    return "html" in kind or text.lstrip().lower().startswith(("<!doctype", "<html"))


def _body_kind(response: httpx.Response) -> str:
    text = response.content[:64].decode("utf-8", errors="replace")
    if _is_html(response, text):
        return "an HTML page instead of JSON"
    if not response.content:
        return "an empty body instead of JSON"
    return "a body that is not JSON (cut short or malformed)"


def entry_bytes(entry: Any) -> bytes:
    """An entry as the Worker stores it in Redis: compact JSON, unicode kept.

    A string is what a Worker hands back for an element it could not parse:
    its text is the raw element, so it goes to ingest unchanged.
    """
    if isinstance(entry, str):
        return entry.encode("utf-8", errors="surrogatepass")
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", errors="surrogatepass"
    )


def parse_logs(trace_id: str, data: Any) -> TraceLogs:
    """Check a `/logs` answer and turn its entries into raw elements."""
    if not isinstance(data, dict):
        raise BadAnswer(f"the answer is a JSON {_kind(data)}, not an object")
    entries = data.get("logs")
    if not isinstance(entries, list):
        raise BadAnswer(f"the answer's `logs` is {_kind(entries)}, not a list")
    problems: list[str] = []
    answered = data.get("trace_id")
    if answered is not None and answered != trace_id:
        problems.append(f"the Worker answered for trace {str(answered)[:80]!r}")
    count = data.get("count")
    if isinstance(count, int) and count != len(entries):
        problems.append(f"the answer says count {count} but holds {len(entries)}")
    # The Worker lists oldest first; Redis holds newest first.
    return TraceLogs([entry_bytes(e) for e in reversed(entries)], problems)


def parse_recent(data: Any) -> RecentTraces:
    """Check a `/traces/recent` answer; entries without an id are reported."""
    if not isinstance(data, dict) or not isinstance(data.get("traces"), list):
        raise SourceError(
            "the Worker's /traces/recent answer has no `traces` list",
            title="worker",
        )
    raw: list[Any] = data["traces"]
    out = RecentTraces(traces=[], listed=len(raw))
    seen: set[str] = set()
    for i, item in enumerate(raw):
        trace = _trace_summary(item)
        if trace is None:
            out.problems.append(f"/traces/recent item {i} has no trace id: skipped")
        elif trace["id"] not in seen:
            seen.add(trace["id"])
            out.traces.append(trace)
    return out


def _trace_summary(item: Any) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    trace_id = item.get("id")
    if not isinstance(trace_id, str) or not trace_id:
        return None
    systems = item.get("systems")
    return {
        "id": trace_id,
        "timestamp": _int_or_none(item.get("timestamp")),
        "logCount": _int_or_none(item.get("logCount")) or 0,
        "systems": [s for s in systems if isinstance(s, str)]
        if isinstance(systems, list)
        else [],
        "hasErrors": item.get("hasErrors") is True,
    }


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def parse_health(status: int, data: Any, latency_ms: float) -> Health:
    """Check a `/health` answer; strings are masked, missing parts reported."""
    out = Health(http_status=status, latency_ms=round(latency_ms, 2))
    if not isinstance(data, dict):
        out.problems.append(f"/health answered a JSON {_kind(data)}, not an object")
        return out
    data = _masked(data)
    out.status = str(data.get("status", "?"))
    out.service = str(data.get("service", "?"))
    components = data.get("components")
    out.components = components if isinstance(components, dict) else {}
    redis_part = out.components.get("redis")
    if isinstance(redis_part, dict):
        out.redis_status = str(redis_part.get("status", "?"))
        out.redis_url = redact_url(str(redis_part.get("url", "")))
    else:
        out.problems.append("/health does not report the Redis component")
    cost = data.get("cost_model")
    out.cost_model = cost if isinstance(cost, dict) else {}
    out.ttl_seconds = _int_or_none(out.cost_model.get("redis_ttl"))
    return out


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {str(k): _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "missing"
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }.get(type(value), type(value).__name__)
