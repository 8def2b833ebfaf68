"""Getting an export to the user: files that are never overwritten by accident,
and the clipboard, with a clear fallback when the system has none."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pyperclip

from logsync_tui.errors import ExportError
from logsync_tui.export.spec import ExportSpec

log = logging.getLogger(__name__)

NO_MECHANISM = (
    "no clipboard mechanism on this system (no display, or none of xclip, xsel, "
    "wl-copy installed)"
)


@dataclass(frozen=True)
class CopyOutcome:
    """What became of a copy: the clipboard, a fallback, or nothing."""

    copied: bool
    """True when a system clipboard took the text."""
    chars: int
    mechanism: str | None = None
    """The clipboard tool used (`xclip`, `wl-copy`, `pbcopy`, ...)."""
    fallback: str | None = None
    """`osc52`, `file`, `osc52+file`, or None."""
    path: Path | None = None
    """The file the text went to when the fallback wrote one."""
    reason: str | None = None
    """Why the system clipboard could not be used."""

    @property
    def message(self) -> str:
        """One sentence for a notification or stderr."""
        if self.copied:
            return (
                f"Copied {self.chars:,} characters to the clipboard ({self.mechanism})."
            )
        text = f"Could not copy to the system clipboard: {self.reason}."
        if self.fallback and "osc52" in self.fallback:
            text += " Sent it to the terminal clipboard with OSC 52 (if supported)."
        if self.path is not None:
            text += f" Saved it to {self.path} instead."
        if self.fallback is None:
            text += " Nothing was copied."
        return text


def _mechanism(copy: Callable[[str], None]) -> str:
    name = getattr(copy, "__name__", "") or type(copy).__name__
    name = name.removeprefix("copy_")
    return {"xclip": "xclip", "xsel": "xsel", "wl": "wl-copy"}.get(name, name)


def copy_text(
    text: str,
    *,
    osc52: Callable[[str], None] | None = None,
    fallback_dir: Path | None = None,
) -> CopyOutcome:
    """Put `text` on the system clipboard (pyperclip), else use the fallbacks.

    `osc52` (such as Textual's `App.copy_to_clipboard`) hands the text to the
    terminal; `fallback_dir` gets a file holding exactly `text`. Neither is
    used when the system clipboard works. Never raises for a missing
    clipboard: the outcome says what happened.
    """
    try:
        copy, _paste = pyperclip.determine_clipboard()
        copy(text)
    except pyperclip.PyperclipException:
        reason = NO_MECHANISM
    except (OSError, ValueError) as exc:
        reason = f"the clipboard tool failed ({type(exc).__name__})"
    else:
        return CopyOutcome(True, len(text), mechanism=_mechanism(copy))
    log.info("clipboard unavailable: %s", reason)
    return _fallback(text, reason, osc52, fallback_dir)


def _fallback(
    text: str,
    reason: str,
    osc52: Callable[[str], None] | None,
    fallback_dir: Path | None,
) -> CopyOutcome:
    used: list[str] = []
    if osc52 is not None:
        osc52(text)
        used.append("osc52")
    path = None
    if fallback_dir is not None:
        path = _unique_file(fallback_dir, "logsync-clipboard", ".txt")
        path.write_text(text, encoding="utf-8", newline="")
        used.append("file")
    return CopyOutcome(
        False, len(text), fallback="+".join(used) or None, path=path, reason=reason
    )


def _unique_file(directory: Path, stem: str, suffix: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(tz=UTC).strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        extra = f"-{n}" if n else ""
        path = directory / f"{stem}-{stamp}{extra}{suffix}"
        with contextlib.suppress(FileExistsError):
            path.touch(exist_ok=False)
            return path
    raise ExportError(f"no free file name for {stem} in {directory}")


def default_filename(spec: ExportSpec, now_ms: int) -> str:
    """A file name for a saved export: what it holds and when it was made."""
    stamp = datetime.fromtimestamp(now_ms / 1000, tz=UTC).strftime("%Y%m%d-%H%M%S")
    what = "export"
    traces = spec.scope().traces
    if len(traces) == 1:
        what = "trace-" + re.sub(r"[^A-Za-z0-9._-]+", "_", traces[0])[:60]
    return f"logsync-{what}-{stamp}{spec.suffix}"


@contextlib.contextmanager
def open_output(path: Path, *, force: bool = False) -> Iterator[BinaryIO]:
    """A binary file to write an export into.

    Without `force` an existing file is never touched. With it, the old file
    is replaced only once the new one is complete. A failed export leaves no
    partial file behind.
    """
    if force:
        with _replacing(path) as out:
            yield out
        return
    try:
        handle = path.open("xb")
    except FileExistsError as exc:
        raise ExportError(
            f"{path} already exists: not overwritten (--force replaces it)"
        ) from exc
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror}") from exc
    with _removed_on_error(path, handle) as out:
        yield out


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[BinaryIO]:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror}") from exc
    with _removed_on_error(Path(tmp), os.fdopen(fd, "wb")) as out:
        yield out
    os.replace(tmp, path)


@contextlib.contextmanager
def _removed_on_error(path: Path, handle: BinaryIO) -> Iterator[BinaryIO]:
    try:
        with handle:
            yield handle
    except BaseException:
        path.unlink(missing_ok=True)
        raise
