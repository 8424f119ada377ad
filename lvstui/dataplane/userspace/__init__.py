"""The userspace forwarder: asyncio TCP/UDP relaying with the kernel's schedulers."""

from __future__ import annotations

import asyncio

__all__ = ["new_event_loop"]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The event loop to run the forwarder on: uvloop's when installed (about 50% more new
    connections per second, see bench/proxy_vs_haproxy.sh), else asyncio's default.
    Use as `asyncio.Runner(loop_factory=new_event_loop)` (Python ≥ 3.11)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
