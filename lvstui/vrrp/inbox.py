"""A VRRP node's inbox: what its main task handles, one at a time and in order (the state
machine's events, received datagrams, stop and reconfigure requests), and the wait for the
next item or for the machine's timer, whichever comes first."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from lvstui.clock import Clock
from lvstui.config.schema import VrrpInstance, VrrpScript
from lvstui.vrrp import fsm
from lvstui.vrrp.transport import Datagram

__all__ = ["TIMER_SLACK", "Dgram", "Item", "Reconfig", "Stop", "next_item"]

TIMER_SLACK = 0.001  # a timer may fire this early: the event loop's resolution (epoll: 1 ms)


@dataclass(frozen=True, slots=True)
class Dgram:
    dg: Datagram


@dataclass(frozen=True, slots=True)
class Stop:
    graceful: bool


@dataclass(frozen=True, slots=True, eq=False)
class Reconfig:
    inst: VrrpInstance
    scripts: dict[str, VrrpScript]
    done: asyncio.Future[list[str]]


Item = fsm.Event | Dgram | Stop | Reconfig


async def next_item(inbox: asyncio.Queue[Item], clock: Clock, deadline: float | None) -> Item:
    """The next item of the inbox, or `fsm.Timer()` once `deadline` (the machine's next
    timer, None: none) has come and nothing is waiting."""
    due = deadline is not None and deadline - clock.now() <= TIMER_SLACK
    if inbox.empty() and due:
        return fsm.Timer()
    if not inbox.empty() or deadline is None:
        return await inbox.get()
    get = asyncio.ensure_future(inbox.get())
    # epoll rounds timeouts up to the next millisecond: aim half a slack early
    wait = deadline - clock.now() - TIMER_SLACK / 2
    sleep = asyncio.ensure_future(clock.sleep(wait))
    done, _ = await asyncio.wait({get, sleep}, return_when=asyncio.FIRST_COMPLETED)
    sleep.cancel()
    if get in done:
        return get.result()
    get.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await get
    # a get may complete while being cancelled: keep the item
    if get.done() and not get.cancelled():
        inbox.put_nowait(get.result())
    return fsm.Timer()
