"""Opening the DuckDB file, its lock, and the numbered schema migrations."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb

from logsync_tui.errors import StoreError, StoreLockedError
from logsync_tui.redact import redact_text

try:
    import fcntl
except ImportError:  # Windows: no open guard, see `_guard`.
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

Migration = Callable[[duckdb.DuckDBPyConnection], None]

_V1 = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL,
    applied_at TIMESTAMP NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS sync_run_seq START 1;
CREATE TABLE sync_runs (
    run_id BIGINT PRIMARY KEY DEFAULT nextval('sync_run_seq'),
    kind VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,
    keys BIGINT NOT NULL DEFAULT 0,
    scanned BIGINT NOT NULL DEFAULT 0,
    inserted BIGINT NOT NULL DEFAULT 0,
    duplicates BIGINT NOT NULL DEFAULT 0,
    conflicts BIGINT NOT NULL DEFAULT 0,
    malformed BIGINT NOT NULL DEFAULT 0,
    skipped BIGINT NOT NULL DEFAULT 0,
    verified BOOLEAN,
    error VARCHAR
);
CREATE TABLE debug_logs (
    id VARCHAR NOT NULL,
    trace_id VARCHAR NOT NULL,
    user_id VARCHAR,
    system VARCHAR NOT NULL,
    level VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    timestamp BIGINT NOT NULL,
    context VARCHAR,
    stack VARCHAR,
    raw_data VARCHAR NOT NULL USING COMPRESSION zstd,
    raw_bytes BLOB,
    source_key VARCHAR,
    synced_at TIMESTAMP NOT NULL,
    sync_run_id BIGINT NOT NULL
);
CREATE TABLE quarantine (
    source_key VARCHAR NOT NULL,
    raw_hash VARCHAR NOT NULL,
    source_index BIGINT,
    raw_data VARCHAR NOT NULL,
    raw_bytes BLOB,
    reason VARCHAR NOT NULL,
    sync_run_id BIGINT NOT NULL,
    quarantined_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source_key, raw_hash)
);
CREATE TABLE sync_state (
    source_key VARCHAR PRIMARY KEY,
    taken BIGINT NOT NULL,
    head_hash VARCHAR NOT NULL,
    sync_run_id BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE conflicts (
    sync_run_id BIGINT NOT NULL,
    id VARCHAR NOT NULL,
    resolution VARCHAR NOT NULL,
    stored_raw VARCHAR NOT NULL,
    incoming_raw VARCHAR NOT NULL,
    seen_at TIMESTAMP NOT NULL
);
CREATE TABLE replaced_logs AS
    SELECT *, CAST(NULL AS BIGINT) AS replaced_by_run FROM debug_logs LIMIT 0;
CREATE TABLE settings (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
"""


# debug_logs.id is unique by construction, not by a PRIMARY KEY: every batch
# is checked against the stored ids and against itself before it is inserted
# (storage/ingest.py), and only one process can write the file. Measured on
# 600,000 entries, the key's ART index made the insert 1.8x slower.
# raw_data is read only for one row or an export, so it is stored with zstd:
# measured, that costs less CPU than the default string compression and
# makes the file about 45% smaller.


# Schema 0 is the seed shape: a lone `debug_logs` (id, trace_id, user_id,
# system, level, message, timestamp, context, stack, raw_data, synced_at) and
# no schema_version. Migration 1 adopts its rows under one `migrate` run.
_ADOPT_V0 = """
INSERT INTO sync_runs (kind, scope, source, started_at, finished_at, status,
                       scanned, inserted)
SELECT 'migrate', '{"from_schema": 0}', 'store', now()::TIMESTAMP,
       now()::TIMESTAMP, 'ok', count(*), count(*) FROM debug_logs_v0;
INSERT INTO debug_logs
SELECT id, trace_id, user_id, system, level, message, timestamp, context, stack,
       coalesce(raw_data, to_json(v)::VARCHAR), NULL, 'logs:' || trace_id,
       coalesce(try_cast(synced_at AS TIMESTAMP), now()::TIMESTAMP),
       currval('sync_run_seq')
FROM debug_logs_v0 v;
DROP TABLE debug_logs_v0;
"""


def _v1(con: duckdb.DuckDBPyConnection) -> None:
    seed = _has_table(con, "debug_logs")
    if seed:
        con.execute("ALTER TABLE debug_logs RENAME TO debug_logs_v0")
    con.execute(_V1)
    if seed:
        con.execute(_ADOPT_V0)


def _v2(con: duckdb.DuckDBPyConnection) -> None:
    """Entries removed by a `clean` or `retention` run."""
    con.execute("ALTER TABLE sync_runs ADD COLUMN removed BIGINT NOT NULL DEFAULT 0")


