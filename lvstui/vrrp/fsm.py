"""The VRRP state machine (RFC 5798 §6.4, with keepalived's behaviour where it differs).

Pure: `step(params, state, event, now) -> (state, actions)`. Timers are deadlines kept in
the state (`next_deadline` tells the driver when to call back with `Timer()`); the driver
executes the actions in order and never decides anything itself.

    INIT ──startup──► BACKUP ──master down timer──► MASTER
      │  (prio 255) ─────────────────────────────────►│
      │               ◄── higher prio / equal prio and higher address ──┘
    any ──fault──► FAULT ──fault cleared──► BACKUP          any ──shutdown──► STOP

Receive rules (drops are counted by reason, see `packet.REASONS`): TTL/hop limit 255,
version, VRID, v2 auth type and password, the VIP list, and the v2 advert interval.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from lvstui.model import VrrpRunState
from lvstui.vrrp.packet import Advert, AuthType

__all__ = [
    "Action",
    "AddVips",
    "AdvertIn",
    "Drop",
    "Event",
    "FaultChanged",
    "ForceState",
    "FsmParams",
    "FsmState",
    "Log",
    "Notify",
    "PriorityChanged",
    "Reconfigure",
    "RemoveVips",
    "SendAdvert",
    "SendGarp",
    "Shutdown",
    "SplitBrain",
    "Startup",
    "SyncVips",
    "Timer",
    "initial",
    "master_down_interval",
    "next_deadline",
    "skew_time",
    "step",
]

PRIO_OWNER = 255
PRIO_STOP = 0

S = VrrpRunState


@dataclass(frozen=True, slots=True)
class FsmParams:
    """What the machine needs from a vrrp_instance (plus our own address for tie breaks)."""

    vrid: int
    version: int
    advert_int: float
    vips: tuple[str, ...]  # the addresses carried in our adverts (first 20)
    primary_addr: str  # our source address: ties go to the higher one
    want_master: bool = False  # `state MASTER` in the config
    preempt: bool = True
    preempt_delay: float = 0.0
    auth_type: AuthType = AuthType.NONE
    auth_pass: bytes = b""  # NUL-padded to 8 (what is on the wire)
    garp_delay: float = 5.0  # garp_master_delay: second batch after this (0 = none)
    garp_refresh: float = 0.0  # garp_master_refresh: periodic batches (0 = none)
    check_addrs: bool = True  # drop adverts whose VIP list differs from ours
    skip_same_master: bool = False  # skip_check_adv_addr: no check of the followed master's


@dataclass(frozen=True, slots=True)
class FsmState:
    state: VrrpRunState = S.INIT
    priority: int = 100  # effective priority (base + track weights)
    master_adver_int: float = 1.0  # v3: learned from the master's adverts
    master_addr: str | None = None
    down_at: float | None = None  # master-down timer (BACKUP)
    advert_at: float | None = None  # advert timer (MASTER)
    garp_at: float | None = None  # second GARP batch / refresh (MASTER)
    garp_refreshing: bool = False  # the delayed batch went out: later ones are refreshes
    preempt_after: float = 0.0  # preempt_delay: no preemption before this time
    faulted: bool = False
    reason: str = ""
    vips_warned: bool = False  # the followed master's VIP list differs: logged once


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Startup:
    fault: str = ""  # why the instance starts faulty (for the reason shown), if it does
    # faulty only for scripts without a result yet: keepalived's silent "init" FAULT
    quiet: bool = False


@dataclass(frozen=True, slots=True)
class AdvertIn:
    advert: Advert
    src: str
    ttl: int | None  # None: unknown (in-memory transport); else must be 255


@dataclass(frozen=True, slots=True)
class Timer:
    pass


@dataclass(frozen=True, slots=True)
class Shutdown:
    graceful: bool = True


@dataclass(frozen=True, slots=True)
class FaultChanged:
    """Some fault source (link down, track script, sync group) says the node is (not) faulty.
    The driver combines its sources; the machine only sees the overall flag."""

    faulted: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PriorityChanged:
    priority: int


@dataclass(frozen=True, slots=True)
class ForceState:
    """A sync group member moved: follow it (MASTER or BACKUP)."""

    target: VrrpRunState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Reconfigure:
    """The instance's configuration was reloaded in place: `step` gets the new params.

    `old`: the params it ran with; `priority`: the new effective priority;
    `vips_changed`: the address lists (any field, excluded ones too) differ.
    """

    old: FsmParams
    priority: int
    vips_changed: bool = False


Event = (
    Startup
    | AdvertIn
    | Timer
    | Shutdown
    | FaultChanged
    | PriorityChanged
    | ForceState
    | Reconfigure
)


# --- actions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendAdvert:
    priority: int


@dataclass(frozen=True, slots=True)
class AddVips:
    pass


@dataclass(frozen=True, slots=True)
class RemoveVips:
    pass


@dataclass(frozen=True, slots=True)
class SyncVips:
    """MASTER after a reload changed the addresses: add the new ones, remove the dropped
    ones, announce the added ones (the driver knows both lists)."""


@dataclass(frozen=True, slots=True)
class SendGarp:
    """One batch of gratuitous ARPs / unsolicited NAs (the driver sends `repeat` of each)."""

    refresh: bool = False


@dataclass(frozen=True, slots=True)
class Notify:
    old: VrrpRunState
    new: VrrpRunState
    reason: str
    quiet: bool = False  # logged and shown, but no notify script or FIFO line (keepalived)


@dataclass(frozen=True, slots=True)
class Drop:
    reason: str  # a packet.REASONS token
    detail: str = ""
    log: bool = True


@dataclass(frozen=True, slots=True)
class Log:
    level: str
    message: str


@dataclass(frozen=True, slots=True)
class SplitBrain:
    peer: str
    priority: int


Action = SendAdvert | AddVips | RemoveVips | SyncVips | SendGarp | Notify | Drop | Log | SplitBrain


# --- timing ---------------------------------------------------------------------------------


def skew_time(version: int, priority: int, master_adver_int: float) -> float:
    if version == 2:
        return (256 - priority) / 256
    # RFC 5798 counts in centiseconds; keepalived truncates the skew to whole centiseconds
    # (prio 100 at 0.1 s: 0.06 s, not 0.0609): so do we, for identical timing.
    return ((256 - priority) * round(master_adver_int * 100) // 256) / 100


def master_down_interval(version: int, priority: int, master_adver_int: float) -> float:
    return 3 * master_adver_int + skew_time(version, priority, master_adver_int)


def next_deadline(st: FsmState) -> float | None:
    times = [t for t in (st.down_at, st.advert_at, st.garp_at) if t is not None]
    return min(times) if times else None


def initial(params: FsmParams, priority: int) -> FsmState:
    return FsmState(priority=priority, master_adver_int=params.advert_int)


# --- transitions ------------------------------------------------------------------------------


def _addr_key(addr: str) -> tuple[int, int]:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return (0, 0)
    return (ip.version, int(ip))


def _to_backup(
    p: FsmParams, st: FsmState, now: float, reason: str, master_int: float | None = None
) -> tuple[FsmState, list[Action]]:
    acts: list[Action] = []
    if st.state == S.MASTER:
        acts.append(RemoveVips())
    mi = master_int if master_int is not None else st.master_adver_int
    new = replace(
        st,
        state=S.BACKUP,
        master_adver_int=mi,
        down_at=now + master_down_interval(p.version, st.priority, mi),
        advert_at=None,
        garp_at=None,
        reason=reason,
    )
    if st.state != S.BACKUP:
        acts.append(Notify(st.state, S.BACKUP, reason))
    return new, acts


def _to_master(
    p: FsmParams, st: FsmState, now: float, reason: str
) -> tuple[FsmState, list[Action]]:
    new = replace(
        st,
        state=S.MASTER,
        master_addr=None,
        master_adver_int=p.advert_int,
        down_at=None,
        advert_at=now + p.advert_int,
        garp_at=(now + p.garp_delay) if p.garp_delay > 0 else _refresh_at(p, now),
        garp_refreshing=p.garp_delay <= 0,
        reason=reason,
    )
    # VIPs and GARPs first: the clients' traffic is what a takeover is for, and the
    # advert that follows a millisecond later changes nothing for the backups.
    acts: list[Action] = [
        AddVips(),
        SendGarp(),
        SendAdvert(st.priority),
        Notify(st.state, S.MASTER, reason),
    ]
    return new, acts


def _refresh_at(p: FsmParams, now: float) -> float | None:
    return now + p.garp_refresh if p.garp_refresh > 0 else None


def _leave(p: FsmParams, st: FsmState, target: VrrpRunState, reason: str) -> list[Action]:
    """Leaving MASTER for FAULT or STOP: tell the backups at once (priority 0)."""
    acts: list[Action] = []
    if st.state == S.MASTER:
        acts += [SendAdvert(PRIO_STOP), RemoveVips()]
    if st.state != target:
        acts.append(Notify(st.state, target, reason))
    return acts


def _check(p: FsmParams, st: FsmState, ev: AdvertIn) -> Drop | None:
    a = ev.advert
    if ev.ttl is not None and ev.ttl != 255:
        return Drop("ttl", f"TTL/hop limit {ev.ttl} from {ev.src}")
    if a.vrid != p.vrid:
        return Drop("vrid_mismatch", f"VRID {a.vrid} from {ev.src}", log=False)
    if ev.src == p.primary_addr:
        return Drop("own_advert", "", log=False)
    if a.version != p.version:
        return Drop("version_mismatch", f"VRRPv{a.version} from {ev.src}, we run v{p.version}")
    if a.version == 2:
        if a.auth_type != p.auth_type:
            return Drop(
                "auth_type_mismatch",
                f"auth type {int(a.auth_type)} from {ev.src}, want {int(p.auth_type)}",
            )
        if p.auth_type == AuthType.PASS and a.auth_data != p.auth_pass:
            return Drop("bad_auth", f"wrong password from {ev.src}")
        if abs(a.advert_int - p.advert_int) > 1e-6:
            return Drop(
                "interval_mismatch",
                f"advert_int {a.advert_int:g} from {ev.src}, ours {p.advert_int:g}",
            )
    # a priority-0 advert still has to match; keepalived checks the list in every advert.
    # Except from the master a BACKUP already follows: while two directors are reloaded one
    # after the other their lists differ for a moment, and dropping the master's adverts
    # would make the backup take over for nothing (see `_advert`: logged once).
    following = st.state == S.BACKUP and ev.src == st.master_addr
    if p.check_addrs and a.priority != PRIO_STOP and set(a.addrs) != set(p.vips) and not following:
        return Drop("addr_mismatch", f"VIP list {sorted(a.addrs)} from {ev.src} differs from ours")
    return None


def step(p: FsmParams, st: FsmState, ev: Event, now: float) -> tuple[FsmState, list[Action]]:
    """Advance the machine by one event. Never raises for any event in any state."""
    if st.state == S.STOP:
        return st, []
    if isinstance(ev, Shutdown):
        acts: list[Action]
        if ev.graceful:
            acts = _leave(p, st, S.STOP, "shutdown")
        elif st.state == S.MASTER:
            acts = [RemoveVips(), Notify(st.state, S.STOP, "shutdown")]
        else:
            acts = [Notify(st.state, S.STOP, "shutdown")]
        return (
            replace(
                st, state=S.STOP, down_at=None, advert_at=None, garp_at=None, reason="shutdown"
            ),
            acts,
        )
    if isinstance(ev, Startup):
        if st.state != S.INIT:
            return st, []
        st = replace(st, preempt_after=now + p.preempt_delay)
        if st.faulted:
            why = f"fault at startup: {ev.fault}" if ev.fault else "fault at startup"
            notify = Notify(S.INIT, S.FAULT, why, ev.quiet)
            return replace(st, state=S.FAULT, reason=why), [notify]
        if st.priority == PRIO_OWNER:
            return _to_master(p, st, now, "address owner (priority 255)")
        if p.want_master:
            # keepalived: `state MASTER` still listens first, but only for one advert
            # interval plus skew, so a live master (or a higher priority) keeps its role.
            new, acts = _to_backup(p, st, now, "startup")
            return replace(
                new, down_at=now + p.advert_int + skew_time(p.version, st.priority, p.advert_int)
            ), acts
        return _to_backup(p, st, now, "startup")
    if isinstance(ev, FaultChanged):
        if ev.faulted == st.faulted:
            return st, []
        if ev.faulted:
            if st.state == S.INIT:
                return replace(st, faulted=True), []
            acts = _leave(p, st, S.FAULT, ev.reason)
            return replace(
                st,
                state=S.FAULT,
                faulted=True,
                down_at=None,
                advert_at=None,
                garp_at=None,
                master_addr=None,
                reason=ev.reason,
            ), acts
        st = replace(st, faulted=False)
        if st.state != S.FAULT:
            return st, []
        st = replace(st, preempt_after=now + p.preempt_delay)
        if st.priority == PRIO_OWNER:
            return _to_master(p, st, now, ev.reason or "fault cleared")
        return _to_backup(p, st, now, ev.reason or "fault cleared", p.advert_int)
    if isinstance(ev, PriorityChanged):
        st = replace(st, priority=ev.priority)
        if st.state == S.MASTER:
            # tell the backups right away (keepalived does): a higher one may now preempt
            return replace(st, advert_at=now + p.advert_int), [SendAdvert(ev.priority)]
        return st, []
    if isinstance(ev, ForceState):
        if st.faulted or st.state in (S.INIT, S.FAULT) or st.state == ev.target:
            return st, []
        if ev.target == S.MASTER:
            return _to_master(p, st, now, ev.reason or "sync group")
        if ev.target == S.BACKUP and st.state == S.MASTER:
            acts0: list[Action] = [SendAdvert(PRIO_STOP)]
            new, acts = _to_backup(p, st, now, ev.reason or "sync group")
            return new, acts0 + acts
        return st, []
    if isinstance(ev, Reconfigure):
        return _reconfigure(p, st, ev, now)
    if isinstance(ev, Timer):
        return _timer(p, st, now)
    return _advert(p, st, ev, now)


def _reconfigure(
    p: FsmParams, st: FsmState, ev: Reconfigure, now: float
) -> tuple[FsmState, list[Action]]:
    """A reload changed this instance in place (same interface, VRID, version, family).

    No state change of its own: a MASTER re-advertises at once (new priority, interval or
    VIP list) and syncs its addresses; a BACKUP restarts its master-down timer with the new
    priority and interval (so a raised priority with preempt takes over when it expires,
    as the master's lower adverts are ignored). INIT/FAULT keep the values for later.
    """
    o = ev.old
    prio_changed = ev.priority != st.priority
    st = replace(st, priority=ev.priority, vips_warned=False)
    if st.state == S.MASTER:
        acts: list[Action] = [SyncVips()] if ev.vips_changed else []
        wire = (o.advert_int, o.vips, o.auth_type, o.auth_pass) != (
            p.advert_int,
            p.vips,
            p.auth_type,
            p.auth_pass,
        )
        if prio_changed or wire:
            acts.append(SendAdvert(st.priority))
            st = replace(st, advert_at=now + p.advert_int, master_adver_int=p.advert_int)
        if o.garp_refresh != p.garp_refresh and st.garp_refreshing:
            st = replace(st, garp_at=_refresh_at(p, now))
        return st, acts
    if st.state == S.BACKUP:
        if st.priority == PRIO_OWNER:
            return _to_master(p, st, now, "reload: priority 255 (address owner)")
        if prio_changed or o.advert_int != p.advert_int:
            # v3 learns the interval from the master's adverts; v2 must match ours
            mi = st.master_adver_int if p.version == 3 and st.master_addr else p.advert_int
            st = replace(
                st,
                master_adver_int=mi,
                down_at=now + master_down_interval(p.version, st.priority, mi),
            )
        return st, []
    return st, []


def _timer(p: FsmParams, st: FsmState, now: float) -> tuple[FsmState, list[Action]]:
    acts: list[Action] = []
    if st.state == S.BACKUP and st.down_at is not None and now >= st.down_at:
        return _to_master(p, st, now, "master down timer expired")
    if st.state == S.MASTER:
        if st.advert_at is not None and now >= st.advert_at:
            acts.append(SendAdvert(st.priority))
            # no drift: the next advert is one interval after the one just due
            nxt = st.advert_at + p.advert_int
            st = replace(st, advert_at=nxt if nxt > now else now + p.advert_int)
        if st.garp_at is not None and now >= st.garp_at:
            acts.append(SendGarp(refresh=st.garp_refreshing))
            st = replace(st, garp_at=_refresh_at(p, now), garp_refreshing=True)
    return st, acts


def _advert(p: FsmParams, st: FsmState, ev: AdvertIn, now: float) -> tuple[FsmState, list[Action]]:
    drop = _check(p, st, ev)
    if drop is not None:
        return st, [drop]
    a = ev.advert
    if st.state == S.BACKUP:
        if a.priority == PRIO_STOP:
            # the master resigned: take over after the skew only
            skew = skew_time(p.version, st.priority, st.master_adver_int)
            return replace(st, down_at=now + skew, reason="master sent priority 0"), []
        preempt = p.preempt and now >= st.preempt_after
        if not preempt or a.priority >= st.priority:
            mi = a.advert_int if p.version == 3 else st.master_adver_int
            differ = p.check_addrs and not p.skip_same_master and set(a.addrs) != set(p.vips)
            warn: list[Action] = []
            if differ and not st.vips_warned:
                warn.append(
                    Log(
                        "warning",
                        f"master {ev.src} advertises VIPs {sorted(a.addrs)}, ours are "
                        f"{sorted(p.vips)} (reload the other director too); still following it",
                    )
                )
            return replace(
                st,
                master_adver_int=mi,
                master_addr=ev.src,
                down_at=now + master_down_interval(p.version, st.priority, mi),
                vips_warned=differ,
            ), warn
        # lower priority and we preempt: ignore it, our down timer will fire
        return st, []
    if st.state == S.MASTER:
        if a.priority == PRIO_STOP:
            # another router resigned while we are master: assert ourselves at once
            return replace(st, advert_at=now + p.advert_int), [SendAdvert(st.priority)]
        acts: list[Action] = []
        if a.priority == st.priority:
            acts.append(SplitBrain(ev.src, a.priority))
            acts.append(
                Log("warning", f"split brain: {ev.src} is also master with priority {a.priority}")
            )
        higher = a.priority > st.priority or (
            a.priority == st.priority and _addr_key(ev.src) > _addr_key(p.primary_addr)
        )
        if higher:
            mi = a.advert_int if p.version == 3 else p.advert_int
            new, more = _to_backup(
                p, replace(st, master_addr=ev.src), now, f"higher master {ev.src}", mi
            )
            return new, acts + more
        # a lower master: re-assert now so it steps down without waiting our next advert
        return replace(st, advert_at=now + p.advert_int), [*acts, SendAdvert(st.priority)]
    return st, []
