"""A small in-memory engine behind the EngineClient interface, for control-plane tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

from lvstui.config.schema import LbKind, Protocol
from lvstui.errors import CommandError, PermissionDenied
from lvstui.model import (
    Command,
    CommandResult,
    Drain,
    Event,
    LogEvent,
    RealKey,
    RealServerView,
    Reload,
    ServiceKey,
    ServiceView,
    Snapshot,
)

SVC = ServiceKey(Protocol.TCP, "127.0.0.10", 8080)
RS1 = RealKey("127.0.0.1", 18081)
RS2 = RealKey("127.0.0.1", 18082)


def sample_snapshot(seq: int = 1) -> Snapshot:
    reals = tuple(
        RealServerView(key=k, fwd=LbKind.NAT, weight_config=1, weight=1) for k in (RS1, RS2)
    )
    svc = ServiceView(key=SVC, scheduler="rr", lb_kind=LbKind.NAT, real_servers=reals)
    return Snapshot(seq=seq, time=1_700_000_000.0, dataplane="memory", services=(svc,))


class FakeEngine:
    def __init__(self) -> None:
        self.snap = sample_snapshot()
        self.calls: list[tuple[str, Command]] = []
        self.subscribers: set[asyncio.Queue[Event]] = set()
        self.recent: list[Event] = []  # what a subscription with replay starts with
        self.fail_with: Exception | None = None  # raised by the next calls (a state save...)

    def publish(self, ev: Event) -> None:
        self.recent = [*self.recent[-99:], ev]
        for q in self.subscribers:
            q.put_nowait(ev)

    async def call(self, command: Command, who: str) -> CommandResult:
        if self.fail_with is not None:
            raise self.fail_with
        self.calls.append((who, command))
        if isinstance(command, Drain) and command.real not in (RS1, RS2):
            raise CommandError(f"no real server {command.real} in {command.service}")
        if isinstance(command, Reload):
            return CommandResult(True, "reloaded", detail="+ TCP 127.0.0.10:9090")
        self.publish(LogEvent(1.0, "info", f"{who}: {command.kind}"))
        return CommandResult(True, f"{command.kind} done")


class FakeClient:
    """What `LocalClient(engine, read_only=..., who=...)` is to the real engine."""

    def __init__(self, engine: FakeEngine, read_only: bool = False, who: str = "test") -> None:
        self.engine = engine
        self._read_only = read_only
        self.who = who
        self.closed = False

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def description(self) -> str:
        return "embedded"

    async def snapshot(self) -> Snapshot:
        return replace(self.engine.snap, read_only=self._read_only)

    async def events(self, replay: bool = False) -> AsyncIterator[Event]:
        q: asyncio.Queue[Event] = asyncio.Queue()
        for ev in self.engine.recent if replay else ():
            q.put_nowait(ev)
        self.engine.subscribers.add(q)
        try:
            while True:
                yield await q.get()
        finally:
            self.engine.subscribers.discard(q)

    async def call(self, command: Command) -> CommandResult:
        if self._read_only:
            raise PermissionDenied("read-only")
        return await self.engine.call(command, self.who)

    async def close(self) -> None:
        self.closed = True
