"""Headless run: signals (SIGHUP reload, SIGTERM graceful), sd_notify."""

from __future__ import annotations
