"""What every source hands the sync engine, and the raw-bytes to Arrow step."""

from __future__ import annotations

import hashlib
import threading
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, islice
from typing import Protocol, TypeVar

import pyarrow as pa

from logsync_tui.storage.state import Watermark

KEY_PREFIX = "logs:"
T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[tuple[T, ...]]:
    """Consecutive tuples of at most `size` items (itertools.batched of 3.12)."""
    it = iter(items)
    while part := tuple(islice(it, size)):
        yield part


def trace_key(trace_id: str) -> str:
    """The Redis key of a trace."""
    return f"{KEY_PREFIX}{trace_id}"


def head_hash(element: bytes) -> str:
    """A short fingerprint of a list element, to recognise a list's old head."""
    return hashlib.blake2b(element, digest_size=10).hexdigest()


@dataclass
class KeyPiece:
    """Consecutive elements of one key; `start` is the index of elements[0]."""

    key: str
    start: int
    elements: list[bytes]
    watermark: Watermark | None = None
    """Set on a key's last piece: what the store will have taken of it."""


@dataclass
class BadKey:
    """A `logs:*` key that could not be read as a list of entries."""

    key: str
    reason: str


@dataclass
class ReadChunk:
    """One unit of work from a source: pieces of keys plus what was skipped."""

    pieces: list[KeyPiece] = field(default_factory=list)
    bad_keys: list[BadKey] = field(default_factory=list)
    keys_done: int = 0
    keys_total: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def entries(self) -> int:
        """How many elements this chunk carries."""
        return sum(len(p.elements) for p in self.pieces)


@dataclass(frozen=True)
class ReadRequest:
    """What to read: every trace, or the named ones; with or without watermarks."""

    traces: tuple[str, ...] = ()
    watermarks: dict[str, Watermark] = field(default_factory=dict)
    chunk_entries: int = 50_000


class Source(Protocol):
    """A place logsync reads entries from."""

    def describe(self) -> str:
        """The source's address with any secret masked."""
        ...

    def read(
        self, request: ReadRequest, cancel: threading.Event
    ) -> Iterator[ReadChunk]:
        """Yield chunks of raw entries until the request is covered."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@dataclass
class DecodedStrings:
    """Raw elements as an Arrow string column, plus what UTF-8 decoding changed."""

    strings: pa.Array
    raw_bytes: pa.Array
    invalid_utf8: list[int]


def decode_elements(elements: Sequence[bytes]) -> DecodedStrings:
    """Build an Arrow string array from raw bytes without a copy per element.

    Elements that are not valid UTF-8 get U+FFFD in place of the bad bytes;
    their original bytes are kept in `raw_bytes` and their positions listed.
    """
    offsets = array("q", accumulate(map(len, elements), initial=0))
    data = b"".join(elements)
    strings = pa.LargeStringArray.from_buffers(
        len(elements), pa.py_buffer(offsets), pa.py_buffer(data)
    )
    try:
        strings.validate(full=True)
    except pa.ArrowInvalid:
        return _decode_slow(elements)
    return DecodedStrings(
        strings, pa.nulls(len(elements), type=pa.binary()), invalid_utf8=[]
    )


def _decode_slow(elements: Sequence[bytes]) -> DecodedStrings:
    texts: list[str] = []
    originals: list[bytes | None] = []
    bad: list[int] = []
    for i, element in enumerate(elements):
        try:
            texts.append(element.decode("utf-8"))
            originals.append(None)
        except UnicodeDecodeError:
            texts.append(element.decode("utf-8", errors="replace"))
            originals.append(element)
            bad.append(i)
    return DecodedStrings(
        pa.array(texts, type=pa.large_string()),
        pa.array(originals, type=pa.binary()),
        bad,
    )
