"""Realistic generated traces: a browser action, a Convex function, a Worker call.

Deterministic for a given seed and clock, so demos, tests and benchmarks see
the same buffer every time.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

USERS = [
    "user_ada", "user_bo", "user_chen", "user_dara", "user_eli", "user_fay",
    "user_gus", "user_hana", "user_ivo", "user_jun",
]  # fmt: skip

ACTIONS = [
    ("click: Checkout", "orders:create", "POST /api/payments"),
    ("submit: Sign in", "auth:login", "POST /api/session"),
    ("load: Dashboard", "dashboard:summary", "GET /api/metrics"),
    ("click: Upload avatar", "files:generateUploadUrl", "PUT /api/blob"),
    ("search: 'winter boots'", "catalog:search", "GET /api/search"),
    ("click: Send invite", "teams:invite", "POST /api/email"),
]

BROWSER_STACK = (
    "TypeError: Cannot read properties of undefined (reading 'total')\n"
    "    at CheckoutSummary (webpack://app/src/components/Checkout.tsx:42:17)\n"
    "    at renderWithHooks (react-dom.development.js:14985:18)\n"
    "    at mountIndeterminateComponent (react-dom.development.js:17811:13)"
)
CONVEX_STACK = (
    "Error: Uncaught ConvexError: payment provider timed out after 10000ms\n"
    "    at handler (../convex/orders.ts:88:11)\n"
    "    at async invokeMutation (../../node_modules/convex/src/server/impl/"
    "registration_impl.ts:72:14)"
)
WORKER_STACK = (
    "Error: upstream responded 502 Bad Gateway\n"
    "    at fetchUpstream (worker/src/proxy.ts:31:9)\n"
    "    at async handleRequest (worker/src/index.ts:57:20)"
)


@dataclass(frozen=True)
class DemoShape:
    """How many entries and traces to make, over which window."""

    entries: int = 600
    traces: int = 40
    now_ms: int = 1_796_126_400_000
    window_ms: int = 55 * 60 * 1000
    seed: int = 7


def _rand_id(rng: random.Random, ms: int) -> str:
    tail = "".join(rng.choices(string.ascii_lowercase + string.digits, k=9))
    return f"{ms}_{tail}"


def _trace_steps(
    rng: random.Random, n: int
) -> Iterator[tuple[str, str, str, str | None, dict[str, Any]]]:
    action, function, route = rng.choice(ACTIONS)
    fails = rng.random() < 0.3
    yield "browser", "info", action, None, {"route": "/checkout", "component": "Button"}
    yield "convex", "log", f"{function} started", None, {"function": function}
    yield "worker", "info", f"{route} received", None, {"method": route.split()[0]}
    for i in range(max(0, n - 6)):
        system = rng.choice(("browser", "convex", "worker"))
        level = rng.choices(("log", "info", "warn"), weights=(5, 8, 2))[0]
        text = _filler(rng, system, i)
        if level == "warn":
            text = f"slow step: {text}"
        yield system, level, text, None, {"step": i, "latency_ms": rng.randint(1, 900)}
    ending = _FAILURE if fails else _SUCCESS
    for system, level, template, stack, context in ending:
        text = template.format(route=route, function=function, ms=rng.randint(20, 400))
        yield system, level, text, stack, dict(context, function=function)


_FAILURE: list[tuple[str, str, str, str | None, dict[str, Any]]] = [
    ("worker", "error", "{route} failed: upstream responded 502", WORKER_STACK,
     {"status": 502, "upstream": "payments.example.internal"}),
    ("convex", "error", "{function} failed: payment provider timed out",
     CONVEX_STACK, {"retry": 1}),
    ("browser", "error", "Unhandled rejection in Checkout", BROWSER_STACK,
     {"url": "https://shop.example.com/checkout"}),
]  # fmt: skip
_SUCCESS: list[tuple[str, str, str, str | None, dict[str, Any]]] = [
    ("worker", "info", "{route} 200 in {ms}ms", None, {"status": 200}),
    ("convex", "info", "{function} finished", None, {}),
    ("browser", "info", "toast: Done", None, {}),
]


def _filler(rng: random.Random, system: str, step: int) -> str:
    if system == "browser":
        return f"render pass {step} took {rng.randint(3, 90)}ms"
    if system == "convex":
        return f"db.query('orders') returned {rng.randint(0, 40)} rows"
    hit = rng.choice(("hit", "miss"))
    return f"cache {hit} for key item:{rng.randint(1, 999)}"


def generate(shape: DemoShape) -> dict[str, list[dict[str, Any]]]:
    """Entries by trace id, each trace's entries oldest first."""
    rng = random.Random(shape.seed)
    per_trace = max(1, shape.entries // max(1, shape.traces))
    extra = shape.entries - per_trace * shape.traces
    out: dict[str, list[dict[str, Any]]] = {}
    for t in range(shape.traces):
        n = per_trace + (1 if t < extra else 0)
        trace_id = f"tr_{_rand_id(rng, 0)[2:]}{t:05d}"
        user = rng.choice([*USERS, None])
        start = shape.now_ms - rng.randint(60_000, shape.window_ms)
        ms = start
        entries: list[dict[str, Any]] = []
        for system, level, message, stack, context in _trace_steps(rng, n):
            if len(entries) == n:
                break
            ms += rng.randint(5, 1500)
            entry: dict[str, Any] = {
                "id": _rand_id(rng, ms),
                "trace_id": trace_id,
            }
            if user:
                entry["user_id"] = user
            entry.update(system=system, level=level, message=message)
            if stack:
                entry["stack"] = stack
            entry["timestamp"] = ms
            if context:
                entry["context"] = context
            entries.append(entry)
        out[trace_id] = entries
    return out


def compact(entry: Any) -> str:
    """An entry serialised as the Worker does: compact JSON, unicode kept."""
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
