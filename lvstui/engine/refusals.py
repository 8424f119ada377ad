"""The refusal log: what to say when the dataplane refuses the table, and when to say it.

A permanent refusal (a VIP port another process holds) is retried every tick; logging every
attempt would bury everything else. So a refusal is logged once, again only when the error
changes, with reminders REFUSAL_REMINDERS seconds after the first (then every
REFUSAL_REMINDER_EVERY seconds); a full reconcile that goes through ends the run and says
how long it lasted. Pure: the caller passes the time and logs the lines returned.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REFUSAL_REMINDERS", "REFUSAL_REMINDER_EVERY", "RefusalLog", "reminder_due"]

REFUSAL_REMINDERS = (10.0, 60.0)
REFUSAL_REMINDER_EVERY = 600.0


def reminder_due(sent: int) -> float:
    """Seconds after the first refusal at which reminder number `sent` (0-based) is due."""
    if sent < len(REFUSAL_REMINDERS):
        return REFUSAL_REMINDERS[sent]
    return REFUSAL_REMINDERS[-1] + REFUSAL_REMINDER_EVERY * (sent - len(REFUSAL_REMINDERS) + 1)


@dataclass(slots=True)
class _Refusal:
    error: str
    since: float  # the time of the first refusal with this error
    attempts: int
    reminders: int = 0


class RefusalLog:
    def __init__(self) -> None:
        self._current: _Refusal | None = None

    def refused(self, why: str, error: str, now: float) -> str | None:
        """An apply was refused: the error line to log now, if any."""
        r = self._current
        if r is None or r.error != error:
            self._current = _Refusal(error, now, 1)
            return f"dataplane refused ({why}), retrying every tick: {error}"
        r.attempts += 1
        elapsed = now - r.since
        if elapsed < reminder_due(r.reminders):
            return None
        r.reminders += 1
        return (
            f"dataplane still refuses after {elapsed:.0f} s ({r.attempts} attempts), "
            f"retrying: {error}"
        )

    def accepted(self, now: float) -> str | None:
        """A full reconcile went through: the line that ends a run of refusals, if any."""
        r, self._current = self._current, None
        if r is None:
            return None
        return (
            f"dataplane accepted the table after {now - r.since:.0f} s "
            f"and {r.attempts} refused attempt(s); it had refused: {r.error}"
        )
