"""The announcement device follows the configuration (a reload adds the first bgp VIP or
removes the last) and is handed over on a seamless restart instead of being withdrawn:
against the driver twin, and the handover's descriptor map with a real descriptor."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from lvstui import handover
from lvstui.announce.follow import follow
from lvstui.announce.lifecycle import MemoryDriver, OnDemand
from lvstui.config.diff import restart_settings_changed
from lvstui.config.load import load_config_text
from lvstui.config.schema import Config
from lvstui.model import Snapshot
from tests.announce.test_follow import service

VIP, VIP2 = "198.51.100.1", "198.51.100.2"


async def until(cond: Callable[[], bool]) -> None:
    for _ in range(300):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_a_reload_opens_the_device_for_the_first_bgp_vip_and_closes_it_after_the_last() -> None:
    snap = Snapshot(seq=1, time=0.0, services=(service(VIP, 80), service(VIP2, 80)))
    bgp: list[str] = []  # the bgp VIPs as the config says now: a reload changes it
    driver = MemoryDriver()
    ann = OnDemand(driver)

    async def run() -> None:
        task = asyncio.create_task(
            follow(lambda: snap, ann, lambda: list(bgp), interval=0.01, switch=ann.want)
        )
        await asyncio.sleep(0.05)
        assert driver.opened == 0 and not ann.running  # no bgp VIP: no device
        bgp.append(VIP)  # a reload switched VIP to announce = "bgp"
        await until(lambda: driver.announced() == {VIP})
        assert driver.opened == 1
        bgp.append(VIP2)  # a new bgp virtual_server
        await until(lambda: driver.announced() == {VIP, VIP2})
        bgp.remove(VIP)  # back to vrrp: withdrawn, the device stays for VIP2
        await until(lambda: driver.announced() == {VIP2})
        assert ann.running
        bgp.clear()  # none left: withdrawn and the device closed
        await until(lambda: not ann.running)
        bgp.append(VIP)
        await until(lambda: driver.announced() == {VIP})
        assert driver.opened == 2
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    assert driver.log == [
        ("start", ""),
        ("announce", VIP),
        ("announce", VIP2),
        ("withdraw", VIP),
        ("withdraw", VIP2),
        ("close", ""),
        ("start", ""),
        ("announce", VIP),
        ("withdraw", VIP),  # the loop's end withdraws
    ]


def test_a_detached_announcer_leaves_its_routes_to_the_new_program() -> None:
    snap = Snapshot(seq=1, time=0.0, services=(service(VIP, 80),))
    old = OnDemand(MemoryDriver())

    async def run() -> None:
        task = asyncio.create_task(
            follow(lambda: snap, old, lambda: [VIP], interval=0.01, switch=old.want)
        )
        await until(lambda: old.announced() == {VIP})
        fd = old.fileno()
        assert fd is not None
        old.detach()  # the new program is ready and holds the device
        task.cancel()  # our stop: the loop's end and the close withdraw nothing now
        await asyncio.gather(task, return_exceptions=True)
        old.close()
        new_driver = MemoryDriver()
        new_driver.adopt(fd)
        new = OnDemand(new_driver)
        new.want(True)
        assert new.fileno() == fd  # the same device, not a new one

    asyncio.run(run())
    assert isinstance(old.driver, MemoryDriver)
    assert ("withdraw", VIP) not in old.driver.log
    assert old.driver.announced() == {VIP}  # the routes stay in the table
    assert old.fileno() is None


def test_the_tun_descriptor_travels_by_name_and_is_closed_when_not_taken() -> None:
    r, w = os.pipe()  # any descriptor that is not a socket, like the tun device's
    r2, w2 = os.pipe()
    try:
        env = {handover.FDS_ENV: f"{handover.tun_name('bgptun0')}={r};tun:old0={r2}"}
        got = handover.Inherited(env)
        assert got.sockets == {}
        assert got.take_fd(handover.tun_name("bgptun0")) == r
        assert got.take_fd(handover.tun_name("other")) is None
        assert got.close_unused() == ["tun:old0"]  # a device the new config does not use
        try:
            os.fstat(r2)
            raise AssertionError("the unused descriptor is still open")
        except OSError:
            pass
        os.fstat(r)  # the taken one is the taker's
    finally:
        for fd in (r, w, w2):
            os.close(fd)


def test_a_reload_of_the_announce_settings_needs_no_restart() -> None:
    def cfg(text: str) -> Config:
        return load_config_text(f"[lvstui.announce]\n{text}")

    old = cfg('mode = "vrrp"')
    assert restart_settings_changed(old, cfg('mode = "bgp"')) == []  # the mode follows a reload
    new = cfg('mode = "bgp"\ntable = 246\nprotocol = 99\ndevice = "bgptun1"\ndaemon = "frr"')
    assert restart_settings_changed(old, new) == []  # so does the rest (retarget, peers)
    frr = cfg('mode = "vrrp"\ndaemon = "frr"')  # brings the address handoff: retarget too
    assert restart_settings_changed(old, frr) == []


def test_retarget_moves_the_announcements_to_the_new_driver() -> None:
    old, new = MemoryDriver("bgptun0"), MemoryDriver("bgptun1")
    a = OnDemand(old)
    a.want(True)
    a.announce("198.51.100.1")
    a.retarget(new)
    assert old.log == [("start", ""), ("announce", "198.51.100.1"), ("withdraw", "198.51.100.1"),
                       ("close", "")]  # fmt: skip
    assert old.fd is None and a.running and new.opened == 1 and a.announced() == frozenset()
    a.announce("198.51.100.1")  # the loop's next apply
    assert new.announced() == {"198.51.100.1"} and a.driver.device == "bgptun1"
    idle = OnDemand(MemoryDriver())
    idle.retarget(MemoryDriver())  # closed stays closed
    assert not idle.running and idle.fileno() is None
