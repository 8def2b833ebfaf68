"""logsync: a Redis log buffer pulled into DuckDB and read as one timeline."""

from __future__ import annotations

__version__ = "0.1.0"
