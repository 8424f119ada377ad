"""FILE_CHECK: keepalived's track_file semantics, on real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lvstui.config.schema import FileCheck, RealServer, VirtualServer
from lvstui.health.base import LOCAL_POLL
from lvstui.health.build import build_checker
from lvstui.health.file import WEIGHT_FAULT, file_status, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"42\n", 42),
        (b"  -7 apples", -7),
        (b"0x1f", 31),
        (b"010", 8),  # strtol base 0: octal
        (b"", 0),
        (b"none", 0),
        (b"+3", 3),
        (b"99999999999", None),  # out of range: ignored
    ],
)
def test_parse_like_strtol(text: bytes, value: int | None) -> None:
    assert parse_number(text) == value


def test_status_rules() -> None:
    assert file_status(0, 0, False) == 0  # weight 0: 0 is up
    assert file_status(5, 0, False) is None  # ... anything else down
    assert file_status(0, 0, True) is None  # reverse swaps them
    assert file_status(5, 0, True) == 0
    assert file_status(3, 10, False) == 30
    assert file_status(3, 10, True) == -30
    assert file_status(WEIGHT_FAULT, 1, False) is None  # at -2^31: fault


def _checker(path: Path, weight: int = 1, reverse: bool = False, real_weight: int = 10):  # type: ignore[no-untyped-def]
    check = FileCheck(track_file="agent", file=str(path), weight=weight, reverse=reverse)
    c = build_checker(
        check, RealServer("192.0.2.5", 80, weight=real_weight), VirtualServer("192.0.2.1", 80)
    )
    assert c.spec.period == LOCAL_POLL  # polled every second unless delay_loop is set
    return c


async def test_value_times_weight_is_added_to_the_real_servers_weight(tmp_path: Path) -> None:
    f = tmp_path / "load"
    c = _checker(f, weight=2)
    r = await c.run()
    assert r.ok and r.weight == 10  # missing file: 0
    f.write_text("3\n")
    r = await c.run()
    assert r.ok and r.weight == 16 and "agent = 3" in r.reason
    f.write_text("-8\n")
    os.utime(f, ns=(1, 1))  # same size as before would not hide the change: mtime differs
    r = await c.run()
    assert r.ok and r.weight == 0  # 10 - 16, never below 0
    f.write_text("99999999999")  # out of range
    r2 = await c.run()
    assert r2.ok and r2.weight == 0  # a bad number leaves the previous value


async def test_weight_zero_is_an_up_down_switch(tmp_path: Path) -> None:
    f = tmp_path / "maint"
    f.write_text("0")
    c = _checker(f, weight=0)
    r = await c.run()
    assert r.ok and r.weight is None  # the configured weight stands
    f.write_text("1")
    r = await c.run()
    assert not r.ok and "fault" in r.reason
    f.unlink()  # a file that vanished reads as 0
    assert (await c.run()).ok


async def test_huge_negative_product_is_down(tmp_path: Path) -> None:
    f = tmp_path / "v"
    f.write_text("-2147483648")
    r = await _checker(f, weight=1).run()
    assert not r.ok


async def test_init_file_writes_once_and_overwrite_replaces(tmp_path: Path) -> None:
    f = tmp_path / "init"
    check = FileCheck(track_file="t", file=str(f), weight=1, init_file=4)
    rs, vs = RealServer("192.0.2.5", 80, weight=10), VirtualServer("192.0.2.1", 80)
    r = await build_checker(check, rs, vs).run()
    assert r.weight == 14 and f.read_text().strip() == "4"
    f.write_text("1")  # an existing file is left alone without init_overwrite
    assert (await build_checker(check, rs, vs).run()).weight == 11
    over = FileCheck(track_file="t", file=str(f), weight=1, init_file=-3, init_overwrite=True)
    assert (await build_checker(over, rs, vs).run()).weight == 7
