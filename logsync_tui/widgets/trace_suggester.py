"""Input completion from a list that changes: the trace ids in the buffer."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable

from textual.suggester import Suggester

_LAST_WORD = re.compile(r"[^\s,]*$")


class IdSuggester(Suggester):
    """Completes the last word of the input from a sorted list of ids.

    Several ids may be typed separated by spaces or commas; only the one
    being typed is completed. The list can be replaced at any time.
    """

    def __init__(self, ids: Iterable[str] = ()) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._ids: list[str] = sorted(set(ids))

    @property
    def ids(self) -> list[str]:
        """The ids offered, sorted."""
        return self._ids

    def update(self, ids: Iterable[str]) -> None:
        """Offer `ids` from now on."""
        self._ids = sorted(set(ids))

    async def get_suggestion(self, value: str) -> str | None:
        """The input completed with the first id that starts with its last word."""
        match = _LAST_WORD.search(value)
        word = match.group(0) if match else ""
        if not word:
            return None
        i = bisect_left(self._ids, word)
        if i < len(self._ids) and self._ids[i].startswith(word):
            return value[: len(value) - len(word)] + self._ids[i]
        return None
