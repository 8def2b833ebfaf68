"""Bulk ingest of raw buffer entries: parse, validate, dedupe, quarantine.

A batch arrives as one Arrow table and is handled by a few set-based
statements inside one transaction, so a batch is either wholly in the store
(rows, quarantine, watermarks, run counters) or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

SYSTEMS = ("browser", "convex", "worker", "manual")
LEVELS = ("log", "info", "warn", "error")

BATCH_SCHEMA = pa.schema(
    [
        ("source_key", pa.string()),
        ("source_index", pa.int64()),
        ("raw", pa.string()),
        ("raw_bytes", pa.binary()),
    ]
)
WATERMARK_SCHEMA = pa.schema(
    [("source_key", pa.string()), ("taken", pa.int64()), ("head_hash", pa.string())]
)


@dataclass(frozen=True)
class Scope:
    """Which parsed entries a run keeps: users and a [since, until] ms range."""

    users: tuple[str, ...] = ()
    since_ms: int | None = None
    until_ms: int | None = None


@dataclass
class BatchCounts:
    """What one batch did to the store."""

    scanned: int = 0
    inserted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    malformed: int = 0
    skipped: int = 0
    missing: int = 0
    """Valid entries of the batch that are not in the store after it."""

    def add(self, other: BatchCounts) -> None:
        """Accumulate another batch's counts into this one."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


# Timestamps outside 1970-01-01 .. 3000-01-01 are unreadable, not data.
MAX_MS = 32_503_680_000_000


def ms_sql(text: str) -> str:
    """SQL turning a timestamp's text into epoch ms, NULL when unusable.

    Numbers below 1e11 are seconds, above 1e14 microseconds, otherwise
    milliseconds; anything else is tried as an ISO 8601 time. Nothing in it
    can raise, so one odd entry never aborts a batch.
    """
    num = f"try_cast({text} AS DOUBLE)"
    scaled = (
        f"CASE WHEN abs({num}) < 1e11 THEN {num} * 1000 "
        f"WHEN abs({num}) > 1e14 THEN {num} / 1000 ELSE {num} END"
    )
    raw = (
        f"CASE WHEN {num} IS NULL THEN epoch_ms(try_cast({text} AS TIMESTAMPTZ)) "
        f"ELSE try_cast(round({scaled}) AS BIGINT) END"
    )
    return f"(CASE WHEN ({raw}) BETWEEN 0 AND {MAX_MS} THEN ({raw}) END)"


_PATHS = (
    "['$.id', '$.trace_id', '$.user_id', '$.system', '$.level', "
    "'$.message', '$.timestamp', '$.context', '$.stack']"
)
_SYSTEMS_SQL = ", ".join(f"'{s}'" for s in SYSTEMS)
_LEVELS_SQL = ", ".join(f"'{s}'" for s in LEVELS)

# Layer 1 parses each raw string once; layer 2 normalises; layer 3 names the
# first reason an entry cannot be stored, or NULL when it can.
# The parsed fields are materialised; the raw text is not copied: the
# ls_stage view puts it back beside them by position from the Arrow batch
# (CREATE TABLE AS keeps the batch's row order).
_STAGE = f"""
CREATE OR REPLACE TEMP TABLE ls_parsed AS
WITH parsed AS (
    SELECT source_key, source_index, raw, raw_bytes,
           try(json_extract_string(raw, {_PATHS})) AS f
    FROM ls_batch
), norm AS (
    SELECT source_key, source_index, raw, raw_bytes, f,
           f[1] AS id,
           coalesce(f[2], substr(source_key, 6)) AS trace_id,
           f[3] AS user_id,
           lower(f[4]) AS system,
           lower(f[5]) AS level,
           f[6] AS message,
           f[7] AS ts_text,
           f[8] AS context,
           f[9] AS stack
    FROM parsed
), timed AS (
    SELECT *, {ms_sql("ts_text")} AS ts
    FROM norm
)
SELECT source_key, source_index, id, trace_id, user_id, system,
       level, message, ts, context, stack,
       CASE
           WHEN f IS NULL THEN 'not valid JSON'
           WHEN id IS NULL AND coalesce(try(json_type(raw)), '') <> 'OBJECT'
               THEN 'JSON ' || lower(coalesce(try(json_type(raw)), 'value'))
                    || ' is not an object'
           WHEN id IS NULL OR id = '' THEN 'missing id'
           WHEN system IS NULL THEN 'missing system'
           WHEN system NOT IN ({_SYSTEMS_SQL})
               THEN 'unknown system ' || left(f[4], 40)
           WHEN level IS NULL THEN 'missing level'
           WHEN level NOT IN ({_LEVELS_SQL}) THEN 'unknown level ' || left(f[5], 40)
           WHEN message IS NULL THEN 'missing message'
           WHEN ts_text IS NULL THEN 'missing timestamp'
           WHEN ts IS NULL THEN 'unreadable timestamp ' || left(ts_text, 40)
       END AS reason,
       CASE
           WHEN $users_any AND NOT coalesce(list_contains($users, user_id), false)
               THEN false
           WHEN $since IS NOT NULL AND ts < $since THEN false
           WHEN $until IS NOT NULL AND ts > $until THEN false
           ELSE true
       END AS in_scope
FROM timed
"""

