"""Shared by the group tests."""

from __future__ import annotations

from collections.abc import Callable

from lvstui.config.state import Overrides
from lvstui.group.member import Member
from lvstui.group.store import Entry


async def act(m: Member, change: Callable[[Overrides], Overrides], who: str) -> list[Entry]:
    """An operator's change made on `m`, as the engine reports it (old and new overrides)."""
    ov = m.store.overrides()
    return await m.local_change(ov, change(ov), who)
