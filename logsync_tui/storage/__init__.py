"""The DuckDB store: schema, migrations, bulk ingest, queries and retention.

Every SQL string of logsync lives in this package.
"""

from __future__ import annotations

from logsync_tui.storage.db import SCHEMA_VERSION, Store

__all__ = ["SCHEMA_VERSION", "Store"]
