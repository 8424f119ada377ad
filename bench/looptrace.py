"""What the console's event loop was busy with, callback by callback, for bench/tui_render.py.

A key reaches the screen only once the loop has finished whatever callback it was running
when the key's bytes arrived (and whatever was queued before it): this records every
callback that ran for `threshold` or longer, with the wall and thread-CPU time it took and
what it belonged to (the task's coroutine: the poll worker applying a snapshot, a screen's
message pump drawing, …), so the parent can say, key by key, what the key waited for.

Times are `time.perf_counter()` (CLOCK_MONOTONIC on Linux: the same clock in the parent).
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Busy", "install", "label_of", "load"]


@dataclass(frozen=True, slots=True)
class Busy:
    start: float  # perf_counter seconds
    wall: float  # seconds
    cpu: float  # thread CPU seconds (the loop's thread)
    label: str

    @property
    def end(self) -> float:
        return self.start + self.wall


def label_of(callback: Callable[..., Any]) -> str:
    """What a loop callback works for: its task's coroutine (and message pump), if any."""
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        name = getattr(coro, "__qualname__", type(coro).__name__)
        frame = getattr(coro, "cr_frame", None)
        pump = frame.f_locals.get("self") if frame is not None else None
        if pump is None:
            return name
        tag = getattr(pump, "name", None)  # a Textual worker's name ("poll")
        return f"{name}[{type(pump).__name__}{':' + tag if isinstance(tag, str) else ''}]"
    return getattr(callback, "__qualname__", repr(callback))


def install(path: str, threshold: float = 0.001) -> Callable[[], None]:
    """Trace this process's asyncio callbacks; returns `dump`, which writes them to `path`."""
    records: list[tuple[float, float, float, str]] = []
    original = asyncio.events.Handle._run
    clock, cpu = time.perf_counter, time.thread_time

    def traced(handle: asyncio.Handle) -> None:
        t0, c0 = clock(), cpu()
        original(handle)
        wall = clock() - t0
        if wall >= threshold:
            records.append((t0, wall, cpu() - c0, label_of(handle._callback)))  # type: ignore[attr-defined]

    asyncio.events.Handle._run = traced  # type: ignore[method-assign]
    started: dict[str, float] = {}

    def collected(phase: str, info: dict[str, int]) -> None:
        # the cycle collector stops everything, the loop too: a pause of its own
        if phase == "start":
            started["t"], started["c"] = clock(), cpu()
        elif "t" in started:
            wall = clock() - started["t"]
            if wall >= threshold:
                records.append(
                    (started["t"], wall, cpu() - started["c"], f"gc{info['generation']}")
                )

    gc.callbacks.append(collected)

    def dump() -> None:
        Path(path).write_text(json.dumps(records))

    return dump


def load(path: str) -> list[Busy]:
    try:
        rows = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return []
    return [Busy(*row) for row in rows]


def _kind(label: str) -> str:
    """A callback's part in the console: the snapshot's apply, drawing, or the rest."""
    if label.startswith("gc"):
        return label
    if ":poll]" in label:
        return "apply"
    if "Screen" in label or "App]" in label:
        return "screen/app"
    return label.split("[")[-1].rstrip("]") or label


def _p(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] if s else 0.0


def explain(
    presses: list[tuple[str, float, float]],
    busy: list[Busy],
    window: tuple[float, float],
    slow: float = 0.2,
) -> list[str]:
    """Lines saying what the loop did per second in the quiet `window` (no keys), and, key
    by key, what was running when the key arrived and what ran until its screen came."""
    if not busy:
        return ["no loop trace"]
    lines = []
    w0, w1 = window
    span = max(w1 - w0, 1e-9)
    per: dict[str, list[float]] = {}
    for b in busy:
        if w0 <= b.start < w1:
            acc = per.setdefault(_kind(b.label), [0.0, 0.0, 0])
            acc[0] += b.wall
            acc[1] += b.cpu
            acc[2] += 1
    applies = [b for b in busy if w0 <= b.start < w1 and _kind(b.label) == "apply"]
    lines.append(
        "loop busy (callbacks >= 1 ms) per second, no keys: "
        + "; ".join(
            f"{k} {v[0] / span * 1000:.0f} ms ({v[1] / span * 1000:.0f} CPU, {v[2] / span:.0f}x)"
            for k, v in sorted(per.items(), key=lambda kv: -kv[1][0])[:5]
        )
    )
    if applies:
        lines.append(
            f"one snapshot's apply (poll worker): p50 "
            f"{_p([b.wall for b in applies], 0.5) * 1000:.0f}"
            f" ms wall / {_p([b.cpu for b in applies], 0.5) * 1000:.0f} ms CPU, max "
            f"{max(b.wall for b in applies) * 1000:.0f} ms"
        )
    oldest = [b for b in busy if b.label == "gc2"]
    if oldest:
        run = max(b.end for b in busy) - min(b.start for b in busy)
        lines.append(
            f"oldest-generation collections: {len(oldest)} in {run:.0f} s, CPU p50 "
            f"{_p([b.cpu for b in oldest], 0.5) * 1000:.0f} / max "
            f"{max(b.cpu for b in oldest) * 1000:.0f} ms"
        )
    arrived: dict[str, list[float]] = {}  # kind running at the key's arrival -> latencies
    waits: dict[str, list[float]] = {}
    slow_lines = []
    seen: set[str] = set()
    for key, t0, t1 in presses:
        first = key not in seen  # its screen built for the first time in this console
        seen.add(key)
        running = next((b for b in busy if b.start <= t0 < b.end), None)
        kind = _kind(running.label) if running is not None else "idle"
        arrived.setdefault(kind, []).append(t1 - t0)
        if running is not None:
            waits.setdefault(kind, []).append(running.end - t0)
        if t1 - t0 >= slow:
            inside: dict[str, tuple[float, float]] = {}
            for b in busy:
                if b.end > t0 and b.start < t1:
                    w, c = inside.get(_kind(b.label), (0.0, 0.0))
                    inside[_kind(b.label)] = (w + min(b.end, t1) - max(b.start, t0), c + b.cpu)
            slow_lines.append(
                f"  slow {key}{' (first press)' if first else ''} {(t1 - t0) * 1000:.0f} ms: "
                f"arrived during {kind}"
                + (f" ({(running.end - t0) * 1000:.0f} ms left)" if running else "")
                + "; loop until its screen: "
                + ", ".join(
                    f"{k} {w * 1000:.0f} ms ({c * 1000:.0f} CPU)"
                    for k, (w, c) in sorted(inside.items(), key=lambda kv: -kv[1][0])
                )
            )
    for kind, lat in sorted(arrived.items(), key=lambda kv: -len(kv[1])):
        wait = waits.get(kind, [])
        lines.append(
            f"keys arriving during {kind}: {len(lat)}, latency p50 {_p(lat, 0.5) * 1000:.0f} / "
            f"max {max(lat) * 1000:.0f} ms"
            + (f"; waited for it p50 {_p(wait, 0.5) * 1000:.0f} ms" if wait else "")
        )
    later = [t1 - t0 for key, t0, t1 in presses[3:]]
    if later:
        lines.append(
            "first presses: "
            + ", ".join(f"{k} {(t1 - t0) * 1000:.0f}" for k, t0, t1 in presses[:3])
            + f" ms; all later presses p50 {_p(later, 0.5) * 1000:.0f} / "
            + f"p99 {_p(later, 0.99) * 1000:.0f} ms"
        )
    return lines + slow_lines