MIGRATIONS: list[tuple[int, Migration]] = [(1, _v1), (2, _v2)]
SCHEMA_VERSION = MIGRATIONS[-1][0]

MEMORY_LIMIT = "1GB"
"""DuckDB's cache and working memory for reads and exports."""
SYNC_MEMORY_LIMIT = "128MB"
"""While a sync writes: measured on 1M entries, 256MB peaked at 448 MB RSS,
128MB at 389 MB, for the same CPU time."""
_LOCK_PID = re.compile(r"\(PID (\d+)\)")
_READ_ONLY_POSSIBLE = "read-only mode"
WaitCallback = Callable[[str], None]


class Store:
    """One open DuckDB store file. Each thread takes its own `cursor()`.

    DuckDB lets one process write a file, or several processes read it, never
    both: a read-only open fails too while a writer holds the file. `open`
    therefore waits up to `wait` seconds for the lock before it gives up.
    """

    def __init__(
        self, path: Path, con: duckdb.DuckDBPyConnection, read_only: bool
    ) -> None:
        self.path = path
        self.read_only = read_only
        self._con = con
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        read_only: bool = False,
        wait: float = 0.0,
        on_wait: WaitCallback | None = None,
        fallback_read_only: bool = False,
    ) -> Store:
        """Open (creating and migrating when writable) the store at `path`.

        Args:
            wait: seconds to keep retrying while another process holds the
                file; `on_wait` is told once, with who holds it.
            fallback_read_only: when other processes only read the file, open
                it read-only instead of waiting for them to finish.
        """
        target = Path(path)
        if not read_only:
            target.parent.mkdir(parents=True, exist_ok=True)
        elif not target.exists():
            raise StoreError(f"no store at {target}: run `logsync sync` first")
        con, read_only = _connect_waiting(
            target, read_only, wait, on_wait, fallback_read_only
        )
        store = cls(target, con, read_only)
        try:
            store._migrate()
        except BaseException:
            con.close()
            raise
        return store

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of this store for the calling thread."""
        with self._lock:
            cur = self._con.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        return cur

    def close(self) -> None:
        """Close the file; cursors taken from it stop working."""
        with self._lock:
            self._con.close()

    @property
    def can_compact(self) -> bool:
        """True when `compact` can swap the file here (writable, POSIX)."""
        return not self.read_only and fcntl is not None

    def compact(self) -> tuple[int, int]:
        """Rewrite the file without its free blocks: (bytes before, bytes after).

        DuckDB reuses freed blocks but never gives them back to the disk, so
        the live data is copied into a fresh file that atomically replaces
        this one. Cursors taken before stop working: take new ones.
        """
        if not self.can_compact:
            raise StoreError(f"{self.path} cannot be compacted from here")
        with self._lock:
            try:
                self._con.execute("CHECKPOINT")
            except duckdb.Error as exc:
                raise StoreError(f"cannot compact {self.path} now: {exc}") from exc
            before = file_size(self.path)
            fresh = self.path.with_name(f".{self.path.name}.compact")
            _copy_database(self._con, fresh)
            with _guard(self.path):
                os.replace(fresh, self.path)
                self._con.close()
                self._con = _reconnect(self.path)
        after = file_size(self.path)
        log.info("store %s compacted: %d -> %d bytes", self.path, before, after)
        return before, after

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        """The schema version recorded in the file (0 for an empty file)."""
        return current_version(self._con)

    def _migrate(self) -> None:
        version = current_version(self._con)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer logsync (schema {version}, "
                f"this one knows {SCHEMA_VERSION}): upgrade logsync to open it"
            )
        pending = [(v, m) for v, m in MIGRATIONS if v > version]
        if not pending:
            return
        if self.read_only:
            raise StoreError(
                f"{self.path} needs an upgrade to schema {SCHEMA_VERSION}: "
                "run a command that writes, such as `logsync sync`, once"
            )
        for number, migration in pending:
            self._apply(number, migration)

    def _apply(self, number: int, migration: Migration) -> None:
        con = self._con
        con.execute("BEGIN")
        try:
            migration(con)
            con.execute(
                "INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [number]
            )
            con.execute("COMMIT")
        except Exception as exc:
            con.execute("ROLLBACK")
            if not isinstance(exc, duckdb.Error):
                raise
            first = str(exc).splitlines()[0]
            raise StoreError(
                f"cannot upgrade {self.path} to schema {number} ({first}); "
                "the file was left as it was"
            ) from exc
        log.info("store %s migrated to schema %d", self.path, number)


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = first_row(
        con,
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = ? AND table_schema = 'main'",
        [name],
    )
    return bool(found and found[0])


def first_row(
    con: duckdb.DuckDBPyConnection, sql: str, params: object = None
) -> tuple[Any, ...] | None:
    """The first row of a statement, reading its whole result.

    A result left half-read keeps its transaction open, and an open
    transaction makes every later CHECKPOINT of the file fail.
    """
    rows = con.execute(sql, params).fetchall()
    return rows[0] if rows else None


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest applied migration, or 0 when the file has none."""
    if not _has_table(con, "schema_version"):
        return 0
    row = first_row(con, "SELECT max(version) FROM schema_version")
    return int(row[0]) if row and row[0] is not None else 0


