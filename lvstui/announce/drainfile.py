"""The director drain, kept in the state directory: `<state_dir>/director-drain.toml`.

An operator who drained a director for maintenance expects it to stay out after a crash, a
reboot or a restart, so the drain is written (atomically: lvstui.config.state.write_atomic)
whenever its phase changes, and read when the daemon starts, before anything is announced.

    version = 1
    phase = "draining"          # "normal", "draining" or "safe"
    settle = 10.0               # seconds without a new connection before "safe"
    since = 2026-12-06 10:02:11+00:00  # when the drain began

A file that cannot be read is not a reason to announce a director normally that someone may
have drained: `load` reports it, and the caller starts draining (announced less preferred,
so the VIPs are still served where no other director announces them) until an operator
says `undrain-director`, which rewrites the file."""

from __future__ import annotations

import datetime as dt
import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import tomli_w

from lvstui.config.state import write_atomic

__all__ = ["DRAIN_FILE", "DrainFile", "DrainStore", "MemoryDrainStore", "SavedDrain"]

DRAIN_FILE = "director-drain.toml"
_VERSION = 1
_PHASES = ("normal", "draining", "safe")


@dataclass(frozen=True, slots=True)
class SavedDrain:
    phase: str  # "normal", "draining" or "safe" (DrainPhase's values)
    settle: float
    since: float  # wall time (epoch seconds) the drain began; 0: unknown


class DrainStore(Protocol):
    def load(self) -> tuple[SavedDrain | None, str]:
        """The saved drain (None: none saved, or unreadable) and what was wrong, if anything."""

    def save(self, saved: SavedDrain) -> None:
        """Persist it; OSError when it cannot be written."""


class DrainFile:
    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.path = Path(state_dir) / DRAIN_FILE

    def load(self) -> tuple[SavedDrain | None, str]:
        try:
            doc = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None, ""
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            return None, f"{self.path}: cannot read ({e})"
        return parse(doc, str(self.path))

    def save(self, saved: SavedDrain) -> None:
        doc: dict[str, object] = {
            "version": _VERSION,
            "phase": saved.phase,
            "settle": saved.settle,
        }
        if saved.since > 0:
            doc["since"] = dt.datetime.fromtimestamp(saved.since, dt.UTC).replace(microsecond=0)
        write_atomic(self.path, tomli_w.dumps(doc).encode("utf-8"))


def parse(doc: dict[str, object], where: str) -> tuple[SavedDrain | None, str]:
    """A loaded document as a SavedDrain, or None and why not."""
    if doc.get("version") != _VERSION:
        return None, f"{where}: unsupported version {doc.get('version')!r}"
    phase, settle, since = doc.get("phase"), doc.get("settle"), doc.get("since", 0.0)
    if phase not in _PHASES:
        return None, f"{where}: phase {phase!r} is not one of {', '.join(_PHASES)}"
    if (
        isinstance(settle, bool)
        or not isinstance(settle, int | float)
        or not math.isfinite(settle)
        or settle < 0
    ):
        return None, f"{where}: settle {settle!r} is not a number of seconds ≥ 0"
    if isinstance(since, dt.datetime):
        since = since.replace(tzinfo=since.tzinfo or dt.UTC).timestamp()
    elif isinstance(since, bool) or not isinstance(since, int | float):
        since = 0.0  # only shown to the operator: an unreadable time is no reason to fail
    assert isinstance(phase, str)
    return SavedDrain(phase, float(settle), float(since)), ""


class MemoryDrainStore:
    """The twin: keeps what was saved; `fail` makes save raise, `error` makes load report."""

    def __init__(self, saved: SavedDrain | None = None, error: str = "") -> None:
        self.saved = saved
        self.error = error
        self.fail = ""
        self.saves = 0

    def load(self) -> tuple[SavedDrain | None, str]:
        return (None, self.error) if self.error else (self.saved, "")

    def save(self, saved: SavedDrain) -> None:
        if self.fail:
            raise OSError(28, self.fail)
        self.saves += 1
        self.saved = saved
