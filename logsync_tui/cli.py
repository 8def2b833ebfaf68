"""The `logsync` command line: a thin layer over the engine, store and sources.

stdout carries only data (tables, JSON); every message goes to stderr as
`logsync: title: cause`, and the exit status follows `ExitCode`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from logsync_tui import __version__
from logsync_tui.config import Settings, load_settings
from logsync_tui.errors import ExitCode, LogsyncError, SyncCancelled, UsageError
from logsync_tui.logsetup import setup_logging
from logsync_tui.redact import redact_text

log = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace, Settings], int]


def _common(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand that is not given a flag keeps the top-level value.
    group = parser.add_argument_group("where", argument_default=argparse.SUPPRESS)
    group.add_argument("--redis-url", help="Redis URL (redis://, rediss://, unix://)")
    group.add_argument("--worker-url", help="the logging Worker's base URL")
    group.add_argument("--db", type=Path, help="the DuckDB store file")
    group.add_argument(
        "--lock-wait", type=float, metavar="SECONDS", help="wait for a busy store"
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, every subcommand included."""
    parser = argparse.ArgumentParser(
        prog="logsync",
        description="Pull a Redis log buffer into DuckDB and read it as one timeline.",
    )
    parser.add_argument("--version", action="version", version=f"logsync {__version__}")
    _common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
    return parser


def _add_stats(sub: Any) -> None:
    p = sub.add_parser("stats", help="summarise the buffer without importing it")
    _common(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_stats)


def _add_sync(sub: Any) -> None:
    p = sub.add_parser("sync", help="copy the buffer (or a slice) into the store")
    _common(p)
    p.add_argument("--trace", action="append", default=[], metavar="ID")
    p.add_argument("--user", action="append", default=[], metavar="ID")
    p.add_argument("--since", metavar="T", help="15m, 2h, 1d, epoch ms or ISO time")
    p.add_argument("--until", metavar="T")
    p.add_argument("--full", action="store_true", help="ignore watermarks")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--undo", type=int, metavar="RUN", help="remove what RUN inserted")
    p.add_argument("--runs", action="store_true", help="list past runs")
    p.set_defaults(handler=cmd_sync)


def _add_seed(sub: Any) -> None:
    p = sub.add_parser("seed", help="write Worker-format entries into Redis")
    _common(p)
    p.add_argument("--entries", type=int, default=600)
    p.add_argument("--traces", type=int, default=40)
    p.add_argument("--from-file", type=Path, metavar="F.jsonl")
    p.add_argument("--force", action="store_true", help="write even if logs:* exist")
    p.set_defaults(handler=cmd_seed)


def _add_demo(sub: Any) -> None:
    p = sub.add_parser("demo", help="an embedded Redis with realistic traces")
    p.add_argument(
        "--headless", action="store_true", help="sync and print, without the app"
    )
    p.set_defaults(handler=cmd_demo)


def _add_import_legacy(sub: Any) -> None:
    p = sub.add_parser("import-legacy", help="import the old Convex logging tables")
    _common(p)
    p.add_argument("export", type=Path, metavar="EXPORT", help="ZIP, folder or JSONL")
    p.add_argument("--table", metavar="NAME", help="the table of a single JSONL file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_import_legacy)


def _add_traces(sub: Any) -> None:
    p = sub.add_parser("traces", help="list stored traces with their insight")
    _common(p)
    p.add_argument("trace", nargs="?", metavar="ID", help="one trace in detail")
    p.add_argument("--sort", choices=["start", "duration", "entries", "errors"])
    p.add_argument("--search", default="", metavar="TEXT", help="id, user, system")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_traces)


def _add_export(sub: Any) -> None:
    p = sub.add_parser(
        "export", help="write stored logs as JSON, AI text (markdown) or CSV"
    )
    _common(p)
    p.add_argument("--format", choices=("json", "text", "csv"), help="default: text")
    p.add_argument("--jsonl", action="store_true", help="JSON, one entry per line")
    scope = p.add_argument_group("scope (the Logs screen's filters)")
    for flag in ("system", "level", "trace", "user"):
        scope.add_argument(f"--{flag}", action="append", default=[], metavar="X")
    scope.add_argument("--since", metavar="T", help="15m, 2h, 1d, epoch ms or ISO")
    scope.add_argument("--until", metavar="T")
    scope.add_argument("--search", default="", metavar="TEXT")
    p.add_argument("--no-redact", action="store_true", help="keep secrets as stored")
    p.add_argument("--max-tokens", type=int, metavar="N", help="text: fit N tokens")
    p.add_argument("--raw-csv", action="store_true", help="csv: no formula guard")
    p.add_argument("--excel", action="store_true", help="csv: add a UTF-8 BOM")
    p.add_argument("-o", "--output", type=Path, metavar="FILE")
    p.add_argument("--force", action="store_true", help="let -o replace a file")
    p.add_argument("--copy", action="store_true", help="put it on the clipboard")
    p.set_defaults(handler=cmd_export)


