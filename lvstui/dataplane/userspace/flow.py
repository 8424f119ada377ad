"""One UDP client's mapping to a real server (udp.py makes them, the service holds them)."""

from __future__ import annotations

import socket

from lvstui.dataplane.userspace.persist import Template
from lvstui.dataplane.userspace.sched import RealServer

__all__ = ["Flow"]


class Flow:
    """One UDP client's mapping to a real server."""

    __slots__ = ("client", "dest", "last", "sock", "tpl")

    def __init__(
        self, client: tuple[str, int], dest: RealServer, sock: socket.socket, now: float
    ) -> None:
        self.client = client
        self.dest = dest
        self.sock = sock
        self.last = now
        self.tpl: Template | None = None
