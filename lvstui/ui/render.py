"""Pure rendering: views → cell strings. No Textual here, so every row is unit-testable.

The main table has one row per virtual service followed by one row per real server, with
ipvsadm's columns (`ipvsadm -Ln`) plus what keepalived never showed: health, the last check's
result and age, and a sparkline of active connections. Ages are measured against the
snapshot's own time, not the wall clock, so a frozen snapshot always renders the same way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from lvstui.model import (
    CheckView,
    ConfigReloaded,
    DrainProgress,
    DrainState,
    Event,
    Health,
    HealthChanged,
    LbKind,
    LogEvent,
    NotifyResult,
    OperatorAction,
    QuorumChanged,
    RealKey,
    RealServerView,
    ServiceKey,
    ServiceView,
    Snapshot,
    VrrpChanged,
    VrrpRunState,
)

__all__ = [
    "COLUMNS",
    "COLUMN_GAP",
    "LAYOUTS",
    "SCROLLBAR",
    "SPARK_FLOOR",
    "SPARK_WIDTH",
    "Column",
    "age",
    "check_summary",
    "config_text",
    "count",
    "crop",
    "drain_line",
    "event_line",
    "fit",
    "fwd_name",
    "last_check",
    "layout_for",
    "layout_width",
    "quorum_line",
    "real_cells",
    "real_row_key",
    "real_status",
    "service_cells",
    "service_flags",
    "service_row_key",
    "spark_peak",
    "sparkline",
    "widened",
]

SPARK_WIDTH = 12
# a sparkline's scale never goes below this: up to 8 connections, one block step each
SPARK_FLOOR = 8
_BLOCKS = " ▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int


# Fixed widths: the table never measures its content (measuring 10,000 rows a second is what
# would make a big table slow), and the columns never shift under the operator's eyes.
# COLUMNS is the full layout; every row is rendered against it (one cell per column, in this
# order) and narrower terminals show a subset of it (`layout_for`).
COLUMNS: tuple[Column, ...] = (
    Column("addr", "Prot LocalAddress:Port", 23),
    Column("sched", "Sched", 8),
    Column("fwd", "Forward", 7),
    Column("weight", "Weight", 6),
    Column("active", "ActiveConn", 10),
    Column("inact", "InActConn", 9),
    Column("status", "Health", 9),
    Column("cps", "CPS", 5),
    Column("check", "Last check", 14),
    Column("age", "Age", 4),
    Column("spark", "Conns", SPARK_WIDTH),
)
# The table draws no padding of its own (cell_padding=0): one space after each column is all
# the separation.
COLUMN_GAP = 1
# Its vertical scrollbar is one column wide (app.tcss), kept free in every layout.
SCROLLBAR = 1

_BY_KEY = {c.key: c for c in COLUMNS}


def _narrowed(*cols: tuple[str, str, int]) -> tuple[Column, ...]:
    return tuple(Column(k, label, w) for k, label, w in cols)


# An 80-column terminal (SSH, a console) keeps ipvsadm's columns, health and the last check;
# the rate, the age and the sparkline come back as the terminal widens (the drill-down has
# them all).
_NARROW = _narrowed(
    ("addr", "Prot LocalAddress:Port", 23),
    ("sched", "Sched", 5),
    ("fwd", "Fwd", 6),
    ("weight", "Weight", 6),
    ("active", "Active", 6),
    ("inact", "InAct", 5),
    ("status", "Health", 9),
    ("check", "Last check", 11),
)
_MEDIUM = (
    *_NARROW[:7],
    _BY_KEY["cps"],
    Column("check", "Last check", 11),
    _BY_KEY["age"],
)
LAYOUTS: tuple[tuple[Column, ...], ...] = (COLUMNS, _MEDIUM, _NARROW)


def layout_width(layout: Sequence[Column]) -> int:
    """Terminal columns a layout needs, gaps and scrollbar included."""
    return sum(c.width + COLUMN_GAP for c in layout) + SCROLLBAR


def layout_for(width: int) -> tuple[Column, ...]:
    """The widest layout that fits `width` terminal columns (the narrowest below 80)."""
    for layout in LAYOUTS:
        if layout_width(layout) <= width:
            return layout
    return LAYOUTS[-1]


# The address column takes the width a wide terminal has to spare, up to this: service and
# real-server names (after the address) were cut to a few letters even at 200 columns. What
# is left goes to the scheduler and its flags.
ADDR_MAX = 64
SCHED_MAX = 28


def widened(layout: tuple[Column, ...], width: int) -> tuple[Column, ...]:
    """`layout` with the columns `width` has beyond it given to the address column, then
    to the scheduler's."""
    spare = width - layout_width(layout)
    out = []
    for c in layout:
        top = {"addr": ADDR_MAX, "sched": SCHED_MAX}.get(c.key, c.width)
        grow = max(0, min(spare, top - c.width))
        spare -= grow
        out.append(Column(c.key, c.label, c.width + grow) if grow else c)
    return tuple(out)


