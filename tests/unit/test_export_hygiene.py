"""The export modules stay headless: importing them never pulls in Textual."""

from __future__ import annotations

import subprocess
import sys

import pytest

MODULES = [
    "logsync_tui.export",
    "logsync_tui.export.budget",
    "logsync_tui.export.deliver",
    "logsync_tui.storage.export_queries",
    "logsync_tui.redact",
]


@pytest.mark.parametrize("module", MODULES)
def test_export_modules_do_not_import_textual(module: str) -> None:
    code = f"import sys, {module}; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
