"""What every health checker shares: the resolved target, the result, the Checker protocol.

A config check (`TcpCheck`, `HttpCheck`, `MiscCheck`, `PingCheck`) says little on its own:
most of its settings inherit from the real server and the virtual server. `resolve_spec`
does that inheritance once, into a frozen `CheckSpec`; `build_checker` (in
`lvstui.health.build`) turns a spec into a runnable `Checker`.

A checker run never raises for a misbehaving server: it returns a `CheckResult` with
`ok=False` and a reason. A run that could not be made for a reason on this host (no
descriptor left, no buffer, no process: `is_local_failure`) says nothing about the server:
the checker lets that OSError out, and the scheduler counts the run as *unknown*, which never
moves a server's health. It raises `CheckError` only when the check cannot be built at all
(an argv that does not parse, ...), and that happens at build time, not at run time.

`ScriptedChecker` is the in-memory twin: it returns programmed results, for scheduler tests
and for the engine's tests.
"""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from lvstui.config.schema import (
    BfdCheck,
    Check,
    CheckCommon,
    CheckKind,
    DnsCheck,
    FileCheck,
    HttpCheck,
    MiscCheck,
    RealServer,
    VirtualServer,
    retry_delay,
)
from lvstui.netutil import bracket_host, ip_family

__all__ = [
    "LOCAL_ERRNOS",
    "LOCAL_POLL",
    "Cancellable",
    "CheckResult",
    "CheckSpec",
    "CheckTarget",
    "Checker",
    "ScriptedChecker",
    "SpecChecker",
    "fail",
    "is_local_failure",
    "passed",
    "resolve_spec",
]


LOCAL_POLL = 1.0  # seconds: FILE_CHECK and BFD_CHECK poll period unless delay_loop is set


class Cancellable(Protocol):
    """Something in flight that can be abandoned (a check attempt, a probe's loop)."""

    def cancel(self) -> None: ...


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one attempt of one check."""

    ok: bool
    reason: str = ""
    latency: float = 0.0  # seconds the attempt took
    weight: int | None = None  # misc_dynamic: the weight the script asked for (None: config)
    started: float = 0.0  # time.monotonic() at start
    finished: float = 0.0  # time.monotonic() at the end
    local: bool = False  # could not run for a reason on this host: unknown, not failed


# errno values that describe this host, not the server: out of descriptors (per process,
# system-wide), of socket buffers or memory, or of processes (fork/clone: EAGAIN).
LOCAL_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.EAGAIN})


def is_local_failure(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it wraps: httpx re-raises the OSError as its cause)
    is an OSError for a local reason (`LOCAL_ERRNOS`). EAGAIN (Python's BlockingIOError)
    counts: a checker never lets the would-block of a non-blocking socket out, and fork's
    "resource temporarily unavailable" is this host's limit."""
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 8:  # bounded: a cause chain may loop
        if isinstance(cur, OSError) and cur.errno in LOCAL_ERRNOS:
            return True
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return False


def passed(started: float, reason: str = "ok", weight: int | None = None) -> CheckResult:
    now = time.monotonic()
    return CheckResult(True, reason, now - started, weight, started, now)


def fail(started: float, reason: str) -> CheckResult:
    now = time.monotonic()
    return CheckResult(False, reason, now - started, None, started, now)


