"""The one place that hides credentials: URLs before they are shown or logged,
and secret values (tokens, keys, passwords, e-mail addresses) in exports."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://user:password@host  or  scheme://:password@host  or  scheme://token@host
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<info>[^/@\s]+)@")
# ...?password=SECRET&db=0, as redis-py and many clients also accept.
_QUERY_SECRET = re.compile(
    r"(?P<name>[?&;](?:password|passwd|pass|pwd|token|secret|auth|api_?key"
    r"|access_?token)=)[^&;#\s]*",
    re.IGNORECASE,
)


def redact_url(url: str | None) -> str:
    """Return `url` with any password (or bare token) replaced by ***."""
    if not url:
        return ""
    url = _QUERY_SECRET.sub(rf"\g<name>{MASK}", url)
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
        shown = f"{info.split(':', 1)[0]}:{MASK}" if ":" in info else MASK
        return f"{match.group('scheme')}{shown}@"

    return _QUERY_SECRET.sub(rf"\g<name>{MASK}", _USERINFO.sub(_mask, text))


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


# Value redaction for exports. Each finding becomes `[redacted:KIND]`, so a
# reader knows what was there without seeing it. Order matters: URL passwords
# go before e-mail addresses (`user:pw@host.com` must not read as an address),
# JWTs before bearer tokens (the more specific kind wins).
REDACTION_KINDS = ("url_password", "jwt", "bearer", "api_key", "secret", "email")

_SECRET_KEY_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "privatekey",
    "authorization",
    "cookie",
    "sessionid",
    "credential",
    "credentials",
)
# Up to three separators between the parts: `api_key`, `api__key`, `API-_-KEY`.
_SEP = r"[^A-Za-z0-9\s]{0,3}"
_KEY_WORDS_RE = (
    rf"pass{_SEP}(?:word|wd|phrase)|pwd|secret|token"
    rf"|(?:api|access|private){_SEP}key|cookie|session{_SEP}id"
    r"|credentials?"
)
_API_KEY_SHAPES = (
    r"AKIA[0-9A-Z]{16}",
    r"gh[pousr]_[A-Za-z0-9]{36,}",
    r"github_pat_[A-Za-z0-9_]{22,}",
    r"xox[abprs]-[A-Za-z0-9-]{10,}",
    r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",
    r"AIza[0-9A-Za-z_-]{35}",
    r"sk-[A-Za-z0-9_-]{20,}",
    r"glpat-[A-Za-z0-9_-]{20,}",
    r"npm_[A-Za-z0-9]{36}",
    r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
)
_TEXT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "url_password",
        re.compile(r"(?P<keep>[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^/@\s:]*:)?)[^/@\s]+(?=@)"),
    ),
    (
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    ),
    ("bearer", re.compile(r"(?P<keep>\b[Bb]earer\s+)[A-Za-z0-9\-._~+/]{8,}=*")),
    ("api_key", re.compile(r"\b(?:" + "|".join(_API_KEY_SHAPES) + r")\b")),
    (
        "secret",
        re.compile(
            r"(?P<keep>(?<![A-Za-z0-9])[\"']?[A-Za-z0-9_-]*(?:"
            + _KEY_WORDS_RE
            + r")[\"']?\s*[:=]\s*[\"']?)(?!\[redacted:)[^\s\"',;&}\]]+",
            re.IGNORECASE,
        ),
    ),
    (
        "email",
        re.compile(
            r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
        ),
    ),
)
# One cheap scan decides whether a string needs the patterns at all. It
# matches a superset of what the patterns and secret-named keys catch, and
# it is also valid RE2, so the store can run it in SQL.
TRIGGER_PATTERN = (
    r"://[^/@\s]*@|[A-Za-z0-9._%+-]@[A-Za-z0-9-]|eyJ|bearer|authorization|AKIA"
    r"|gh[pousr]_|github_pat_|xox|_live_|_test_|AIza|sk-|glpat-|npm_|SG\."
    r"|" + _KEY_WORDS_RE
)
_TRIGGER = re.compile(TRIGGER_PATTERN, re.IGNORECASE)


def might_hold_secret(text: str) -> bool:
    """False when `text` surely holds nothing a Redactor would replace."""
    return _TRIGGER.search(text) is not None


def marker(kind: str) -> str:
    """The text that stands in for a redacted value of `kind`."""
    return f"[redacted:{kind}]"


def is_secret_key(key: str) -> bool:
    """True for a mapping key whose value is a credential (`db_password`, ...)."""
    norm = "".join(ch for ch in key.lower() if ch.isalnum())
    return norm.endswith(_SECRET_KEY_WORDS)


class Redactor:
    """Replaces secrets and e-mail addresses with markers and counts them.

    Disabled, it returns every value unchanged and counts nothing. It never
    modifies its input: strings are immutable and containers are copied.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.counts: dict[str, int] = {}

    @property
    def total(self) -> int:
        """How many values were replaced so far."""
        return sum(self.counts.values())

    def text(self, text: str) -> str:
        """`text` with every recognised secret replaced by its marker."""
        if not self.enabled or not _TRIGGER.search(text):
            return text
        for kind, pattern in _TEXT_PATTERNS:
            text = pattern.sub(self._replacer(kind), text)
        return text

    def value(self, value: Any) -> Any:
        """A copy of a JSON value with secrets replaced at any depth."""
        if not self.enabled:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self._member(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def _member(self, key: str, value: Any) -> Any:
        if is_secret_key(key):
            return self._blank(value)
        return self.value(value)

    def _blank(self, value: Any) -> Any:
        """Every scalar leaf of a credential-named value, replaced."""
        if isinstance(value, dict):
            return {k: self._blank(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._blank(v) for v in value]
        if value is None or isinstance(value, bool) or value == "":
            return value
        self._count("secret")
        return marker("secret")

    def _count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def _replacer(self, kind: str) -> Callable[[re.Match[str]], str]:
        def replace(match: re.Match[str]) -> str:
            self._count(kind)
            keep = match.groupdict().get("keep") or ""
            return keep + marker(kind)

        return replace
