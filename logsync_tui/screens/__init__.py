"""The app's screens, one per module: Stats, Sync, Logs and Export."""

from __future__ import annotations