@dataclass(frozen=True, slots=True)
class CheckTarget:
    """Where a check connects, after inheritance (connect_ip/port default to the real server)."""

    ip: str
    port: int
    bindto: str | None = None
    bind_port: int | None = None
    virtualhost: str | None = None  # HTTP: Host header (check-level, else the service's)

    @property
    def family(self) -> int:
        return ip_family(self.ip)

    @property
    def hostport(self) -> str:
        host = bracket_host(self.ip)
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A config check with everything inherited resolved. Equal specs = the same check
    (a reload keeps the state of a check whose spec did not change)."""

    kind: CheckKind
    target: CheckTarget
    period: float  # delay_loop
    timeout: float  # connect_timeout, or misc_timeout for MISC_CHECK
    retry: int
    delay_before_retry: float
    warmup: float | None  # None: random in [0, period)
    rise: int
    fall: int
    check: Check = field(compare=True)
    # FILE_CHECK: the real server's configured weight, to which the file's value is added
    # (part of the identity: two servers reading one file at different weights differ)
    base_weight: int | None = None

    def describe(self) -> str:
        """What the check probes, for CheckView.target: `10.0.0.1:80/health`, `ping 10.0.0.1`."""
        c = self.check
        if isinstance(c, HttpCheck):
            scheme = "https" if c.tls else "http"
            paths = ",".join(u.path for u in c.urls)
            return f"{scheme}://{self.target.hostport}{paths}"
        if isinstance(c, MiscCheck):
            return c.misc_path
        if self.kind is CheckKind.PING_CHECK:
            return f"ping {self.target.ip}"
        if isinstance(c, DnsCheck):
            return f"dns {c.type} {c.name} @{self.target.hostport}"
        if isinstance(c, FileCheck):
            return f"file {c.file}"
        if isinstance(c, BfdCheck):
            return f"bfd {c.name}"
        if self.kind is CheckKind.UDP_CHECK:
            return f"udp {self.target.hostport}"
        if self.kind is CheckKind.SMTP_CHECK:
            return f"smtp {self.target.hostport}"
        return self.target.hostport


class Checker(Protocol):
    """A runnable check. `run` performs one attempt and returns its result; it must finish
    (pass or fail) within its time budget whatever the server does: `spec.timeout`, per
    url for HTTP_GET/SSL_GET. It never raises for a misbehaving server."""

    @property
    def spec(self) -> CheckSpec: ...

    async def run(self) -> CheckResult: ...


CheckT = TypeVar("CheckT")


class SpecChecker(Generic[CheckT]):
    """What a checker holds: its resolved spec and its config check (subclasses add `run`)."""

    __slots__ = ("_check", "_spec")

    def __init__(self, spec: CheckSpec, check: CheckT) -> None:
        self._spec = spec
        self._check = check

    @property
    def spec(self) -> CheckSpec:
        return self._spec


def resolve_spec(check: Check, real: RealServer, vs: VirtualServer) -> CheckSpec:
    """Apply keepalived's inheritance: connect_ip/connect_port default to the real server's,
    delay_loop to the service's, virtualhost to the service's, misc_timeout to delay_loop."""
    common: CheckCommon = check.common
    period = common.delay_loop if common.delay_loop is not None else vs.delay_loop
    virtualhost: str | None = None
    if isinstance(check, HttpCheck):
        virtualhost = check.virtualhost if check.virtualhost is not None else vs.virtualhost
    target = CheckTarget(
        ip=common.connect_ip or real.ip,
        port=common.connect_port if common.connect_port is not None else real.port,
        bindto=common.bindto,
        bind_port=common.bind_port,
        virtualhost=virtualhost,
    )
    if isinstance(check, MiscCheck):
        timeout = check.misc_timeout if check.misc_timeout is not None else period
    else:
        timeout = common.connect_timeout
    if isinstance(check, FileCheck | BfdCheck) and common.delay_loop is None:
        # keepalived reacts to these at once (inotify, bfdd's events); we poll them, and
        # a poll is a stat() or one vtysh call: every second unless told otherwise
        period = min(period, LOCAL_POLL)
    return CheckSpec(
        kind=check.kind,
        target=target,
        period=period,
        timeout=timeout,
        retry=max(0, common.retry),
        delay_before_retry=max(0.0, retry_delay(check, period)),
        warmup=common.warmup,
        rise=max(1, common.rise),
        fall=max(1, common.fall),
        check=check,
        base_weight=real.weight if isinstance(check, FileCheck) else None,
    )


class ScriptedChecker:
    """In-memory checker: returns programmed results in order (the last one repeats).

    `delay` makes each run take that long (real asyncio time, or awaits `gate` if set, so a
    test decides when a run ends). Counts runs in flight to prove there is no overlap.
    """

    def __init__(
        self,
        spec: CheckSpec,
        results: Iterable[bool | CheckResult] = (True,),
        *,
        delay: float = 0.0,
    ) -> None:
        self._spec = spec
        self._results = [
            r if isinstance(r, CheckResult) else CheckResult(bool(r), "ok" if r else "scripted")
            for r in results
        ] or [CheckResult(True, "ok")]
        self._i = 0
        self.delay = delay
        self.gate: asyncio.Event | None = None
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def spec(self) -> CheckSpec:
        return self._spec

    def set_results(self, results: Iterable[bool | CheckResult]) -> None:
        self._results = [
            r if isinstance(r, CheckResult) else CheckResult(bool(r), "ok" if r else "scripted")
            for r in results
        ]
        self._i = 0

    async def run(self) -> CheckResult:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            elif self.delay:
                await asyncio.sleep(self.delay)
            r = self._results[min(self._i, len(self._results) - 1)]
            self._i += 1
            return r
        finally:
            self.in_flight -= 1
