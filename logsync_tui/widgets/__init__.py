"""Reusable widgets: the paged log table and the safe rendering of log text."""

from __future__ import annotations
