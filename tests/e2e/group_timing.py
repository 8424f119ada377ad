"""Timing a director-group change in a lab, honestly: from the moment it is made until the
peer's engine reports it applied to its dataplane — its OperatorAction event ("from the
director group"), which the engine publishes after the table is written — read from the
daemons' control sockets. Not through `lvstui status`, whose snapshot is refreshed once a
second, and not counting a CLI's start-up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

from lvstui.control.client import SocketClient
from lvstui.model import Command, CommandResult, Event, OperatorAction

__all__ = ["call", "from_group", "time_group_change"]

Want = Callable[[OperatorAction], bool]


def from_group(verb: str, real: str) -> Want:
    """The peer applied a group change `verb` ("drain", "weight") of `real`."""
    return lambda ev: (
        ev.message == "from the director group"
        and (ev.action.startswith(verb) and real in ev.action)
    )


async def call(sock: Path, command: Command) -> CommandResult:
    """One command through a daemon's control socket (what `lvstui ctl` sends)."""
    c = SocketClient(sock)
    try:
        await c.connect()
        return await c.call(command)
    finally:
        await c.close()


async def _first(stream: AsyncIterator[Event], want: Want) -> float:
    async for ev in stream:
        if isinstance(ev, OperatorAction) and want(ev):
            return time.monotonic()
    raise AssertionError("event stream ended")


async def _time(
    trigger: Callable[[], Awaitable[object]],
    watch: Sequence[tuple[Path, Want]],
    timeout: float,
) -> float:
    clients = [SocketClient(sock) for sock, _ in watch]
    try:
        streams = []
        for c in clients:
            await c.connect()
            streams.append(c.events())
            await c.subscribe()  # registered before the clock starts: nothing is missed
        t0 = time.monotonic()
        await trigger()
        ends = await asyncio.wait_for(
            asyncio.gather(*(_first(s, w) for s, (_, w) in zip(streams, watch, strict=True))),
            timeout,
        )
        return max(ends) - t0
    finally:
        for c in clients:
            await c.close()


def time_group_change(
    trigger: Callable[[], Awaitable[object]],
    watch: Sequence[tuple[Path, Want]],
    timeout: float = 15.0,
) -> float:
    """Seconds from `trigger` starting until every (socket, want) in `watch` has seen its
    event; AssertionError (via TimeoutError) when one has not within `timeout`."""
    return asyncio.run(_time(trigger, watch, timeout))
