"""Redaction in exports: every kind in message, stack and nested context,
nothing else changed, counts reported, the store left alone."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from logsync_tui.export import ExportSpec, render_export
from logsync_tui.redact import Redactor
from logsync_tui.sources.embedded import EmbeddedRedis
from logsync_tui.storage import Store
from logsync_tui.storage.queries import LogFilter, iter_rows
from tests.unit.test_export_formats import synced_store

# kind -> (secret as it appears in a text, the text that must replace it)
SAMPLES = {
    "url_password": (
        "redis://default:S3cretPw9@cache.example.net:6379/0",
        "redis://default:[redacted:url_password]@cache.example.net:6379/0",
    ),
    "jwt": (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlX3ZhbHVl",
        "[redacted:jwt]",
    ),
    "bearer": ("Bearer abcDEF1234567890xyzQ", "Bearer [redacted:bearer]"),
    "api_key": ("AKIAIOSFODNN7EXAMPLE", "[redacted:api_key]"),
    "secret": ("password=hunter2hunter2", "password=[redacted:secret]"),
    "email": ("jane.doe+logs@example.org", "[redacted:email]"),
}
SECRET_PARTS = {
    "url_password": "S3cretPw9",
    "jwt": "c2lnbmF0dXJlX3ZhbHVl",
    "bearer": "abcDEF1234567890xyzQ",
    "api_key": "AKIAIOSFODNN7EXAMPLE",
    "secret": "hunter2hunter2",
    "email": "jane.doe+logs@example.org",
}
MORE_API_KEYS = [
    "ghp_" + "a1B2c3D4e5" * 4,
    "xoxb-1234567890-abcdefghij",
    "sk_live_" + "Z9y8X7w6V5u4T3s2",
    "AIza" + "Sy0123456789abcdefghijABCDEFGHIJ_-x",
    "sk-proj-" + "abcdefghij0123456789XYZ",
    "glpat-" + "abcdefghij0123456789",
]
# Look like secrets to a careless pattern, but are not.
INNOCENT = [
    "max_tokens=100 and tokens: 5",
    "npm install pkg@1.2.3",
    "handler@https://example.com/app.js:1:2",
    "GET https://example.com/path?q=1&page=2",
    "at foo (x.js:1:1) [bold]x[/bold] \x1b[31mred\x1b[0m",
    "user 123e4567-e89b-12d3-a456-426614174000 sk-short",
    "passed 12 tests; secretary went home",
]


def entry(n: int, message: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": f"{1_796_000_000_000 + n}_r{n:08d}",
        "trace_id": "t-redact",
        "system": "worker",
        "level": "error",
        "message": message,
        "timestamp": 1_796_000_000_000 + n,
    }
    base.update(extra)
    return base


def source_entries() -> list[dict[str, Any]]:
    entries = []
    for n, (kind, (secret, _)) in enumerate(SAMPLES.items()):
        entries.append(
            entry(
                n,
                f"{kind} in message: {secret} (end)",
                stack=f"Error: {kind}\n    at {secret}\n    at x (y.js:1:1)",
                context={"a": {"b": [{"note": f"see {secret}"}], "n": n}},
            )
        )
    keyed = {"outer": {"list": [{"api_key": "plainvalue1", "Client-Secret": 42}]}}
    keyed["db"] = {"password": "pw", "token_count": 7, "tokens": "x"}
    entries.append(entry(50, "keys in context", context=keyed))
    entries.append(entry(51, " ".join(MORE_API_KEYS)))
    entries.append(entry(52, INNOCENT[0], stack="\n".join(INNOCENT), context={
        "notes": INNOCENT, "session": {"user": "u1"}}))  # fmt: skip
    return entries


@pytest.fixture(scope="module")
def redact_store(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("redact") / "s.duckdb"
    with synced_store(redis_server, path, source_entries()) as store:
        yield store


def expected_text(text: str) -> str:
    for secret, replacement in SAMPLES.values():
        text = text.replace(secret, replacement)
    return text


def test_every_kind_in_message_stack_and_nested_context(redact_store) -> None:
    text, report = render_export(redact_store.cursor(), ExportSpec("json"))
    entries = {e["id"]: e for t in json.loads(text)["traces"] for e in t["entries"]}
    for src in source_entries()[: len(SAMPLES)]:
        got = entries[src["id"]]
        assert got["message"] == expected_text(src["message"])
        assert got["stack"] == expected_text(src["stack"])
        note = got["context"]["a"]["b"][0]["note"]
        assert note == expected_text(src["context"]["a"]["b"][0]["note"])
        assert got["context"]["a"]["n"] == src["context"]["a"]["n"]
    assert report.redacted["email"] == 3 and report.redacted["url_password"] == 3
    assert report.redacted["jwt"] == 3 and report.redacted["bearer"] == 3


def test_secret_keys_at_any_depth(redact_store) -> None:
    text, _ = render_export(redact_store.cursor(), ExportSpec("json"))
    entries = {
        e["message"]: e for t in json.loads(text)["traces"] for e in t["entries"]
    }
    context = entries["keys in context"]["context"]
    assert context == {
        "outer": {"list": [{"api_key": "[redacted:secret]",
                            "Client-Secret": "[redacted:secret]"}]},
        "db": {"password": "[redacted:secret]", "token_count": 7, "tokens": "x"},
    }  # fmt: skip


def test_api_key_shapes(redact_store) -> None:
    text, _ = render_export(redact_store.cursor(), ExportSpec("text"))
    for key in MORE_API_KEYS:
        assert key not in text
    assert " ".join(["[redacted:api_key]"] * len(MORE_API_KEYS)) in text


def test_innocent_entry_exported_unchanged(redact_store) -> None:
    text, _ = render_export(redact_store.cursor(), ExportSpec("json"))
    entries = [e for t in json.loads(text)["traces"] for e in t["entries"]]
    src = source_entries()[-1]
    got = next(e for e in entries if e["id"] == src["id"])
    assert (got["message"], got["stack"]) == (src["message"], src["stack"])
    assert got["context"] == src["context"]


def test_innocent_text_is_untouched() -> None:
    red = Redactor()
    for text in INNOCENT:
        assert red.text(text) == text
    assert red.value({"notes": INNOCENT, "tokens": 5}) == {
        "notes": INNOCENT, "tokens": 5}  # fmt: skip
    assert red.total == 0


@pytest.mark.parametrize(
    "text",
    ["api__key=abc123def", "API-_-KEY: abc123def", "pass__word=abc123def",
     "session--id=abc123def", "x access.key = abc123def"],
)  # fmt: skip
def test_key_words_with_repeated_separators(text: str) -> None:
    red = Redactor()
    out = red.text(text)
    assert "abc123def" not in out and out.endswith("[redacted:secret]")
    assert red.total == 1


@pytest.mark.parametrize(
    "spec",
    [
        ExportSpec("json"),
        ExportSpec("json", jsonl=True),
        ExportSpec("text"),
        ExportSpec("csv"),
        ExportSpec("text", max_tokens=400),
    ],
    ids=["json", "jsonl", "text", "csv", "text-budget"],
)
def test_no_secret_reaches_any_format(redact_store, spec: ExportSpec) -> None:
    text, report = render_export(redact_store.cursor(), spec)
    for part in [*SECRET_PARTS.values(), *MORE_API_KEYS, "plainvalue1"]:
        assert part not in text
    assert report.redacted_count > 0


def test_counts_match_markers(redact_store) -> None:
    text, report = render_export(redact_store.cursor(), ExportSpec("json", jsonl=True))
    for kind, n in report.redacted.items():
        assert text.count(f"[redacted:{kind}]") == n
    assert set(report.redacted) == set(SAMPLES)


def test_no_redact_keeps_everything_and_store_is_unchanged(redact_store) -> None:
    con = redact_store.cursor()
    before = list(iter_rows(con, LogFilter()))
    render_export(con, ExportSpec("json"))
    render_export(con, ExportSpec("csv"))
    assert list(iter_rows(con, LogFilter())) == before
    text, report = render_export(con, ExportSpec("csv", redact=False, raw_csv=True))
    assert report.redacted_count == 0 and "[redacted:" not in text
    records = list(csv.reader(io.StringIO(text, newline="")))
    messages = [r[7] for r in records[1:]]
    assert messages == [e["message"] for e in source_entries()]
