"""A small logging Worker for the tests: DESIGN.md section 1's HTTP API on loopback.

It answers from a real redis-server, caps `/traces/recent` at 50 traces,
answers 503 when Redis is down, and can be told to misbehave: delays, 429
with Retry-After, 5xx, cut bodies, dropped connections, HTML pages, or any
JSON body in place of the real answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis

RECENT_CAP = 50
HEALTH_REDIS_URL = "rediss://default:upstash-secret-token@example.upstash.io:6379"
HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title>"
    "<style>body{color:red}</style></head><body><h1>Bad gateway</h1>"
    "<p>The origin is unreachable.</p></body></html>"
)


@dataclass
class Fault:
    """One way to misbehave, for the next `times` requests whose path matches.

    kinds: delay, status (with optional retry_after), truncate (JSON cut,
    framing valid), disconnect (fewer bytes than announced, then close),
    html (an HTML page with `status`), json (`body` sent instead with 200),
    raw (the bytes of `body` sent with `status`).
    """

    kind: str
    path: str = ""
    times: int = 1
    status: int = 500
    retry_after: str | None = None
    seconds: float = 0.0
    body: Any = None


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    raw_path: str
    authorization: str | None


@dataclass
class WorkerState:
    """What the server reads from and what the tests can change or inspect."""

    redis_url: str
    faults: list[Fault] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self, path: str) -> Fault | None:
        """The first pending fault for `path`, counted down."""
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and path.startswith(fault.path):
                    fault.times -= 1
                    return fault
        return None


class WorkerServer:
    """The HTTP server in a background thread; `url` is its base URL."""

    def __init__(self, redis_url: str) -> None:
        self.state = WorkerState(redis_url)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:PORT."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def fault(self, kind: str, **kwargs: Any) -> Fault:
        """Queue a fault; see `Fault`."""
        fault = Fault(kind, **kwargs)
        with self.state.lock:
            self.state.faults.append(fault)
        return fault

    def requests(self, path: str = "") -> list[Seen]:
        """Requests seen so far whose path starts with `path`."""
        with self.state.lock:
            return [s for s in self.state.seen if s.path.startswith(path)]

    def start(self) -> WorkerServer:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextmanager
def running_worker(redis_url: str) -> Iterator[WorkerServer]:
    """A started WorkerServer, stopped on exit."""
    server = WorkerServer(redis_url).start()
    try:
        yield server
    finally:
        server.stop()


class _Handler(BaseHTTPRequestHandler):
    state: WorkerState
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read `requests()` instead."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        with self.state.lock:
            self.state.seen.append(
                Seen(
                    method,
                    parts.path,
                    query,
                    self.path,
                    self.headers.get("Authorization"),
                )
            )
        fault = self.state.take_fault(parts.path)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None:
            self._misbehave(fault)
            return
        status, body = self._answer(method, parts.path, query)
        self._send(status, json.dumps(body).encode())

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        client = redis.Redis.from_url(self.state.redis_url, socket_timeout=2)
        try:
            return _route(client, method, path, query)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if path == "/health":
                return 503, _health(healthy=False)
            return 503, {"error": "Redis unavailable", "detail": str(exc)}
        finally:
            client.close()

    def _send(
        self, status: int, body: bytes, kind: str = "application/json", **extra: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _misbehave(self, fault: Fault) -> None:
        if fault.kind == "status":
            extra = {"Retry_After": fault.retry_after} if fault.retry_after else {}
            self._send(fault.status, b'{"error":"injected"}', **extra)
        elif fault.kind == "html":
            self._send(fault.status, HTML_PAGE.encode(), "text/html; charset=utf-8")
        elif fault.kind == "json":
            self._send(200, json.dumps(fault.body).encode())
        elif fault.kind == "raw":
            self._send(fault.status, fault.body)
        elif fault.kind == "truncate":
            self._send(200, b'{"trace_id":"t","logs":[{"id":"1_a","mess')
        elif fault.kind == "disconnect":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b'{"logs":[')
            self.wfile.flush()
            self.close_connection = True
        else:
            raise ValueError(f"unknown fault {fault.kind!r}")


def _route(
    client: redis.Redis, method: str, path: str, query: dict[str, list[str]]
) -> tuple[int, Any]:
    if method == "DELETE" and path == "/logs/clear":
        return 200, {"success": True, "cleared": _clear(client)}
    if method != "GET":
        return 405, {"error": "method not allowed"}
    if path == "/health":
        client.ping()
        return 200, _health(healthy=True)
    if path == "/traces/recent":
        limit = min(int(query.get("limit", ["10"])[0] or 10), RECENT_CAP)
        traces = _recent(client, limit)
        return 200, {"traces": traces, "count": len(traces), "retrieved_at": _now()}
    if path == "/logs":
        trace_id = query.get("trace_id", [""])[0]
        if not trace_id:
            return 400, {"error": "trace_id is required"}
        logs = [_parse(e) for e in reversed(client.lrange(f"logs:{trace_id}", 0, -1))]
        return 200, {
            "trace_id": trace_id,
            "logs": logs,
            "count": len(logs),
            "retrieved_at": _now(),
        }
    return 404, {"error": "not found"}


def _now() -> int:
    return int(time.time() * 1000)


def _parse(element: bytes) -> Any:
    """An element as the Worker hands it back: parsed JSON, else its text."""
    text = element.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _health(*, healthy: bool) -> dict[str, Any]:
    state = "healthy" if healthy else "unhealthy"
    return {
        "status": state,
        "service": "log-worker",
        "timestamp": _now(),
        "components": {
            "redis": {"status": state, "url": HEALTH_REDIS_URL},
            "rate_limiter": {"status": "healthy", "requests_per_minute": 600},
            "log_processor": {"status": "healthy"},
        },
        "cost_model": {
            "redis_ttl": 3600,
            "rate_limits": {"per_minute": 600, "per_day": 10000},
        },
    }


def _recent(client: redis.Redis, limit: int) -> list[dict[str, Any]]:
    traces = []
    for key in client.scan_iter(match="logs:*", count=1000):
        if client.type(key) != b"list":
            continue
        entries = [_parse(e) for e in client.lrange(key, 0, -1)]
        objects = [e for e in entries if isinstance(e, dict)]
        stamps = [
            e["timestamp"] for e in objects if isinstance(e.get("timestamp"), int)
        ]
        traces.append(
            {
                "id": key.decode()[len("logs:") :],
                "timestamp": max(stamps, default=0),
                "logCount": len(entries),
                "systems": sorted({str(e.get("system")) for e in objects}),
                "hasErrors": any(e.get("level") == "error" for e in objects),
            }
        )
    traces.sort(key=lambda t: (t["timestamp"], t["id"]), reverse=True)
    return traces[:limit]


def _clear(client: redis.Redis) -> int:
    keys = list(client.scan_iter(match="logs:*", count=1000))
    return int(client.delete(*keys)) if keys else 0