def _add_clean(sub: Any) -> None:
    p = sub.add_parser("clean", help="remove entries from the store")
    _common(p)
    kind = p.add_mutually_exclusive_group(required=True)
    kind.add_argument(
        "--all", action="store_true", help="everything; forget watermarks"
    )
    kind.add_argument("--older-than", metavar="AGE", help="entries older than 7d, 12h")
    kind.add_argument("--trace", action="append", metavar="ID")
    kind.add_argument("--user", action="append", metavar="ID")
    kind.add_argument("--run", type=int, metavar="RUN", help="entries RUN inserted")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_clean)


def _add_store(sub: Any) -> None:
    p = sub.add_parser("store", help="what the store holds; its retention limits")
    _common(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--max-age", metavar="AGE", help="keep entries this young; off")
    p.add_argument("--max-entries", metavar="N", help="keep the newest N; off")
    p.add_argument("--max-mb", metavar="MB", help="keep the store about this size")
    p.add_argument("--quarantine-max-age", metavar="AGE", help="quarantine limit")
    p.add_argument("--apply", action="store_true", help="apply the limits now")
    p.set_defaults(handler=cmd_store)


def _add_quarantine(sub: Any) -> None:
    p = sub.add_parser("quarantine", help="entries that could not be stored")
    _common(p)
    action = p.add_mutually_exclusive_group()
    action.add_argument("--retry", action="store_true", help="ingest them again")
    action.add_argument("--purge", action="store_true", help="delete them")
    p.add_argument("--older-than", metavar="AGE", help="purge only older ones")
    p.add_argument("--limit", type=int, default=100, help="entries to list")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_quarantine)


COMMANDS: list[Callable[[Any], None]] = [
    _add_stats,
    _add_sync,
    _add_seed,
    _add_demo,
    _add_import_legacy,
    _add_traces,
    _add_export,
    _add_clean,
    _add_store,
    _add_quarantine,
]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `logsync` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    log_file = setup_logging()
    try:
        settings = load_settings(_flags(args))
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            return _open_app(settings)
        return handler(args, settings)
    except UsageError as exc:
        _say(exc.one_line())
        return ExitCode.USAGE
    except SyncCancelled as exc:
        _say(f"interrupted: {exc.cause}")
        return ExitCode.INTERRUPTED
    except LogsyncError as exc:
        _say(exc.one_line())
        return ExitCode.FAILURE
    except KeyboardInterrupt:
        _say("interrupted: stopped by Ctrl-C; everything committed before is kept")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout left (`| head`): what it wanted, it got.
        _silence_stdout()
        return ExitCode.OK
    except Exception as exc:
        log.exception("internal error")
        _say(f"internal error: {redact_text(repr(exc))}; details in {log_file}")
        return ExitCode.FAILURE


@contextlib.contextmanager
def stop_on_interrupt(cancel: threading.Event) -> Iterator[None]:
    """First Ctrl-C: finish the current batch and stop. Second: stop at once."""

    def first(signum: int, frame: object) -> None:
        cancel.set()
        _say("stopping after the current batch (Ctrl-C again to stop now)")
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "redis_url": getattr(args, "redis_url", None),
        "worker_url": getattr(args, "worker_url", None),
        "db": getattr(args, "db", None),
        "lock_wait": getattr(args, "lock_wait", None),
    }


def _say(text: str, stream: TextIO | None = None) -> None:
    print(f"logsync: {redact_text(text)}", file=stream or sys.stderr)


