"""The console's director drain (docs/bgp.md "Director drain"): one key that drains this
director out of the routers' ECMP set, or undrains it, after a confirmation that says what
will happen; and the drain's phase as the BGP pane shows it.

Pure functions of the snapshot (`phase_line`, `drain_dialog`) and one small driver
(`ask_director_drain`) that the main screen's action calls. The command goes to this
director's own socket only: the drain belongs to the process that announces, so it is never
forwarded to the group (the group channel refuses it too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from textual.screen import Screen

from lvstui.model import AnnounceView, Command, DrainDirector, Snapshot, UndrainDirector
from lvstui.ui.dialogs import ConfirmDialog

__all__ = [
    "NO_BGP",
    "DrainDialog",
    "PaneLine",
    "ask_director_drain",
    "drain_dialog",
    "offered_key",
    "phase_lines",
]

NO_BGP = (
    "director drain: this director announces no VIP over BGP — the drain takes bgp VIPs "
    "out of the routers' ECMP set (docs/bgp.md); VRRP VIPs move with the VRRP priority"
)


@dataclass(frozen=True, slots=True)
class PaneLine:
    """One line of the BGP pane and its Rich style ("" = the pane's own)."""

    text: str
    style: str = ""


def _detail(view: AnnounceView) -> str:
    """The daemon's detail without its leading phase word ("draining: no new …" → "no new …")."""
    head, sep, rest = view.director_detail.partition(": ")
    return rest if sep and head == view.director else view.director_detail


def phase_lines(view: AnnounceView, key: str = "") -> list[PaneLine]:
    """`director: normal`, or `director: DRAINING` / `director: SAFE` and, below it, how
    far (`no new connection for 3.2 s of 10 s`): two short lines fit the narrow pane.
    `key` (shown as "D: drain") where the console offers the key."""
    phase = view.director
    if phase == "normal":
        return [PaneLine("director: normal" + (f" ({key}: drain)" if key else ""))]
    style = "bold green" if phase == "safe" else "bold yellow"
    lines = [PaneLine(f"director: {phase.upper()}" + (f" ({key}: undrain)" if key else ""), style)]
    detail = _detail(view)
    return [*lines, PaneLine(detail, style)] if detail else lines


def _flows(dataplane: str) -> str:
    """What becomes of established connections, per dataplane (docs/bgp.md says why)."""
    if dataplane == "userspace":
        return (
            "Established connections: the userspace forwarder ends TCP on this director, so "
            "no other director can carry them. A plain ECMP router moves them elsewhere as "
            "soon as the drain begins, where they are reset; requests already answered are "
            "not affected, long-lived flows that keep sending break."
        )
    if dataplane == "ipvs":
        return (
            "Established connections: with mh/sh, the same table on every director (the "
            "pane's table line) and sloppy_tcp, the router moves them to another director "
            "that sends them to the same real server: they carry on."
        )
    return (
        "Established connections: on IPVS with mh/sh and sloppy_tcp they carry on through "
        "another director; on the userspace forwarder those the router moves are reset."
    )


@dataclass(frozen=True, slots=True)
class DrainDialog:
    title: str
    body: str
    confirm: str
    command: Command


def drain_dialog(snap: Snapshot) -> DrainDialog | str:
    """The confirmation for the key in the director's current phase, or why it is refused."""
    view = snap.announce
    if view is None:
        return NO_BGP
    who = f" ({snap.group.name})" if snap.group is not None else ""
    if view.director != "normal":
        return DrainDialog(
            f"Undrain this director{who}?",
            "Every bgp VIP is announced normally again (where its services have quorum), "
            "and the routers put this director back into their ECMP set: new connections "
            "come here again.",
            "Undrain",
            UndrainDirector(),
        )
    up = sum(v.announced for v in view.vips)
    return DrainDialog(
        f"Drain this director{who} out of the routers' ECMP set?",
        f"{up} of {len(view.vips)} bgp VIPs announced. They stay announced, less preferred "
        "(route metric 65535: the routing daemon's filter adds the graceful-shutdown "
        "community 65535:0 and a longer AS path), so the routers send new connections to "
        "the other directors. Once no new connection arrived for the settle time "
        "([lvstui.announce] drain_settle, 10 s by default), every bgp VIP is withdrawn and "
        "the BGP pane says SAFE: then this director can stop.\n\n"
        f"{_flows(snap.dataplane)}\n\n"
        "Only this director drains (not the group's others). The drain is kept across "
        "restarts until the same key (or ctl undrain-director) undrains it.",
        "Drain director",
        DrainDirector(),
    )


def offered_key(keys: Mapping[str, str], read_only: bool) -> str:
    """The drain key the BGP pane names; "" on a read-only console, which may not drain."""
    return "" if read_only else keys.get("drain_director", "")


def ask_director_drain(
    screen: Screen[None], snap: Snapshot | None, choose: Callable[[Command], None]
) -> None:
    """The key's action: refuse with the reason, or confirm and hand the command to `choose`
    (read-only consoles never get here: their changing keys only say why they are refused)."""
    if snap is None:
        screen.notify("no snapshot yet", severity="warning")
        return
    dialog = drain_dialog(snap)
    if isinstance(dialog, str):
        screen.notify(dialog, severity="warning", timeout=8)
        return
    cmd = dialog.command
    screen.app.push_screen(
        ConfirmDialog(dialog.title, dialog.body, dialog.confirm),
        lambda ok: choose(cmd) if ok else None,
    )