_STAGE_VIEW = """
CREATE OR REPLACE TEMP VIEW ls_stage AS
SELECT p.*, b.raw, b.raw_bytes FROM ls_parsed p POSITIONAL JOIN ls_batch b
"""

_QUARANTINE = """
INSERT INTO quarantine
SELECT DISTINCT ON (source_key, h) source_key, h, source_index, raw, raw_bytes,
       reason, $run, now()::TIMESTAMP
FROM (SELECT *, md5(raw) AS h FROM ls_stage WHERE reason IS NOT NULL) q
WHERE NOT EXISTS (
    SELECT 1 FROM quarantine e WHERE e.source_key = q.source_key AND e.raw_hash = q.h
)
"""

_RANKED = """
CREATE OR REPLACE TEMP TABLE ls_ranked AS
SELECT *, row_number() OVER (
           PARTITION BY id ORDER BY source_key, source_index DESC) AS rn
FROM ls_stage WHERE reason IS NULL AND in_scope
"""

# (ids repeated within the batch, ids already stored): both 0 is the fast path.
_REPEATS = """
SELECT (SELECT count(*) - count(DISTINCT id) FROM ls_stage
        WHERE reason IS NULL AND in_scope),
       (SELECT count(*) FROM debug_logs d
        WHERE d.id IN (SELECT id FROM ls_stage WHERE reason IS NULL AND in_scope))
"""

_INSERT_FRESH = """
INSERT INTO debug_logs
SELECT id, trace_id, user_id, system, level, message, ts, context, stack, raw,
       raw_bytes, source_key, now()::TIMESTAMP, $run
FROM ls_stage WHERE reason IS NULL AND in_scope
"""

_COUNTS_FRESH = """
SELECT count(*),
       count(*) FILTER (WHERE reason IS NULL AND in_scope),
       0, 0,
       count(*) FILTER (WHERE reason IS NOT NULL),
       count(*) FILTER (WHERE reason IS NULL AND NOT in_scope),
       0
FROM ls_stage
"""


def _same(a: str, b: str, b_ts: str = "timestamp") -> str:
    cols = ("trace_id", "user_id", "system", "level", "message", "context", "stack")
    parts = [f"{a}.{c} IS NOT DISTINCT FROM {b}.{c}" for c in cols]
    parts.append(f"{a}.ts IS NOT DISTINCT FROM {b}.{b_ts}")
    return " AND ".join(parts)


_CLASSIFY_WITH_STORED = f"""
CREATE OR REPLACE TEMP TABLE ls_class AS
SELECT r.*, coalesce(d.raw_data, w.raw) AS ref_raw,
       CASE
           WHEN d.id IS NULL AND r.rn = 1 THEN 'new'
           WHEN d.id IS NOT NULL AND {_same("r", "d")} THEN 'duplicate'
           WHEN d.id IS NULL AND {_same("r", "w", "ts")} THEN 'duplicate'
           ELSE 'conflict'
       END AS outcome
FROM ls_ranked r
LEFT JOIN (SELECT * FROM debug_logs WHERE id IN (SELECT id FROM ls_ranked)) d
       ON d.id = r.id
LEFT JOIN ls_ranked w ON r.rn > 1 AND w.id = r.id AND w.rn = 1
"""

_CLASSIFY_NEW_ONLY = f"""
CREATE OR REPLACE TEMP TABLE ls_class AS
SELECT r.*, w.raw AS ref_raw,
       CASE
           WHEN r.rn = 1 THEN 'new'
           WHEN {_same("r", "w", "ts")} THEN 'duplicate'
           ELSE 'conflict'
       END AS outcome
FROM ls_ranked r
LEFT JOIN ls_ranked w ON r.rn > 1 AND w.id = r.id AND w.rn = 1
"""

_INSERT_NEW = """
INSERT INTO debug_logs
SELECT id, trace_id, user_id, system, level, message, ts, context, stack, raw,
       raw_bytes, source_key, now()::TIMESTAMP, $run
FROM ls_class WHERE outcome = 'new'
"""

_RECORD_CONFLICTS = """
INSERT INTO conflicts
SELECT $run, id, $resolution, ref_raw, raw, now()::TIMESTAMP
FROM ls_class WHERE outcome = 'conflict'
"""

_SAVE_REPLACED = """
INSERT INTO replaced_logs
SELECT d.*, $run FROM debug_logs d
WHERE d.id IN (SELECT id FROM ls_class WHERE outcome = 'conflict')
"""

_TAKE_INCOMING = """
UPDATE debug_logs SET
    trace_id = c.trace_id, user_id = c.user_id, system = c.system, level = c.level,
    message = c.message, timestamp = c.ts, context = c.context, stack = c.stack,
    raw_data = c.raw, raw_bytes = c.raw_bytes, source_key = c.source_key,
    synced_at = now()::TIMESTAMP
FROM (SELECT DISTINCT ON (id) * FROM ls_class WHERE outcome = 'conflict'
      ORDER BY id, rn DESC) c
WHERE debug_logs.id = c.id
"""

