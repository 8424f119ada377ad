"""lvstui: a Linux Virtual Server director driven from a live terminal console."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
