"""Delivering exports: clipboard (and its fallback, case 03), files, stdout,
and the `logsync export` exit codes run as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from logsync_tui.export import (
    ExportSpec,
    copy_text,
    default_filename,
    preview_export,
    render_export,
)
from logsync_tui.sources.embedded import EmbeddedRedis
from tests.conftest import read_jsonl
from tests.unit.test_export_formats import synced_store

TEXT = "line one\r\nline two [bold]\x1b[31m 日本語 🔥\n"


@pytest.fixture
def no_clipboard(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Case 03: no display and no clipboard tool on PATH."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


def test_no_clipboard_reports_without_raising(no_clipboard: None) -> None:
    outcome = copy_text(TEXT)
    assert not outcome.copied and outcome.fallback is None
    assert "clipboard" in outcome.message and "Nothing was copied" in outcome.message
    assert "Pyperclip" not in outcome.message


def test_no_clipboard_falls_back_to_osc52_and_a_file(
    no_clipboard: None, tmp_path: Path
) -> None:
    sent: list[str] = []
    outcome = copy_text(TEXT, osc52=sent.append, fallback_dir=tmp_path / "out")
    assert sent == [TEXT]
    assert outcome.fallback == "osc52+file" and outcome.path is not None
    assert outcome.path.read_bytes() == TEXT.encode("utf-8")
    assert str(outcome.path) in outcome.message and "OSC 52" in outcome.message


def test_copy_through_a_clipboard_tool(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bin_dir, sink = tmp_path / "bin", tmp_path / "clipboard.txt"
    bin_dir.mkdir()
    tool = bin_dir / "xclip"
    tool.write_text(f"#!/bin/sh\ncat > '{sink}'\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    outcome = copy_text(TEXT)
    assert outcome.copied and outcome.mechanism == "xclip"
    assert sink.read_bytes() == TEXT.encode("utf-8")


@pytest.fixture(scope="module")
def db(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("deliver") / "s.duckdb"
    synced_store(redis_server, path, read_jsonl("05-multiline-stack.jsonl")).close()
    return path


def run(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if "LOGSYNC" not in k}
    base.update(LOGSYNC_LOG_FILE=str(tmp / "log"), LOGSYNC_CONFIG=str(tmp / "x.toml"))
    base.update(env)
    return subprocess.run(
        [sys.executable, "-m", "logsync_tui", "export", *args],
        capture_output=True, text=True, timeout=120, env=base, cwd=tmp,
    )  # fmt: skip


def one_line(stderr: str) -> bool:
    return stderr.count("\n") == 1 and stderr.startswith("logsync: ")


def test_cli_copy_without_clipboard_case_03(db: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {"PATH": str(empty), "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    done = run(tmp_path, "--db", str(db), "--copy", **env)
    assert done.returncode == 1 and done.stdout == ""
    assert one_line(done.stderr) and "could not copy to the clipboard" in done.stderr
    assert "-o FILE" in done.stderr
    assert "Traceback" not in done.stderr and "Pyperclip" not in done.stderr
    saved = run(tmp_path, "--db", str(db), "-o", "after.md", **env)
    assert saved.returncode == 0 and (tmp_path / "after.md").read_text().startswith(
        "# logsync export"
    )


def test_cli_stdout_carries_only_data(db: Path, tmp_path: Path) -> None:
    done = run(tmp_path, "--db", str(db), "--format", "csv")
    assert done.returncode == 0 and done.stdout.startswith("id,trace_id,")
    assert one_line(done.stderr) and "exported 3 entries in 1 traces" in done.stderr
    assert "same slice: logsync export --format csv" in done.stderr
    assert "bytes" in done.stderr and "tokens" in done.stderr


def test_cli_never_overwrites_without_force(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("keep me")
    done = run(tmp_path, "--db", str(db), "--format", "json", "-o", str(target))
    assert done.returncode == 1 and one_line(done.stderr)
    assert "already exists" in done.stderr and target.read_text() == "keep me"
    forced = run(tmp_path, "--db", str(db), "--format", "json", "-o", str(target),
                 "--force")  # fmt: skip
    assert forced.returncode == 0 and target.read_text().startswith('{\n  "export"')
    assert sorted(p.name for p in tmp_path.iterdir() if "out" in p.name) == ["out.json"]


@pytest.mark.parametrize(
    "args",
    [
        ("--format", "text", "--jsonl"),
        ("--level", "fatal"),
        ("--copy", "-o", "x.md"),
        ("--force",),
        ("--max-tokens", "0"),
        ("--since", "last tuesday"),
        ("--format", "json", "--excel"),
    ],
)
def test_cli_bad_usage_exits_2(db: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    done = run(tmp_path, "--db", str(db), *args)
    assert done.returncode == 2 and one_line(done.stderr)
    assert done.stderr.startswith("logsync: usage: ") and done.stdout == ""


def test_cli_failures_exit_1(tmp_path: Path, db: Path) -> None:
    missing = run(tmp_path, "--db", str(tmp_path / "none.duckdb"))
    assert missing.returncode == 1 and one_line(missing.stderr)
    bad_dir = run(tmp_path, "--db", str(db), "-o", str(tmp_path / "no" / "x.md"))
    assert bad_dir.returncode == 1 and one_line(bad_dir.stderr)
    assert "cannot write" in bad_dir.stderr


def test_default_filename_and_preview(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    spec = ExportSpec("json", jsonl=True, traces=("t/../nl",))
    name = default_filename(spec, 1_796_000_000_000)
    assert name == "logsync-trace-t_.._nl-20261130-005320.jsonl"
    entries = read_jsonl("04-very-long-line.jsonl")
    with synced_store(redis_server, tmp_path / "s.duckdb", entries) as store:
        con = store.cursor()
        text, cut = preview_export(con, ExportSpec("text"), max_chars=1000, now_ms=1)
        full, _ = render_export(con, ExportSpec("text"), now_ms=1)
    assert cut and len(text) == 1000 and full.startswith(text)


def test_cli_copy_through_a_clipboard_tool(db: Path, tmp_path: Path) -> None:
    bin_dir, sink = tmp_path / "bin", tmp_path / "clipboard.txt"
    bin_dir.mkdir()
    tool = bin_dir / "xclip"
    tool.write_text(f"#!/bin/sh\ncat > '{sink}'\n")
    tool.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin", "DISPLAY": ":0",
           "WAYLAND_DISPLAY": ""}  # fmt: skip
    done = run(tmp_path, "--db", str(db), "--format", "json", "--copy", **env)
    assert done.returncode == 0 and done.stdout == "" and one_line(done.stderr)
    assert "copied to the clipboard (xclip)" in done.stderr
    doc = json.loads(sink.read_text(encoding="utf-8"))
    assert doc["export"]["counts"]["entries"] == 3
