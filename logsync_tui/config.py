"""Settings: flags, then environment, then the TOML config file, then defaults."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from logsync_tui.errors import ConfigError

REDIS_ENV = ("LOGSYNC_REDIS_URL", "REDIS_URL")
WORKER_ENV = ("LOGSYNC_WORKER_URL", "NEXT_PUBLIC_LOG_WORKER_URL", "LOG_WORKER_URL")
REDIS_SCHEMES = ("redis", "rediss", "unix")


def config_path() -> Path:
    """The TOML config file (LOGSYNC_CONFIG overrides its location)."""
    override = os.environ.get("LOGSYNC_CONFIG")
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir("logsync")) / "config.toml"


def default_db_path() -> Path:
    """The DuckDB store when nothing else names one."""
    return Path(platformdirs.user_data_dir("logsync")) / "logsync.duckdb"


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about where to read and write."""

    redis_url: str | None = None
    worker_url: str | None = None
    worker_token: str | None = field(default=None, repr=False)
    db: Path = field(default_factory=default_db_path)
    batch_size: int = 200_000
    conflict_policy: str = "keep"
    export_dir: Path | None = None
    refresh_seconds: float = 30.0
    lock_wait: float = 10.0
    """Seconds to wait for a store file another process holds."""
    requests_per_second: float = 50.0
    daily_request_budget: int = 0


_ENV_KEYS: dict[str, tuple[str, ...]] = {
    "redis_url": REDIS_ENV,
    "worker_url": WORKER_ENV,
    "worker_token": ("LOGSYNC_WORKER_TOKEN",),
    "db": ("LOGSYNC_DB",),
    "lock_wait": ("LOGSYNC_LOCK_WAIT",),
}


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Settings:
    """Resolve settings from flags, environment, config file and defaults."""
    env = os.environ if env is None else env
    merged: dict[str, Any] = dict(_read_file(path or config_path()))
    for name, keys in _ENV_KEYS.items():
        value = next((env[k] for k in keys if env.get(k)), None)
        if value:
            merged[name] = value
    for name, value in (flags or {}).items():
        if value is not None:
            merged[name] = value
    return _build(merged)


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r}")
    return data


def _build(values: dict[str, Any]) -> Settings:
    out = dict(values)
    if out.get("db") is not None:
        out["db"] = Path(str(out["db"])).expanduser()
    if out.get("export_dir") is not None:
        out["export_dir"] = Path(str(out["export_dir"])).expanduser()
    if out.get("redis_url"):
        check_redis_url(str(out["redis_url"]))
    if out.get("worker_url"):
        check_worker_url(str(out["worker_url"]))
    _check_limits(out)
    if out.get("conflict_policy", "keep") not in ("keep", "take"):
        raise ConfigError("conflict_policy must be 'keep' or 'take'")
    if "lock_wait" in out:
        out["lock_wait"] = _seconds("lock_wait", out["lock_wait"])
    for name in ("batch_size",):
        if name in out and (not isinstance(out[name], int) or out[name] < 1):
            raise ConfigError(f"{name} must be a positive whole number")
    refresh = out.get("refresh_seconds", 0)
    if isinstance(refresh, bool) or not isinstance(refresh, int | float) or refresh < 0:
        raise ConfigError("refresh_seconds must be a number of seconds, 0 or more")
    return Settings(**out)


def _seconds(name: str, value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds >= 0:
        raise ConfigError(f"{name} must be a number of seconds, 0 or more")
    return seconds


def _check_limits(out: dict[str, Any]) -> None:
    rate = out.get("requests_per_second", 0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
        raise ConfigError("requests_per_second must be a number, 0 or more")
    budget = out.get("daily_request_budget", 0)
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise ConfigError("daily_request_budget must be a whole number, 0 or more")


def check_redis_url(url: str) -> None:
    """Refuse a Redis URL whose scheme logsync cannot use."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in REDIS_SCHEMES:
        raise ConfigError(
            "a Redis URL starts with redis://, rediss:// or unix:// "
            f"(got {scheme or 'no scheme'!r})"
        )


def check_worker_url(url: str) -> None:
    """Refuse a Worker URL that is not http(s)."""
    if not url.lower().startswith(("http://", "https://")):
        raise ConfigError("a Worker URL starts with http:// or https://")
