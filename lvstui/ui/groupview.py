"""The director group as the console shows it: pure functions of the snapshot's `group`.

- `directors(snap)`: one `DirectorRow` per director, this one first (the group screen);
- `group_header(snap)`: the group's state in a few words, for the header;
- `group_strip(snap)`: one line naming every director, for the main screen;
- `action_scope(snap)`: who an operator action reaches (the confirmations say it).

Without a group (`snap.group is None`) every function returns nothing, so a console on a
director that is in no group looks exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from lvstui.model import GroupPeerView, GroupView, Snapshot
from lvstui.ui.render import age

__all__ = [
    "DirectorRow",
    "Scope",
    "action_scope",
    "directors",
    "group_header",
    "group_strip",
]


@dataclass(frozen=True, slots=True)
class DirectorRow:
    name: str
    address: str  # "" for this director (the console's)
    here: bool
    link: str  # "here", "up", "syncing", "UNREACHABLE"
    since: str  # how long the link has been in that state ("-": never seen)
    config: str  # "-" here, "same", "DIFFERENT", "not heard"
    differing: tuple[str, ...]
    table: str  # "-" here, "same", "different", "not heard"
    roles: tuple[str, ...]  # "VI_1 MASTER 150", one per VRRP instance
    pending: int  # this director's changes the peer has not received yet
    pending_changes: tuple[str, ...]

    @property
    def problem(self) -> bool:
        """Something an operator should look at: shown in the error colour."""
        return self.link == "UNREACHABLE" or self.config == "DIFFERENT" or self.pending > 0


def _peer_name(p: GroupPeerView) -> str:
    return p.name or f"? {p.address}"


def _role(text: str) -> str:
    """`VI_1 57 MASTER 150` (instance, VRID, state, priority) as `VI_1 MASTER 150`."""
    parts = text.split()
    return " ".join([parts[0], *parts[2:]]) if len(parts) == 4 else text


def _same(value: bool | None) -> str:
    return "not heard" if value is None else "same" if value else "DIFFERENT"


def directors(snap: Snapshot) -> list[DirectorRow]:
    g = snap.group
    if g is None:
        return []
    rows = [
        DirectorRow(
            g.name,
            "",
            True,
            "here",
            "-",
            "-",
            (),
            "-",
            tuple(f"{v.name} {v.state.value} {v.priority}" for v in snap.vrrp),
            0,
            (),
        )
    ]
    for p in g.peers:
        link = "UNREACHABLE" if not p.reachable else "up" if p.synced else "syncing"
        table = _same(p.table_same)
        rows.append(
            DirectorRow(
                _peer_name(p),
                p.address,
                False,
                link,
                age(p.since, snap.time),
                _same(p.config_same),
                p.differing,
                "different" if table == "DIFFERENT" else table,
                tuple(_role(r) for r in p.vrrp),
                p.pending,
                p.pending_changes,
            )
        )
    return rows


def group_header(snap: Snapshot) -> str:
    """`group 2/2 up`, `group 1/3 up · 2 pending`, `SPLIT BRAIN` … ("" without a group).
    Counts this director: `2/2` is both directors of a pair."""
    g = snap.group
    if g is None:
        return ""
    if g.split_brain:
        return "group: SPLIT BRAIN"
    up = 1 + sum(p.reachable for p in g.peers)
    words = [f"group {up}/{1 + len(g.peers)} up"]
    pending = sum(p.pending for p in g.peers)
    if pending:
        words.append(f"{pending} pending")
    if any(p.config_same is False for p in g.peers):
        words.append("config differs")
    return " · ".join(words)


def group_strip(snap: Snapshot) -> str:
    """`Directors: lb1 (here) · lb2 up 5m · lb3 UNREACHABLE 2m, 1 pending  (p: details)`."""
    rows = directors(snap)
    if not rows:
        return ""
    parts = []
    for r in rows:
        if r.here:
            parts.append(f"{r.name} (here)")
            continue
        text = f"{r.name} {r.link} {r.since}"
        if r.config == "DIFFERENT":
            text += ", config DIFFERENT"
        if r.pending:
            text += f", {r.pending} pending"
        parts.append(text)
    return "Directors: " + " · ".join(parts)


@dataclass(frozen=True, slots=True)
class Scope:
    """Who an operator action reaches. `names` is empty without a group."""

    here: str = ""
    reachable: tuple[str, ...] = ()
    unreachable: tuple[str, ...] = ()

    def title(self) -> str:
        """` on lb1, lb2` for a dialog's title: every director of the group, the
        unreachable ones too (it reaches them later). "" without a group."""
        if not self.here:
            return ""
        return " on " + ", ".join((self.here, *self.reachable, *self.unreachable))

    def note(self) -> str:
        """What happens where the action cannot arrive now ("" when it arrives everywhere)."""
        if not self.unreachable:
            return ""
        who = ", ".join(self.unreachable)
        verb = "is" if len(self.unreachable) == 1 else "are"
        return (
            f"{who} {verb} unreachable: it applies here now and is delivered when the "
            "link comes back (shown as pending until then)."
        )


def action_scope(view: GroupView | None) -> Scope:
    if view is None:
        return Scope()
    return Scope(
        view.name,
        tuple(_peer_name(p) for p in view.peers if p.reachable),
        tuple(_peer_name(p) for p in view.peers if not p.reachable),
    )
