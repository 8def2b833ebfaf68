"""What an export covers and how it is written, and what it reports back."""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field, replace

from logsync_tui.errors import UsageError
from logsync_tui.storage.queries import LogFilter
from logsync_tui.timeparse import iso_ms

FORMATS = ("json", "text", "csv")


@dataclass(frozen=True)
class ExportSpec:
    """One export: its format, its scope and its options.

    The scope is `filter` (the Logs screen's filters); a non-empty `traces`
    replaces the filter's trace list, for "export these traces".
    """

    format: str = "text"
    filter: LogFilter = field(default_factory=LogFilter)
    traces: tuple[str, ...] = ()
    redact: bool = True
    max_tokens: int | None = None
    """Text only: fit the export into about this many tokens."""
    jsonl: bool = False
    """JSON only: one entry per line instead of one document."""
    raw_csv: bool = False
    """CSV only: leave cells that a spreadsheet would run as a formula alone."""
    excel: bool = False
    """CSV only: start with a UTF-8 byte order mark for Excel."""

    def scope(self) -> LogFilter:
        """The filter this export applies to the store."""
        if self.traces:
            return replace(self.filter, traces=self.traces)
        return self.filter

    def validate(self) -> None:
        """Raise UsageError for options that do not fit together."""
        if self.format not in FORMATS:
            raise UsageError(
                f"unknown export format {self.format!r}: use json, text or csv"
            )
        if self.jsonl and self.format != "json":
            raise UsageError("--jsonl goes with --format json")
        if (self.raw_csv or self.excel) and self.format != "csv":
            raise UsageError("--raw-csv and --excel go with --format csv")
        if self.max_tokens is not None and self.format != "text":
            raise UsageError("--max-tokens goes with --format text")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise UsageError("--max-tokens must be at least 1")

    @property
    def suffix(self) -> str:
        """The file name extension that fits this export."""
        if self.format == "json":
            return ".jsonl" if self.jsonl else ".json"
        return ".md" if self.format == "text" else ".csv"

    def command(self) -> str:
        """The `logsync export ...` command line that reproduces this slice."""
        args = ["logsync", "export", "--format", self.format]
        flt = self.scope()
        for flag, values in (
            ("--system", flt.systems),
            ("--level", flt.levels),
            ("--trace", flt.traces),
            ("--user", flt.users),
        ):
            for value in values:
                args += [flag, value]
        if flt.since_ms is not None:
            args += ["--since", iso_ms(flt.since_ms)]
        if flt.until_ms is not None:
            args += ["--until", iso_ms(flt.until_ms)]
        if flt.search:
            args += ["--search", flt.search]
        args += self._option_args()
        return shlex.join(args)

    def _option_args(self) -> list[str]:
        args = [] if self.redact else ["--no-redact"]
        if self.max_tokens is not None:
            args += ["--max-tokens", str(self.max_tokens)]
        flags = (
            (self.jsonl, "--jsonl"),
            (self.raw_csv, "--raw-csv"),
            (self.excel, "--excel"),
        )
        return args + [flag for on, flag in flags if on]

    def filters_json(self) -> dict[str, object]:
        """The scope as plain data, empty fields left out."""
        flt = self.scope()
        data: dict[str, object] = {
            "systems": list(flt.systems),
            "levels": list(flt.levels),
            "traces": list(flt.traces),
            "users": list(flt.users),
            "since": iso_ms(flt.since_ms) if flt.since_ms is not None else None,
            "until": iso_ms(flt.until_ms) if flt.until_ms is not None else None,
            "search": flt.search,
        }
        return {k: v for k, v in data.items() if v}


@dataclass(frozen=True)
class LeftOut:
    """A run of consecutive entries of one trace that a token budget dropped."""

    trace_id: str
    entries: int
    by_level: dict[str, int]
    start_ms: int
    end_ms: int
    whole_trace: bool = False
    """True when the budget left the whole trace out (it had no error)."""

    def describe(self, origin_ms: int | None = None) -> str:
        """E.g. `12 entries (log 10, info 2), +1.204s to +3.000s`."""
        levels = ", ".join(f"{k} {v}" for k, v in self.by_level.items())
        if origin_ms is None:
            first, last = iso_ms(self.start_ms), iso_ms(self.end_ms)
        else:
            first = offset(self.start_ms - origin_ms)
            last = offset(self.end_ms - origin_ms)
        span = f"at {first}" if first == last else f"{first} to {last}"
        noun = "entry" if self.entries == 1 else "entries"
        return f"{self.entries} {noun} ({levels}), {span}"


@dataclass
class ExportReport:
    """What an export wrote: size, token estimate, counts, redactions, omissions."""

    format: str
    command: str
    bytes: int = 0
    tokens_estimate: int = 0
    entries: int = 0
    """Entries written (after a token budget, if any)."""
    traces: int = 0
    redacted: dict[str, int] = field(default_factory=dict)
    """Values replaced, by kind (`jwt`, `email`, ...)."""
    left_out: list[LeftOut] = field(default_factory=list)
    """What a token budget dropped, one run of entries per item."""

    @property
    def redacted_count(self) -> int:
        """How many values were redacted in all."""
        return sum(self.redacted.values())

    @property
    def left_out_entries(self) -> int:
        """How many entries a token budget dropped."""
        return sum(item.entries for item in self.left_out)

    def summary(self) -> str:
        """One line for people: what was written and how big it is."""
        text = (
            f"exported {self.entries:,} entries in {self.traces:,} traces as "
            f"{self.format}: {self.bytes:,} bytes, ~{self.tokens_estimate:,} tokens, "
            f"{self.redacted_count:,} values redacted"
        )
        if self.left_out:
            text += f", {self.left_out_entries:,} entries left out by the token budget"
        return text


def offset(ms: int) -> str:
    """A trace-relative offset such as `+1.204s`."""
    return f"+{ms / 1000:.3f}s"


def estimate_tokens(text: str) -> int:
    """About how many tokens an LLM tokenizer makes of `text`."""
    return tokens_for(len(text), len(text.encode("utf-8")))


def tokens_for(chars: int, nbytes: int) -> int:
    """The token estimate from a character and a UTF-8 byte count.

    About four characters per token for ASCII; each extra UTF-8 byte adds
    half a token, so CJK text and emoji count one token or more per
    character, as real tokenizers do.
    """
    return math.ceil((chars + 2 * (nbytes - chars)) / 4)
