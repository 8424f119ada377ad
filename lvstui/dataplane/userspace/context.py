"""What the connection and flow handlers (tcp.py, udp.py) get from the forwarder: its clock
and limits, and the TCP tables its sweeper walks. Handlers hold this object, not the
forwarder, so the forwarder imports them and nothing imports it back."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from lvstui.dataplane.userspace.relay import splice_supported
from lvstui.dataplane.userspace.sched import RealServer
from lvstui.dataplane.userspace.service import VirtualService

__all__ = ["ConnContext", "TcpConn"]


class TcpConn(Protocol):
    """A relayed TCP connection as the forwarder sees it (`tcp.Connection`)."""

    @property
    def state(self) -> int: ...  # 0 nothing bound, 1 connecting, 2 established, 3 finished
    @property
    def deadline(self) -> float: ...  # while connecting: when the sweeper gives up
    @property
    def dest(self) -> RealServer | None: ...
    @property
    def svc(self) -> VirtualService: ...
    def finish(self, linger: bool = True) -> None: ...
    def abort(self) -> None: ...


@dataclass(slots=True, eq=False)
class ConnContext:
    clock: Callable[[], float]
    connect_timeout: float  # a TCP connect (and an app_hash request line) gives up after it
    inact_linger: float  # a closed TCP connection counts in InActConn this long
    max_udp_flows: int  # per UDP service; datagrams from further new clients are dropped
    use_splice: bool | None = None  # None: probe the kernel on first use
    live_conns: set[TcpConn] = field(default_factory=set)  # relayed TCP connections
    connecting: deque[TcpConn] = field(default_factory=deque)  # deadlines ascending
    lingering: deque[tuple[float, RealServer]] = field(default_factory=deque)  # closed, InAct

    @property
    def splice(self) -> bool:
        if self.use_splice is None:
            self.use_splice = splice_supported()
        return self.use_splice