def count(n: int, noun: str) -> str:
    """`1 service`, `3 services`: a number and its noun, singular for one."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def crop(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def fit(cells: Sequence[str]) -> tuple[str, ...]:
    """Crop each cell to its column's width (an ellipsis marks the cut); the address and
    scheduler columns to their widest, since they widen with the terminal (`widened`)."""
    top = {"addr": ADDR_MAX, "sched": SCHED_MAX}
    return tuple(
        crop(v, top.get(col.key, col.width)) for col, v in zip(COLUMNS, cells, strict=True)
    )


def service_row_key(key: ServiceKey) -> str:
    return f"s|{key}"


def real_row_key(service: ServiceKey, real: RealKey) -> str:
    return f"r|{service}|{real}"


def fwd_name(kind: LbKind) -> str:
    """ipvsadm's names for the forwarding methods."""
    return {LbKind.NAT: "Masq", LbKind.DR: "Route", LbKind.TUN: "Tunnel"}[kind]


def sparkline(values: Sequence[int], width: int = SPARK_WIDTH, top: int | None = None) -> str:
    """The last `width` samples as block characters, scaled to `top` (a real server's row
    passes its service's peak, so the rows of one service compare at a glance) or else to
    the window's own maximum; never to less than SPARK_FLOOR, so that one connection draws
    the lowest block, not a full bar."""
    window = list(values[-width:])
    if not window:
        return " " * width
    scale = max(max(window) if top is None else top, SPARK_FLOOR)
    chars = []
    for v in window:
        level = 0 if v <= 0 else min(8, max(1, round(v * 8 / scale)))
        chars.append(_BLOCKS[level])
    return "".join(chars).rjust(width)


def spark_peak(sv: ServiceView, width: int = SPARK_WIDTH) -> int:
    """The most active connections any of `sv`'s real servers had in the sparkline's window:
    the scale its real-server rows share."""
    return max((max(rs.history[-width:], default=0) for rs in sv.real_servers), default=0)


def age(then: float | None, now: float) -> str:
    """Compact age: 5s, 3m, 2h, 4d ("-" when never)."""
    if then is None:
        return "-"
    s = max(0, int(now - then))
    if s < 100:
        return f"{s}s"
    if s < 6000:
        return f"{s // 60}m"
    if s < 48 * 3600:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def _latency(seconds: float | None) -> str:
    if seconds is None:
        return ""
    ms = seconds * 1000
    return f"{ms:.0f}ms" if ms >= 10 else f"{ms:.1f}ms"


def last_check(checks: Sequence[CheckView]) -> CheckView | None:
    """The most recently completed check of a server (None if none ran yet)."""
    ran = [c for c in checks if c.last_run is not None]
    if not ran:
        return None
    return max(ran, key=lambda c: c.last_run or 0.0)