def _emit(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, default=str))


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def need_terminal() -> None:
    """Refuse to draw the app into a pipe or a file."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "the app needs a terminal; in a script use a command such as "
            "`logsync stats` or `logsync export` (see logsync --help)"
        )


def _open_app(settings: Settings) -> int:
    from logsync_tui.app import run_app

    need_terminal()
    return run_app(settings)


def _redis_source(settings: Settings) -> Any:
    from logsync_tui.sources.redis import RedisSource

    if not settings.redis_url:
        raise UsageError(
            "no Redis URL: pass --redis-url or set LOGSYNC_REDIS_URL or REDIS_URL"
        )
    return RedisSource(settings.redis_url)


def _source(settings: Settings) -> Any:
    """Redis when a Redis URL is set, else the Worker; one shared limiter."""
    from logsync_tui.logsetup import ledger_path
    from logsync_tui.sources.select import open_source

    source = open_source(settings, ledger_path())
    if source is None:
        raise UsageError(
            "no source: pass --redis-url or --worker-url, or set LOGSYNC_REDIS_URL, "
            "REDIS_URL, LOGSYNC_WORKER_URL, NEXT_PUBLIC_LOG_WORKER_URL or "
            "LOG_WORKER_URL"
        )
    return source


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    """`logsync stats`: the buffer summary."""
    from logsync_tui.sources.select import worker_beside
    from logsync_tui.stats import buffer_stats

    source = _source(settings)
    extra = worker_beside(settings, source)
    try:
        stats = buffer_stats(source, worker=extra)
    finally:
        source.close()
        if extra is not None:
            extra.close()
    if args.json:
        _emit(stats.as_json())
    else:
        print(_format_stats(stats))
    return ExitCode.OK


def _format_stats(stats: Any) -> str:
    from logsync_tui.stats import cost_line, worker_health_line, worker_lines
    from logsync_tui.timeparse import iso_ms

    def counts(d: dict[str, int]) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in d.items()) or "none"

    if stats.kind == "worker":
        lines = worker_lines(stats)
    else:
        lines = [
            f"source      {stats.source}  (redis {stats.server_version}, "
            f"{stats.latency_ms:.1f} ms, {stats.used_memory} used)",
            f"entries     {stats.entries:,} in {stats.keys:,} traces, "
            f"{stats.users:,} users, {stats.malformed:,} malformed",
            f"systems     {counts(stats.by_system)}",
            f"levels      {counts(stats.by_level)}",
        ]
        if stats.worker is not None:
            lines.append(worker_health_line("worker", stats.worker))
    if stats.soonest_expiry_seconds is not None:
        lines.append(
            f"expiry      soonest in {stats.soonest_expiry_seconds}s; "
            f"{stats.expiring_soon_entries:,} entries in {stats.expiring_soon_keys} "
            "traces expire within 10 min"
        )
    for bad in stats.bad_keys:
        lines.append(f"skipped     {bad['key']}: {bad['reason']}")
    for trace in stats.recent_traces[:5]:
        flag = " errors" if trace["hasErrors"] else ""
        when = iso_ms(trace["timestamp"]) if trace["timestamp"] is not None else "?"
        lines.append(
            f"recent      {when}  {trace['id']}  "
            f"{trace['logCount']} entries  {','.join(trace['systems'])}{flag}"
        )
    lines.append(cost_line(stats.cost))
    lines += [f"note        {n}" for n in stats.notes]
    return "\n".join(lines)


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    """`logsync sync`: run, undo or list syncs."""
    with _open_store(settings) as store:
        if args.runs:
            return _list_runs(store, args.json)
        if args.undo is not None:
            return _undo(store, args.undo, args.json)
        return _sync(store, args, settings)


def _sync(store: Any, args: argparse.Namespace, settings: Settings) -> int:
    from logsync_tui.sync import SyncOptions, SyncScope, run_sync
    from logsync_tui.timeparse import parse_range

    since_ms, until_ms = parse_range(args.since, args.until)
    scope = SyncScope(
        traces=tuple(args.trace),
        users=tuple(args.user),
        since_ms=since_ms,
        until_ms=until_ms,
        full=args.full,
    )
    source = _source(settings)
    cancel = threading.Event()
    options = SyncOptions(
        batch_entries=settings.batch_size,
        policy=settings.conflict_policy,
        cancel=cancel,
        compact=True,
    )
    try:
        with stop_on_interrupt(cancel):
            result = run_sync(store, source, scope, options)
    finally:
        source.close()
    for warning in result.warnings:
        _say(f"warning: {warning}")
    if args.json:
        _emit(_sync_json(result))
    else:
        print(_format_result(result))
    return ExitCode.OK


def _sync_json(result: Any) -> dict[str, Any]:
    data: dict[str, Any] = result.as_json()
    return data


def _n(count: int, word: str, words: str = "") -> str:
    """`1 key`, `2 keys`; `words` for an irregular plural."""
    return f"{count:,} {word if count == 1 else words or word + 's'}"


def _format_result(r: Any) -> str:
    verdict = "verified" if r.verified else "NOT verified"
    lines = [
        f"run {r.run_id}: {r.scanned:,} read from {_n(r.keys, 'key')} in "
        f"{r.seconds:.2f}s: {r.inserted:,} new, {r.duplicates:,} already present, "
        f"{_n(r.conflicts, 'conflict')}, {r.malformed:,} malformed, "
        f"{r.skipped:,} out of scope; {verdict}"
    ]
    lines += [f"  {d}" for d in r.differences]
    if any(r.retention.values()):
        lines.append(f"  retention removed {_by_rule(r.retention)}")
    return "\n".join(lines)


def _list_runs(store: Any, as_json: bool) -> int:
    from logsync_tui.storage.runs import list_runs

    runs = list_runs(store.cursor())
    if as_json:
        _emit([r.__dict__ for r in runs])
        return ExitCode.OK
    print(
        f"{'run':>5}  {'started (UTC)':<19}  {'kind':<9} {'status':<11} "
        f"{'new':>9} {'conflicts':>9} {'malformed':>9}  scope"
    )
    for r in runs:
        counts = f"{r.inserted:>9,} {r.conflicts:>9,} {r.malformed:>9,}"
        if r.kind in ("clean", "retention"):
            counts = f"{r.removed:>9,} removed".ljust(len(counts))
        print(
            f"{r.run_id:>5}  {r.started_at:%Y-%m-%d %H:%M:%S}  {r.kind:<9} "
            f"{r.status:<11} {counts}  {json.dumps(r.scope)}"
        )
    return ExitCode.OK


def _undo(store: Any, run_id: int, as_json: bool) -> int:
    from logsync_tui.storage.runs import undo_run

    result = undo_run(store.cursor(), run_id)
    if as_json:
        _emit(result.__dict__)
    else:
        print(
            f"run {run_id} undone: {result.removed:,} entries removed, "
            f"{result.restored:,} restored, {result.unquarantined:,} "
            "quarantined entries dropped"
        )
    return ExitCode.OK


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    """`logsync seed`: write generated or file entries into Redis."""
    from logsync_tui.demo_data import DemoShape, compact, generate
    from logsync_tui.sources.seed import load_jsonl, push

    if args.from_file is not None:
        traces = load_jsonl(args.from_file)
    else:
        if args.entries < 1 or args.traces < 1:
            raise UsageError("--entries and --traces must be at least 1")
        from logsync_tui.timeparse import now_ms

        shape = DemoShape(entries=args.entries, traces=args.traces, now_ms=now_ms())
        traces = {
            t: [compact(e) for e in entries] for t, entries in generate(shape).items()
        }
    source = _redis_source(settings)
    try:
        result = push(source.client(), traces, force=args.force)
    finally:
        source.close()
    entries = _n(result.entries, "entry", "entries")
    print(f"seeded {entries} in {_n(result.traces, 'trace')}")
    return ExitCode.OK


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """`logsync demo`: embedded Redis, realistic traces, then the app."""
    from logsync_tui.demo import run_demo

    if not args.headless:
        need_terminal()
    return run_demo(headless=args.headless)


def cmd_import_legacy(args: argparse.Namespace, settings: Settings) -> int:
    """`logsync import-legacy`: the old Convex tables into the store."""
    from logsync_tui.legacy import ImportOptions, format_import, import_export

    def show(p: Any) -> None:
        print(f"\rlogsync: {p.describe()}", end="", file=sys.stderr, flush=True)

    live = show if sys.stderr.isatty() else None
    with _open_store(settings) as store:
        options = ImportOptions(policy=settings.conflict_policy, progress=live)
        try:
            result = import_export(store, args.export, args.table, options)
        finally:
            if live is not None:
                print(file=sys.stderr)
    if args.json:
        _emit(result.as_json())
    else:
        print(format_import(result))
    return ExitCode.OK


def cmd_traces(args: argparse.Namespace, settings: Settings) -> int:
    """`logsync traces`: the stored traces, or one trace's insight."""
    from logsync_tui import insight

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    with _open_store(settings, read_only=True) as store:
        con = store.cursor()
        if args.trace:
            return _trace_detail(con, args, settings)
        view = insight.overview(con)
        rows = insight.list_traces(
            con, search=args.search, sort=args.sort or "start", limit=args.limit
        )
    if args.json:
        _emit({"overview": view.as_json(), "traces": [r.as_json() for r in rows]})
    else:
        print(insight.format_trace_list(view, rows))
    return ExitCode.OK


