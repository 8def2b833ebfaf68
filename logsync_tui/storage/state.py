"""Per-key watermarks that make repeated syncs read only new list heads."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Watermark:
    """How many elements of a list were taken, and a hash of its newest one."""

    taken: int
    head_hash: str


def load_watermarks(con: duckdb.DuckDBPyConnection) -> dict[str, Watermark]:
    """Every stored watermark, by Redis key."""
    rows = con.execute("SELECT source_key, taken, head_hash FROM sync_state").fetchall()
    return {key: Watermark(int(taken), head) for key, taken, head in rows}


def forget_watermarks(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every watermark, so the next sync reads the whole buffer."""
    con.execute("DELETE FROM sync_state")


def count_present(con: duckdb.DuckDBPyConnection, ids: list[str]) -> int:
    """How many of `ids` are stored, for post-run verification."""
    if not ids:
        return 0
    row = con.execute(
        "SELECT count(*) FROM debug_logs WHERE id IN (SELECT unnest($ids))",
        {"ids": ids},
    ).fetchone()
    return int(row[0]) if row else 0
