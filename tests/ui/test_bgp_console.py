"""The console's director drain and ECMP consistency (issue 16): the BGP pane shows the
drain's phase and whether the group's directors build the same mh/sh table; one key drains
or undrains the director after a confirmation, and is refused with the reason in read-only
mode or without bgp VIPs."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.widgets import Static

from lvstui.model import (
    AnnounceView,
    DrainDirector,
    GroupPeerView,
    GroupView,
    LbKind,
    Protocol,
    ServiceKey,
    ServiceView,
    Snapshot,
    UndrainDirector,
    VipAnnounceView,
)
from lvstui.ui.announcepane import AnnouncePanel, pane_lines
from lvstui.ui.bgpdrain import NO_BGP, DrainDialog, drain_dialog, phase_lines
from lvstui.ui.dialogs import ConfirmDialog
from lvstui.ui.ecmpline import DIFFER_STYLE, ecmp_line
from lvstui.ui.fake import FakeClient
from lvstui.ui.fakegroup import FakeGroup
from lvstui.ui.screens import MainScreen
from tests.helpers import async_wait_until
from tests.ui.conftest import running

VIP = "192.0.2.3"  # the FakeClient's service 2: TCP 192.0.2.3:80, scheduler sh
SH_SERVICE = "TCP 192.0.2.3:80"
VIEW = AnnounceView(vips=(VipAnnounceView(VIP, True, "announced"),), daemon="bird")
DRAINING = replace(
    VIEW, director="draining", director_detail="draining: no new connection for 3.2 s of 10 s"
)
SAFE = replace(
    VIEW,
    vips=(VipAnnounceView(VIP, False, "director drained"),),
    director="safe",
    director_detail="safe: drained, every bgp VIP withdrawn",
)


def _snap(
    announce: AnnounceView | None = VIEW,
    group: GroupView | None = None,
    scheduler: str = "mh",
    digest: str = "9f85315e3a842571",
    dataplane: str = "ipvs",
) -> Snapshot:
    svc = ServiceView(ServiceKey(Protocol.TCP, VIP, 80), scheduler, LbKind.DR, hash_table=digest)
    other = ServiceView(ServiceKey(Protocol.TCP, "192.0.2.99", 80), "rr", LbKind.DR)
    return Snapshot(
        1,
        0.0,
        dataplane=dataplane,
        services=(svc, other),
        announce=announce,
        group=group,
    )


def _peer(name: str, differ: tuple[str, ...] = (), heard: bool = True) -> GroupPeerView:
    return GroupPeerView(
        f"198.51.100.1:{len(name)}",
        name,
        reachable=heard,
        config_same=True if heard else None,
        hash_differ=differ,
    )


# --- the pane's lines, pure ---------------------------------------------------------------


def test_the_phase_lines_in_each_phase() -> None:
    def texts(view: AnnounceView, key: str = "D") -> list[str]:
        return [line.text for line in phase_lines(view, key)]

    assert texts(VIEW) == ["director: normal (D: drain)"]
    assert texts(VIEW, "") == ["director: normal"]  # read-only: no key offered
    assert texts(DRAINING) == [
        "director: DRAINING (D: undrain)",
        "no new connection for 3.2 s of 10 s",
    ]
    assert all("yellow" in line.style for line in phase_lines(DRAINING, "D"))
    assert texts(SAFE) == ["director: SAFE (D: undrain)", "drained, every bgp VIP withdrawn"]
    assert all("green" in line.style for line in phase_lines(SAFE, "D"))
    assert texts(replace(SAFE, director_detail="")) == ["director: SAFE (D: undrain)"]


def test_the_pane_puts_phase_and_tables_before_the_vips() -> None:
    group = GroupView("lb1", peers=(_peer("lb2"),))
    lines = [line.text for line in pane_lines(_snap(DRAINING, group), "D")]
    assert lines == [
        "director: DRAINING (D: undrain)",
        "no new connection for 3.2 s of 10 s",
        "mh tables: same on lb1, lb2",
        f"▲ {VIP} announced",
        "peers: bird says none yet",
    ]
    assert pane_lines(_snap(None)) == []


def test_tables_same_on_every_director() -> None:
    group = GroupView("lb1", peers=(_peer("lb2"), _peer("lb3")))
    line = ecmp_line(_snap(group=group))
    assert line is not None
    assert line.text == "mh tables: same on lb1, lb2, lb3" and line.style == ""


def test_tables_that_differ_name_the_director_in_red() -> None:
    group = GroupView("lb1", peers=(_peer("lb2", (SH_SERVICE,)), _peer("lb3")))
    line = ecmp_line(_snap(group=group, scheduler="sh"))
    assert line is not None
    assert line.text == f"sh tables: DIFFERENT on lb2; same on lb1, lb3 ({SH_SERVICE})"
    assert line.style == DIFFER_STYLE


def test_a_difference_outside_the_bgp_vips_and_unheard_peers() -> None:
    # lb2 differs only on a service that is not on a bgp VIP: not behind ECMP
    group = GroupView(
        "lb1", peers=(_peer("lb2", ("TCP 192.0.2.99:80",)), _peer("lb3", heard=False))
    )
    line = ecmp_line(_snap(group=group))
    assert line is not None
    assert line.text == "mh tables: same on lb1, lb2; not compared: lb3"


def test_tables_alone_or_without_a_hashing_scheduler() -> None:
    alone = ecmp_line(_snap())
    assert alone is not None and alone.text.startswith("mh tables: no other director")
    rr = ecmp_line(_snap(scheduler="rr", digest=""))
    assert rr is not None and "no mh/sh service on the bgp VIPs" in rr.text
    assert ecmp_line(_snap(None)) is None


def test_the_dialog_says_what_happens_per_dataplane() -> None:
    ipvs = drain_dialog(_snap(dataplane="ipvs", group=GroupView("lb1")))
    assert isinstance(ipvs, DrainDialog)
    assert ipvs.command == DrainDirector() and "(lb1)" in ipvs.title
    for words in ("65535:0", "less preferred", "settle time", "SAFE", "carry on"):
        assert words in ipvs.body, words
    user = drain_dialog(_snap(dataplane="userspace"))
    assert isinstance(user, DrainDialog)
    assert "ends TCP on this director" in user.body and "reset" in user.body
    undrain = drain_dialog(_snap(DRAINING))
    assert isinstance(undrain, DrainDialog) and undrain.command == UndrainDirector()
    assert drain_dialog(_snap(None)) == NO_BGP


# --- the console ---------------------------------------------------------------------------


def _pane_text(app: object) -> str:
    assert isinstance(app.screen, MainScreen)  # type: ignore[attr-defined]
    return str(app.screen.query_one(AnnouncePanel).render())  # type: ignore[attr-defined]


def _notes(app: object) -> str:
    return "\n".join(str(n.message) for n in app._notifications)  # type: ignore[attr-defined]


async def test_the_key_drains_after_confirming_and_the_pane_follows_the_phase() -> None:
    client = FakeClient(3, 2)
    client.announce = VIEW
    client.group = FakeGroup("lb1", ("lb2",), client.time)
    async with running(client) as (app, pilot):
        await app.poll_once()
        await pilot.pause()
        text = _pane_text(app)
        assert "director: normal (D: drain)" in text and "sh tables: same on lb1, lb2" in text
        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        body = str(app.screen.query_one("#dialog-body Static", Static).render())
        assert "65535:0" in body and "SAFE" in body
        await pilot.press("n")  # cancelled: nothing sent
        await pilot.pause()
        assert client.calls == []
        await pilot.press("D")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        await async_wait_until(lambda: "director draining" in _notes(app), 10)
        assert client.calls == [DrainDirector()]
        # the director's own: not said to reach the group, and not pending for its peers
        assert "director draining" in _notes(app) and "every director" not in _notes(app)
        assert client.group.peers["lb2"].pending == []
        await app.poll_once()
        await pilot.pause()
        text = _pane_text(app)
        assert "director: DRAINING (D: undrain)\nno new connection for 0.0 s of 10 s" in text
        client.announce = SAFE  # the daemon's follow loop said safe
        client.group.hash_differs("lb2", SH_SERVICE)
        await app.poll_once()
        await pilot.pause()
        text = _pane_text(app)
        assert "director: SAFE (D: undrain)\ndrained, every bgp VIP withdrawn" in text
        assert f"sh tables: DIFFERENT on lb2 ({SH_SERVICE})" in text
        content = app.main.query_one(AnnouncePanel).content
        assert isinstance(content, Text)
        red = [content.plain[s.start : s.end] for s in content.spans if s.style == DIFFER_STYLE]
        assert [r.strip() for r in red] == [f"sh tables: DIFFERENT on lb2 ({SH_SERVICE})"]
        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await pilot.pause()
        await async_wait_until(lambda: len(client.calls) == 2, 10)
        assert client.calls[-1] == UndrainDirector()
        await app.poll_once()
        await pilot.pause()
        assert "director: normal (D: drain)" in _pane_text(app)


async def test_the_key_is_refused_without_bgp_vips() -> None:
    client = FakeClient(2, 2)
    async with running(client) as (app, pilot):
        assert not app.main.query_one(AnnouncePanel).display  # nothing offers the key
        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)  # no dialog
        assert "announces no VIP over BGP" in _notes(app)
        assert client.calls == []


async def test_the_key_is_refused_read_only_and_not_offered() -> None:
    client = FakeClient(3, 2)
    client.announce = VIEW
    async with running(client, read_only=True) as (app, pilot):
        await app.poll_once()
        await pilot.pause()
        text = _pane_text(app)
        assert "director: normal" in text and "D:" not in text
        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert "read-only console: drain_director refused" in _notes(app)
        assert client.calls == []


async def test_a_remapped_key_is_the_one_the_pane_names() -> None:
    client = FakeClient(3, 2)
    client.announce = VIEW
    async with running(client, keys={"drain_director": "b"}) as (app, pilot):
        await app.poll_once()
        await pilot.pause()
        assert "director: normal (b: drain)" in _pane_text(app)
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)


async def test_a_config_that_put_drain_on_d_keeps_it_and_the_pane_offers_no_key() -> None:
    client = FakeClient(3, 2)
    client.announce = VIEW
    async with running(client, keys={"drain": "D"}) as (app, pilot):
        await app.poll_once()
        await pilot.pause()
        text = _pane_text(app)
        assert "director: normal" in text and "drain)" not in text  # its key gave way
        assert app.keys["drain_director"] == ""