def shown_check(checks: Sequence[CheckView]) -> CheckView | None:
    """The check a one-line summary shows: a stale one first (it says more than the last
    completed run of another), else the last completed."""
    stale = [c for c in checks if c.stale]
    return stale[0] if stale else last_check(checks)


def probe_sharing(snap: Snapshot, sv: ServiceView, rs: RealServerView, most: int = 4) -> list[str]:
    """Drill-down lines: the other services whose checks of this server run as the same
    probe (one probe per target). Derived from the snapshot: a check of the same kind,
    target and period on a server of another service, with `shared` above 1."""
    out = []
    for c in rs.checks:
        if c.shared <= 1:
            continue
        others = [
            str(s.key)
            for s in snap.services
            if s.key != sv.key
            and any(
                (o.kind, o.target, o.period) == (c.kind, c.target, c.period) and o.shared > 1
                for r in s.real_servers
                for o in r.checks
            )
        ]
        names = ", ".join(others[:most]) + (
            f" … {len(others) - most} more" if len(others) > most else ""
        )
        out.append(f"probe     {c.kind} {c.target}: one probe for {c.shared} servers; also {names}")
    return out


def check_target(check: CheckView) -> str:
    """What a check probes, and how many real servers its one probe feeds when shared:
    `10.0.0.1:80 ×100` (one probe per target)."""
    return f"{check.target} ×{check.shared}" if check.shared > 1 else check.target


def check_summary(check: CheckView | None) -> str:
    """`ok 3.2ms`, `FAIL connection refused`, `pending`, `STALE …` — what the last check
    said (STALE: the watchdog saw no completed run in 2 × (period + budget))."""
    if check is None:
        return "pending"
    if check.stale:
        return f"STALE {check.kind}"
    if check.last_ok:
        return f"ok {_latency(check.last_latency)}".rstrip()
    return f"FAIL {check.last_reason or check.kind}"


def real_status(rs: RealServerView) -> str:
    """Health merged with drain: what an operator wants to know at a glance."""
    if rs.drain is DrainState.DRAINING:
        return "draining"
    if rs.drain is DrainState.SAFE:
        return "safe"
    if rs.drain is DrainState.EXPIRED:
        return "expired"
    if rs.is_sorry:
        return "sorry"
    if rs.ramp_until is not None and rs.health is not Health.DOWN:
        return "ramping"  # slow start: its weight (shown n/N) is still climbing
    return {Health.UP: "up", Health.DOWN: "DOWN", Health.UNKNOWN: "unknown"}[rs.health]


def _weight(rs: RealServerView) -> str:
    # "0/10": the dataplane weight differs from the configured one (down, drained, override).
    mark = "*" if rs.weight_override is not None else ""
    if rs.weight == rs.weight_config:
        return f"{rs.weight}{mark}"
    return f"{rs.weight}/{rs.weight_config}{mark}"


def service_flags(sv: ServiceView) -> str:
    parts = list(sv.flags)
    if sv.persistence_timeout:
        parts.insert(0, f"persistent {sv.persistence_timeout}")
    return " ".join(parts)


def service_cells(sv: ServiceView, now: float) -> tuple[str, ...]:
    del now  # services have no age of their own; kept for a uniform signature
    active = sum(rs.active_conns for rs in sv.real_servers if not rs.is_sorry)
    inact = sum(rs.inact_conns for rs in sv.real_servers if not rs.is_sorry)
    if sv.sorry_active:
        status = "SORRY"
    elif not sv.quorum_up:
        status = "NO QUORUM"
    else:
        status = "ok"
    label = f"{sv.key}" + (f" {sv.name}" if sv.name else "")
    return fit(
        (
            label,
            f"{sv.scheduler} {service_flags(sv)}".strip(),
            fwd_name(sv.lb_kind),
            str(sv.live_weight),
            str(active),
            str(inact),
            status,
            str(sv.stats.cps),
            "",  # a service has no check of its own: its servers' rows have them
            "",
            sparkline(sv.history),
        )
    )


