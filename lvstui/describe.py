"""Operator commands as one line of text: what the event log and the audit show.

One function for every place that reports a command — the engine (its OperatorAction
events) and the console's in-memory FakeClient — so they cannot disagree.
"""

from __future__ import annotations

from lvstui.model import (
    AddReal,
    Command,
    Drain,
    DrainDirector,
    Reload,
    RemoveReal,
    SetWeight,
    Undrain,
    UndrainDirector,
)

__all__ = ["describe_command"]


def describe_command(cmd: Command) -> str:
    """`drain TCP 192.0.2.1:80 198.51.100.1:80 timeout 30s`, `weight … config`, …"""
    match cmd:
        case Drain(service=s, real=r, timeout=t):
            return f"drain {s} {r}" + (f" timeout {t:g}s" if t is not None else "")
        case Undrain(service=s, real=r):
            return f"undrain {s} {r}"
        case SetWeight(service=s, real=r, weight=w):
            return f"weight {s} {r} {'config' if w is None else w}"
        case AddReal(service=s, real=r, weight=w, lb_kind=k):
            return f"add {s} {r} weight {w}" + (f" {k.value}" if k else "")
        case RemoveReal(service=s, real=r):
            return f"remove {s} {r}"
        case Reload(dry_run=d, force=f):
            return "reload --dry-run" if d else ("reload --force" if f else "reload")
        case DrainDirector(settle=t):
            return "drain-director" + (f" settle {t:g}s" if t is not None else "")
        case UndrainDirector():
            return "undrain-director"
