"""Store-side of the legacy import: quarantining rows the mapping rejected."""

from __future__ import annotations

import duckdb
import pyarrow as pa

_QUARANTINE = """
INSERT INTO quarantine
SELECT DISTINCT ON (source_key, h) source_key, h, source_index, raw, raw_bytes,
       reason, $run, now()::TIMESTAMP
FROM (SELECT *, md5(raw) AS h FROM ls_rejects) q
WHERE NOT EXISTS (
    SELECT 1 FROM quarantine e WHERE e.source_key = q.source_key AND e.raw_hash = q.h
)
"""

_COUNTERS = """
UPDATE sync_runs SET scanned = scanned + $n, malformed = malformed + $n
WHERE run_id = $run
"""


def quarantine_rows(
    con: duckdb.DuckDBPyConnection, run_id: int, rejects: pa.Table
) -> int:
    """Quarantine rejected rows (source_key, source_index, raw, raw_bytes,
    reason) under run `run_id`, counting them as read and malformed.

    A row already quarantined (same key and text) is not stored twice, as in
    a sync. Returns how many rows were counted.
    """
    con.execute("BEGIN")
    try:
        con.register("ls_rejects", rejects)
        con.execute(_QUARANTINE, {"run": run_id})
        con.execute(_COUNTERS, {"run": run_id, "n": rejects.num_rows})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("ls_rejects")
    return int(rejects.num_rows)
