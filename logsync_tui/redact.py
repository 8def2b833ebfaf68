"""The one place that hides credentials in URLs before they are shown or logged."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://user:password@host  or  scheme://:password@host  or  scheme://token@host
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<info>[^/@\s]+)@")


def redact_url(url: str | None) -> str:
    """Return `url` with any password (or bare token) replaced by ***."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if parts.password is None and not parts.username:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    # A lone userinfo part (`redis://TOKEN@host`) is a password in practice.
    secret_only = parts.password is None
    netloc = f"{MASK}@{host}" if secret_only else f"{user}:{MASK}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact_text(text: str) -> str:
    """Mask the userinfo of every URL that appears inside free text."""

    def _mask(match: re.Match[str]) -> str:
        info = match.group("info")
        user = info.split(":", 1)[0] if ":" in info else ""
        shown = f"{user}:{MASK}" if user else MASK
        return f"{match.group('scheme')}{shown}@"

    return _USERINFO.sub(_mask, text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks URL credentials in every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_text(
                logging.Formatter().formatException(record.exc_info)
            )
            record.exc_info = None
        return True
