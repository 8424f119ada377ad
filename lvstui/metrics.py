"""Prometheus exposition of the engine's state."""

from __future__ import annotations