def real_cells(rs: RealServerView, now: float, spark_top: int | None = None) -> tuple[str, ...]:
    """A real server's row; `spark_top`: its service's peak (`spark_peak`), the sparkline's
    scale (None: its own)."""
    chk = last_check(rs.checks)
    status = real_status(rs)
    if rs.drain is DrainState.DRAINING:
        status = f"drain {rs.active_conns}"
    prefix = "  ~> " if rs.is_sorry else "  -> "
    return fit(
        (
            f"{prefix}{rs.key}"
            + (f" {rs.name}" if rs.name else "")
            + (" +" if rs.runtime_added else ""),
            "",
            fwd_name(rs.fwd),
            _weight(rs),
            str(rs.active_conns),
            str(rs.inact_conns),
            status,
            str(rs.stats.cps),
            check_summary(chk) if rs.checks else "no check",
            age(chk.last_run if chk else None, now),
            sparkline(rs.history, top=spark_top),
        )
    )


def drain_line(rs: RealServerView, peak: int, width: int = 20) -> str:
    """The drill-down's drain progress: active connections left against the most seen since
    the drain started (`peak`), and what the operator may do next. "" when not drained.

    The bar counts active connections: a closed one lingers as an inactive entry (TIME_WAIT)
    until the dataplane expires it, so counting those too kept the bar empty until the very
    end. With no active connection left the bar is full and the line says what is awaited."""
    left = rs.active_conns + rs.inact_conns
    if rs.drain is DrainState.DRAINING:
        top = max(peak, rs.active_conns)
        done = width if top == 0 else round((top - rs.active_conns) * width / top)
        bar = "█" * done + "░" * (width - done)
        wait = "wait for safe" if rs.active_conns else "inactive entries expiring"
        return (
            f"DRAINING [{bar}] {rs.active_conns} active, {rs.inact_conns} inactive left "
            f"(weight 0): {wait}"
        )
    if rs.drain is DrainState.SAFE:
        return "SAFE: no connection left, the server can be stopped (u: undrain)"
    if rs.drain is DrainState.EXPIRED:
        return f"EXPIRED: drain timeout, {left} connection(s) cut (u: undrain)"
    return ""


def quorum_line(sv: ServiceView, width: int = 20, pad: int = 22) -> str:
    """`TCP 1.2.3.4:80 [████████░░░░] 8/6±1 up` — live weight against quorum and hysteresis."""
    total = sum(rs.weight_config for rs in sv.real_servers if not rs.is_sorry)
    scale = max(total, sv.quorum + sv.hysteresis, sv.live_weight, 1)
    filled = min(width, round(sv.live_weight * width / scale))
    mark = min(width - 1, max(0, round(sv.quorum * width / scale)))
    cells = ["█" if i < filled else "░" for i in range(width)]
    if sv.quorum > 0:
        cells[mark] = "|"
    bar = "".join(cells)
    hyst = f"±{sv.hysteresis}" if sv.hysteresis else ""
    state = "up" if sv.quorum_up else "DOWN"
    text = f"{sv.key.hostport:<{pad}} [{bar}] {sv.live_weight}/{sv.quorum}{hyst} {state}"
    if sv.sorry_active and sv.sorry_server is not None:
        text += f" sorry→{sv.sorry_server}"
    return text


