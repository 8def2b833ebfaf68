"""The headless modules never pull in Textual."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEADLESS = [
    "logsync_tui.storage",
    "logsync_tui.storage.ingest",
    "logsync_tui.storage.queries",
    "logsync_tui.sources.redis",
    "logsync_tui.sync",
    "logsync_tui.stats",
    "logsync_tui.errors",
    "logsync_tui.cli",
    "logsync_tui.legacy",
    "logsync_tui.insight",
    "logsync_tui.storage.legacy",
    "logsync_tui.storage.insight",
]


@pytest.mark.parametrize("module", HEADLESS)
def test_no_textual(module: str) -> None:
    code = f"import sys, {module}; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