def file_size(path: Path) -> int:
    """Bytes on disk of a store file and its write-ahead log."""
    total = 0
    for part in (path, Path(f"{path}.wal")):
        with contextlib.suppress(OSError):
            total += part.stat().st_size
    return total


def _copy_database(con: duckdb.DuckDBPyConnection, fresh: Path) -> None:
    """Copy every table, sequence and index of the open store into `fresh`."""
    for part in (fresh, Path(f"{fresh}.wal")):
        part.unlink(missing_ok=True)
    row = first_row(con, "SELECT current_database()")
    assert row is not None
    name = '"' + str(row[0]).replace('"', '""') + '"'
    target = str(fresh).replace("'", "''")
    con.execute(f"ATTACH '{target}' AS ls_fresh")
    try:
        con.execute(f"COPY FROM DATABASE {name} TO ls_fresh")
    except duckdb.Error as exc:
        con.execute("DETACH ls_fresh")
        fresh.unlink(missing_ok=True)
        raise StoreError(f"compaction failed, store unchanged: {exc}") from exc
    con.execute("DETACH ls_fresh")


def _reconnect(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the swapped-in file; the caller holds the open guard."""
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        raise _locked_error(path, str(exc)) from exc
    con.execute("SET TimeZone = 'UTC'")
    return con


def _connect_waiting(
    path: Path,
    read_only: bool,
    wait: float,
    on_wait: WaitCallback | None,
    fallback_read_only: bool,
) -> tuple[duckdb.DuckDBPyConnection, bool]:
    """Connect, retrying while the file is locked, for at most `wait` seconds."""
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            return _connect(path, read_only), read_only
        except StoreLockedError as exc:
            if fallback_read_only and not read_only and exc.readers_only:
                log.info("%s is being read by %s: opening read-only", path, exc.holder)
                read_only = True
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                if wait > 0:
                    exc.cause += f" (waited {wait:g}s)"
                raise
            if on_wait is not None and not told:
                on_wait(f"waiting up to {wait:g}s: {exc.cause}")
                told = True
            time.sleep(min(0.1, left))


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        with _guard(path):
            con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise _locked_error(path, text) from exc
        raise StoreError(f"cannot open {path}: {text.splitlines()[0]}") from exc
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise StoreError(f"cannot open {path}: {first}") from exc
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB would cache up to 80% of RAM; past this it spills to <file>.tmp.
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    return con


def _locked_error(path: Path, text: str) -> StoreLockedError:
    found = _LOCK_PID.search(text)
    pid = int(found.group(1)) if found else None
    holder = "another process"
    if pid is not None:
        holder = f"process {pid}"
        command = describe_process(pid)
        if command:
            holder += f" ({command})"
    error = StoreLockedError(
        f"{path} is in use by {holder}; wait for it to finish or close it"
    )
    error.pid = pid
    error.holder = holder
    error.readers_only = _READ_ONLY_POSSIBLE in text
    return error


def describe_process(pid: int) -> str:
    """A short, redacted command line of a process (`logsync sync`), if known."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    args = [a for a in raw.decode("utf-8", "replace").split("\0") if a]
    while args and os.path.basename(args[0]).startswith("python"):
        args = args[1:]
    if args and args[0] == "-m":
        args = args[1:]
    if not args:
        return ""
    words = [os.path.basename(args[0]), *args[1:2]]
    return redact_text(" ".join(words))[:60]


@contextlib.contextmanager
def _guard(path: Path) -> Iterator[None]:
    """Serialise logsync's own opens and file swaps of one store.

    Held only for the moment of a connect or of a compaction's swap, so that
    no logsync opens the old file while a compaction replaces it. Where
    `fcntl` is missing (Windows) or the lock file cannot be made, opens go
    unguarded and `Store.compact` is not used.
    """
    handle = None
    if fcntl is not None:
        with contextlib.suppress(OSError):
            handle = open(f"{path}.lock", "a+b")  # noqa: SIM115
    try:
        if handle is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        if handle is not None:
            handle.close()


@contextlib.contextmanager
def memory_limit(con: duckdb.DuckDBPyConnection, limit: str) -> Iterator[None]:
    """Hold the store's DuckDB memory to `limit` for the block, then restore it."""
    row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    con.execute(f"SET memory_limit = '{limit}'")
    try:
        yield
    finally:
        previous = str(row[0]) if row else MEMORY_LIMIT
        con.execute(f"SET memory_limit = '{previous}'")