def _t(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def event_line(ev: Event) -> tuple[str, str]:
    """(level, text) for the event log. Level is "info", "warning" or "error"."""
    if isinstance(ev, HealthChanged):
        level = "error" if ev.health is Health.DOWN else "info"
        why = f" ({ev.reason})" if ev.reason else ""
        return level, f"{_t(ev.time)} health {ev.service} {ev.real} → {ev.health.value}{why}"
    if isinstance(ev, VrrpChanged):
        why = f" ({ev.reason})" if ev.reason else ""
        level = "warning" if ev.new in (VrrpRunState.FAULT, VrrpRunState.STOP) else "info"
        return level, f"{_t(ev.time)} vrrp {ev.instance} {ev.old.value} → {ev.new.value}{why}"
    if isinstance(ev, QuorumChanged):
        state = "up" if ev.up else "LOST"
        sorry = ", sorry server active" if ev.sorry_active else ""
        return (
            "info" if ev.up else "error",
            f"{_t(ev.time)} quorum {ev.service} {state} ({ev.live_weight}/{ev.quorum}{sorry})",
        )
    if isinstance(ev, OperatorAction):
        res = "ok" if ev.ok else "FAILED"
        msg = f": {ev.message}" if ev.message else ""
        return "info" if ev.ok else "error", f"{_t(ev.time)} {ev.who}: {ev.action} {res}{msg}"
    if isinstance(ev, DrainProgress):
        if ev.state is DrainState.SAFE:
            tail = "safe: no connection left, maintenance can start"
        elif ev.state is DrainState.EXPIRED:
            tail = "drain timeout: remaining connections expired"
        elif ev.state is DrainState.NONE:
            tail = "undrained"
        else:
            tail = f"draining ({ev.active_conns} active, {ev.inact_conns} inactive)"
        # connections were cut: worth a look, not only a line
        level = "warning" if ev.state is DrainState.EXPIRED else "info"
        return level, f"{_t(ev.time)} drain {ev.service} {ev.real} {tail}"
    if isinstance(ev, NotifyResult):
        res = "ok" if ev.ok else "FAILED"
        det = f": {ev.detail}" if ev.detail else ""
        return "info" if ev.ok else "warning", f"{_t(ev.time)} notify {ev.what} {res}{det}"
    if isinstance(ev, ConfigReloaded):
        res = "reloaded" if ev.ok else "reload FAILED"
        by = f" by {ev.who}" if ev.who else ""
        summ = f": {ev.summary}" if ev.summary else ""
        return "info" if ev.ok else "error", f"{_t(ev.time)} config {res}{by}{summ}"
    if isinstance(ev, LogEvent):
        return ev.level, f"{_t(ev.time)} {ev.message}"
    raise TypeError(f"not an event: {ev!r}")  # pragma: no cover - the union is closed


def config_text(sv: ServiceView, rs: RealServerView | None) -> str:
    """The drill-down's configuration block of a service (and one of its servers)."""
    lines = [
        f"service   {sv.key}" + (f"  ({sv.name})" if sv.name else ""),
        f"scheduler {sv.scheduler}   forward {fwd_name(sv.lb_kind)}   "
        f"flags {service_flags(sv) or '-'}",
        f"quorum    {sv.quorum} (hysteresis {sv.hysteresis}), live weight {sv.live_weight}, "
        f"{'up' if sv.quorum_up else 'DOWN'}"
        + (f", sorry server {sv.sorry_server}" if sv.sorry_server else "")
        + (" ACTIVE" if sv.sorry_active else ""),
        f"traffic   {sv.stats.conns} conns total, {sv.stats.cps} conn/s, "
        f"{sv.stats.inbps} B/s in, {sv.stats.outbps} B/s out",
    ]
    if rs is not None:
        override = (
            f", operator override {rs.weight_override}" if rs.weight_override is not None else ""
        )
        lines += [
            f"server    {rs.key}"
            + (f"  ({rs.name})" if rs.name else "")
            + f"   forward {fwd_name(rs.fwd)}   "
            f"{'added at run time' if rs.runtime_added else 'from config'}",
            f"weight    {rs.weight} now, {rs.weight_config} configured{override}",
            f"state     {real_status(rs)}; {rs.active_conns} active, {rs.inact_conns} "
            f"inactive, {rs.persist_conns} persistent",
            f"traffic   {rs.stats.conns} conns total, {rs.stats.cps} conn/s, "
            f"{rs.stats.inbps} B/s in, {rs.stats.outbps} B/s out",
        ]
    return "\n".join(lines)