def _trace_detail(con: Any, args: argparse.Namespace, settings: Settings) -> int:
    from logsync_tui import insight
    from logsync_tui.errors import StoreError

    found = insight.trace_insight(con, args.trace)
    if found is None:
        raise StoreError(f"no trace {args.trace} in {settings.db}")
    if args.json:
        _emit(found.as_json())
    else:
        print(insight.format_insight(found))
    return ExitCode.OK


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """`logsync export`: data to stdout, a file or the clipboard; size on stderr."""
    from logsync_tui.export import save_export

    spec = _export_spec(args)
    if args.copy and args.output is not None:
        raise UsageError("--copy and -o are alternatives: pick one")
    if args.force and args.output is None:
        raise UsageError("--force goes with -o FILE")
    with _open_store(settings, read_only=True) as store:
        con = store.cursor()
        if args.copy:
            _export_copy(con, spec)
            return ExitCode.OK
        if args.output is not None:
            report = save_export(con, spec, args.output, force=args.force)
        else:
            report = _export_stdout(con, spec)
    if report is not None:
        # CSV has no header to carry the command line: stderr does.
        extra = f"; same slice: {report.command}" if spec.format == "csv" else ""
        _say(report.summary() + extra)
    return ExitCode.OK


def _export_spec(args: argparse.Namespace) -> Any:
    from logsync_tui.export import ExportSpec
    from logsync_tui.storage.ingest import LEVELS, SYSTEMS
    from logsync_tui.storage.queries import LogFilter
    from logsync_tui.timeparse import parse_range

    for name, known in (("system", SYSTEMS), ("level", LEVELS)):
        for value in getattr(args, name):
            if value not in known:
                raise UsageError(f"unknown {name} {value!r}: use {', '.join(known)}")
    since_ms, until_ms = parse_range(args.since, args.until)
    flt = LogFilter(
        systems=tuple(args.system),
        levels=tuple(args.level),
        traces=tuple(args.trace),
        users=tuple(args.user),
        since_ms=since_ms,
        until_ms=until_ms,
        search=args.search,
    )
    spec = ExportSpec(
        format=args.format or ("json" if args.jsonl else "text"),
        filter=flt,
        redact=not args.no_redact,
        max_tokens=args.max_tokens,
        jsonl=args.jsonl,
        raw_csv=args.raw_csv,
        excel=args.excel,
    )
    spec.validate()
    return spec