_COUNTS = """
SELECT
    (SELECT count(*) FROM ls_stage),
    (SELECT count(*) FILTER (WHERE outcome = 'new') FROM ls_class),
    (SELECT count(*) FILTER (WHERE outcome = 'duplicate') FROM ls_class),
    (SELECT count(*) FILTER (WHERE outcome = 'conflict') FROM ls_class),
    (SELECT count(*) FILTER (WHERE reason IS NOT NULL) FROM ls_stage),
    (SELECT count(*) FILTER (WHERE reason IS NULL AND NOT in_scope) FROM ls_stage),
    (SELECT count(*) FROM ls_ranked r
     WHERE NOT EXISTS (SELECT 1 FROM debug_logs d WHERE d.id = r.id))
"""

_WATERMARKS = """
INSERT OR REPLACE INTO sync_state
SELECT source_key, taken, head_hash, $run, now()::TIMESTAMP FROM ls_marks
"""

_RUN_COUNTERS = """
UPDATE sync_runs SET
    scanned = scanned + $scanned, inserted = inserted + $inserted,
    duplicates = duplicates + $duplicates, conflicts = conflicts + $conflicts,
    malformed = malformed + $malformed, skipped = skipped + $skipped,
    keys = keys + $keys
WHERE run_id = $run
"""


def ingest_batch(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    batch: pa.Table,
    watermarks: pa.Table,
    scope: Scope,
    policy: str = "keep",
    keys_done: int = 0,
) -> BatchCounts:
    """Store one batch of raw entries and its keys' watermarks atomically."""
    con.execute("BEGIN")
    try:
        counts = ingest_rows(con, run_id, batch, watermarks, scope, policy, keys_done)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def ingest_rows(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    batch: pa.Table,
    watermarks: pa.Table,
    scope: Scope,
    policy: str = "keep",
    keys_done: int = 0,
) -> BatchCounts:
    """`ingest_batch` inside a transaction the caller opened and commits."""
    con.register("ls_batch", batch)
    con.register("ls_marks", watermarks)
    try:
        return _ingest(con, run_id, watermarks, scope, policy, keys_done)
    finally:
        for name in ("ls_batch", "ls_marks"):
            con.unregister(name)


def forget_repaired(con: duckdb.DuckDBPyConnection, batch: pa.Table) -> int:
    """Drop from the quarantine the entries of `batch` (just ingested) that parse."""
    con.register("ls_batch", batch)
    try:
        row = con.execute(
            "DELETE FROM quarantine q USING ls_stage s WHERE s.reason IS NULL "
            "AND q.source_key = s.source_key AND q.raw_hash = md5(s.raw)"
        ).fetchone()
    finally:
        con.unregister("ls_batch")
    return int(row[0]) if row else 0


def _ingest(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    watermarks: pa.Table,
    scope: Scope,
    policy: str,
    keys_done: int,
) -> BatchCounts:
    con.execute(
        _STAGE,
        {
            "users": list(scope.users) or [""],
            "users_any": bool(scope.users),
            "since": scope.since_ms,
            "until": scope.until_ms,
        },
    )
    con.execute(_STAGE_VIEW)
    con.execute(_QUARANTINE, {"run": run_id})
    repeats = con.execute(_REPEATS).fetchone() or (0, 0)
    if repeats == (0, 0):
        # Every id is new to the store and to the batch: insert straight away.
        con.execute(_INSERT_FRESH, {"run": run_id})
        counts = BatchCounts(*con.execute(_COUNTS_FRESH).fetchone())  # type: ignore[misc]
    else:
        counts = _ingest_repeats(con, run_id, policy, has_stored=bool(repeats[1]))
    if watermarks.num_rows:
        con.execute(_WATERMARKS, {"run": run_id})
    con.execute(
        _RUN_COUNTERS,
        {
            "run": run_id,
            "keys": keys_done,
            **{k: v for k, v in counts.__dict__.items() if k != "missing"},
        },
    )
    return counts


def _ingest_repeats(
    con: duckdb.DuckDBPyConnection, run_id: int, policy: str, has_stored: bool
) -> BatchCounts:
    con.execute(_RANKED)
    con.execute(_CLASSIFY_WITH_STORED if has_stored else _CLASSIFY_NEW_ONLY)
    con.execute(_INSERT_NEW, {"run": run_id})
    _resolve_conflicts(con, run_id, policy, has_stored)
    return BatchCounts(*con.execute(_COUNTS).fetchone())  # type: ignore[misc]


def _resolve_conflicts(
    con: duckdb.DuckDBPyConnection, run_id: int, policy: str, has_stored: bool
) -> None:
    take = policy == "take" and has_stored
    resolution = "taken" if take else "kept"
    con.execute(_RECORD_CONFLICTS, {"run": run_id, "resolution": resolution})
    if take:
        con.execute(_SAVE_REPLACED, {"run": run_id})
        con.execute(_TAKE_INCOMING)
