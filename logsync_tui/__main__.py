"""`python -m logsync_tui` runs the command line."""

from __future__ import annotations

from logsync_tui.cli import main

raise SystemExit(main())