def _export_stdout(con: Any, spec: Any) -> Any:
    from logsync_tui.export import write_export

    try:
        report = write_export(con, spec, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        # The reader stopped early (`| head`): not an error of the export.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return None
    return report


def _export_copy(con: Any, spec: Any) -> None:
    from logsync_tui.errors import ExportError
    from logsync_tui.export import copy_text, render_export

    text, report = render_export(con, spec)
    outcome = copy_text(text)
    if not outcome.copied:
        raise ExportError(
            f"could not copy to the clipboard: {outcome.reason}; nothing was "
            "copied: write the export to a file with -o FILE instead",
            title="clipboard",
        )
    _say(f"{report.summary()}; copied to the clipboard ({outcome.mechanism})")


def _open_store(settings: Settings, *, read_only: bool = False) -> Any:
    """The store, waiting `lock_wait` seconds if another process holds it."""
    from logsync_tui.storage import Store

    return Store.open(
        settings.db, read_only=read_only, wait=settings.lock_wait, on_wait=_say
    )


def _confirm(question: str, yes: bool) -> None:
    """Ask on a terminal; refuse (exit 2) when nobody can answer."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"{question}; pass --yes to confirm (stdin is not a terminal)")
    sys.stderr.write(f"logsync: {question}. Proceed? [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise LogsyncError("nothing was removed", title="cancelled")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _by_rule(removed: dict[str, int]) -> str:
    return ", ".join(f"{n:,} by {rule}" for rule, n in removed.items() if n)


def _compacted(pair: tuple[int, int] | None) -> dict[str, int] | None:
    return None if pair is None else {"before": pair[0], "after": pair[1]}


def cmd_clean(args: argparse.Namespace, settings: Settings) -> int:
    """`logsync clean`: remove entries, after saying how many."""
    from logsync_tui.storage.retention import (
        clean,
        compact_if_worthwhile,
        plan_clean,
    )

    request = _clean_request(args)
    with _open_store(settings) as store:
        con = store.cursor()
        plan = plan_clean(con, request)
        if plan.entries or plan.quarantined or plan.watermarks:
            _confirm(
                f"clean {_clean_text(request)} removes {_plan_text(plan)}", args.yes
            )
            counts = clean(con, request)
            compacted = compact_if_worthwhile(store, counts.entries)
        else:
            counts, compacted = plan, None
    data = {**counts.__dict__, "compacted": _compacted(compacted)}
    if args.json:
        _emit(data)
        return ExitCode.OK
    text = f"removed {_plan_text(counts, done=True)}"
    if compacted is not None:
        text += f"; file {_size(compacted[0])} -> {_size(compacted[1])}"
    print(text)
    return ExitCode.OK


def _clean_request(args: argparse.Namespace) -> Any:
    from logsync_tui.storage.retention import CleanRequest
    from logsync_tui.timeparse import now_ms, parse_age

    if args.all:
        return CleanRequest("all")
    if args.older_than:
        return CleanRequest("older", before_ms=now_ms() - parse_age(args.older_than))
    if args.trace:
        return CleanRequest("trace", traces=tuple(args.trace))
    if args.user:
        return CleanRequest("user", users=tuple(args.user))
    return CleanRequest("run", run_id=args.run)


def _clean_text(request: Any) -> str:
    from logsync_tui.timeparse import iso_ms

    if request.kind == "all":
        return "--all"
    if request.kind == "older":
        return f"of entries before {iso_ms(request.before_ms)}"
    if request.kind == "run":
        return f"of run {request.run_id}"
    names = request.traces or request.users
    return f"of {request.kind} {', '.join(names)}"


def _plan_text(counts: Any, done: bool = False) -> str:
    text = f"{counts.entries:,} entries"
    if counts.quarantined:
        text += f", {counts.quarantined:,} quarantined entries"
    if counts.watermarks:
        verb = "forgot" if done else "forgets"
        text += f" and {verb} {counts.watermarks:,} watermarks"
    return text


def cmd_store(args: argparse.Namespace, settings: Settings) -> int:
    """`logsync store`: storage usage, and the retention limits."""
    from logsync_tui.storage.retention import apply_retention, load_policy

    changes = _policy_changes(args)
    writing = bool(changes) or args.apply
    with _open_store(settings, read_only=not writing) as store:
        applied = None
        if changes:
            _save_changes(store.cursor(), changes)
        if args.apply:
            applied = apply_retention(store, compact=True)
        con = store.cursor()
        report = _store_report(con, store.path, load_policy(con))
    if applied is not None:
        report["applied"] = {
            "removed_by_rule": applied.removed_by_rule,
            "compacted": _compacted(applied.compacted),
        }
    if args.json:
        _emit(report)
    else:
        print(_format_store(report))
    return ExitCode.OK


def _policy_changes(args: argparse.Namespace) -> dict[str, Any]:
    from logsync_tui.timeparse import parse_age

    def parse(text: str, convert: Callable[[str], Any]) -> Any:
        if text.strip().lower() in ("off", "none"):
            return None
        try:
            value = convert(text)
        except ValueError as exc:
            raise UsageError(f"{text!r} is not a number") from exc
        if value <= 0:
            raise UsageError(f"{text!r}: a limit must be above 0 (or off)")
        return value

    given: dict[str, tuple[str | None, Callable[[str], Any]]] = {
        "max_age_ms": (args.max_age, parse_age),
        "max_entries": (args.max_entries, int),
        "max_mb": (args.max_mb, float),
        "quarantine_max_age_ms": (args.quarantine_max_age, parse_age),
    }
    return {k: parse(t, f) for k, (t, f) in given.items() if t is not None}


def _save_changes(con: Any, changes: dict[str, Any]) -> None:
    from dataclasses import replace

    from logsync_tui.storage.retention import load_policy, save_policy

    save_policy(con, replace(load_policy(con), **changes))


def _store_report(con: Any, path: Path, policy: Any) -> dict[str, Any]:
    from dataclasses import asdict

    from logsync_tui.storage.retention import storage_usage
    from logsync_tui.storage.summary import store_summary

    summary = store_summary(con, path)
    usage = storage_usage(con, path)
    return {
        **asdict(summary),
        "live_bytes": usage.live_bytes,
        "tables": usage.tables,
        "retention": asdict(policy),
    }


def _format_store(r: dict[str, Any]) -> str:
    from logsync_tui.timeparse import iso_ms

    def counts(d: dict[str, int]) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in d.items()) or "none"

    lines = [
        f"file        {r['path']}  {_size(r['file_bytes'])} "
        f"({_size(r['live_bytes'])} in use)",
        f"entries     {r['entries']:,} in {r['traces']:,} traces, {r['users']:,} users",
        f"range       {iso_ms(r['oldest_ms']) or '-'} .. "
        f"{iso_ms(r['newest_ms']) or '-'}",
        f"systems     {counts(r['by_system'])}",
        f"levels      {counts(r['by_level'])}",
        f"quarantine  {r['quarantined']:,} entries",
        f"tables      {counts(r['tables'])}",
        f"retention   {_format_policy(r['retention'])}",
    ]
    if "applied" in r:
        removed = _by_rule(r["applied"]["removed_by_rule"]) or "nothing"
        lines.append(f"applied     removed {removed}")
    return "\n".join(lines)


def _format_policy(p: dict[str, Any]) -> str:
    from logsync_tui.timeparse import format_age

    parts = []
    if p["max_age_ms"] is not None:
        parts.append(f"max age {format_age(p['max_age_ms'])}")
    if p["max_entries"] is not None:
        parts.append(f"max entries {p['max_entries']:,}")
    if p["max_mb"] is not None:
        parts.append(f"max size {p['max_mb']:g} MB")
    if p["quarantine_max_age_ms"] is not None:
        parts.append(f"quarantine max age {format_age(p['quarantine_max_age_ms'])}")
    return ", ".join(parts) or "none (keeps everything)"


def cmd_quarantine(args: argparse.Namespace, settings: Settings) -> int:
    """`logsync quarantine`: list, retry or purge quarantined entries."""
    if args.older_than and not args.purge:
        raise UsageError("--older-than goes with --purge")
    if args.retry:
        return _retry(settings, args.json)
    if args.purge:
        return _purge(settings, args)
    from logsync_tui.storage.quarantine import count_quarantine, list_quarantine

    with _open_store(settings, read_only=True) as store:
        con = store.cursor()
        total = count_quarantine(con)
        entries = list_quarantine(con, limit=max(args.limit, 0))
    if args.json:
        _emit({"total": total, "entries": [e.__dict__ for e in entries]})
        return ExitCode.OK
    for e in entries:
        index = "" if e.source_index is None else e.source_index
        raw = json.dumps(e.raw_data, ensure_ascii=False)[1:-1]
        print(f"{e.source_key}[{index}]  {e.reason}  run {e.sync_run_id}  {raw[:80]}")
    _say(f"{len(entries):,} of {total:,} quarantined entries shown")
    return ExitCode.OK


def _retry(settings: Settings, as_json: bool) -> int:
    from logsync_tui.storage.quarantine import retry_quarantine

    with _open_store(settings) as store:
        result = retry_quarantine(store.cursor(), settings.conflict_policy)
    if as_json:
        _emit(result.__dict__)
    else:
        print(
            f"run {result.run_id}: retried {result.tried:,}, moved {result.moved:,} "
            f"({result.inserted:,} new, {result.duplicates:,} already present, "
            f"{result.conflicts:,} conflicts), "
            f"{result.still_quarantined:,} still quarantined"
        )
    return ExitCode.OK


def _purge(settings: Settings, args: argparse.Namespace) -> int:
    from logsync_tui.storage.quarantine import count_quarantine, purge_quarantine
    from logsync_tui.timeparse import now_ms, parse_age

    before = now_ms() - parse_age(args.older_than) if args.older_than else None
    with _open_store(settings) as store:
        con = store.cursor()
        planned = count_quarantine(con, before)
        purged = 0
        if planned:
            _confirm(f"purge removes {planned:,} quarantined entries", args.yes)
            purged = purge_quarantine(con, before)
    if args.json:
        _emit({"purged": purged})
    else:
        print(f"purged {purged:,} quarantined entries")
    return ExitCode.OK
