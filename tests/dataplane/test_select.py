"""Dataplane selection: capabilities parsing, the ip_vs probe, and the reason given."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvstui.config.schema import DataplaneKind
from lvstui.dataplane import select
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.dataplane.userspace.forwarder import UserspaceDataplane
from lvstui.errors import DataplaneError

STATUS = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t{}\nCapBnd:\t000001ffffffffff\n"


def test_has_cap_reads_effective_set() -> None:
    assert select.has_cap(12, STATUS.format("000001ffffffffff"))
    assert not select.has_cap(12, STATUS.format("0000000000000000"))
    assert select.has_cap(12, STATUS.format("0000000000001000"))  # exactly bit 12
    assert not select.has_cap(12, STATUS.format("0000000000000800"))


def test_userspace_and_dry_run() -> None:
    dp, reason = select.select_dataplane(DataplaneKind.USERSPACE)
    assert isinstance(dp, UserspaceDataplane) and "userspace" in reason
    assert dp.capabilities.reason == reason
    mem, why = select.select_dataplane(DataplaneKind.AUTO, dry_run=True)
    assert isinstance(mem, MemoryDataplane) and "dry run" in why


def test_auto_without_ip_vs_falls_back_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "_PROC_IPVS", Path("/nonexistent/ip_vs"))
    monkeypatch.setattr(select, "has_cap", lambda *a: True)
    monkeypatch.setattr(select.shutil, "which", lambda name: "/bin/false")
    dp, reason = select.select_dataplane(DataplaneKind.AUTO)
    assert isinstance(dp, UserspaceDataplane)
    assert "ip_vs" in reason and dp.capabilities.reason == reason
    with pytest.raises(DataplaneError, match="ip_vs"):
        select.select_dataplane(DataplaneKind.IPVS)


def test_auto_without_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "has_cap", lambda *a: False)
    dp, reason = select.select_dataplane(DataplaneKind.AUTO)
    assert isinstance(dp, UserspaceDataplane) and "CAP_NET_ADMIN" in reason
    with pytest.raises(DataplaneError, match="CAP_NET_ADMIN"):
        select.select_dataplane(DataplaneKind.IPVS)


def test_auto_with_ip_vs_picks_the_kernel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "ip_vs"
    fake.write_text("IP Virtual Server version 1.2.1 (size=4096)\n")
    monkeypatch.setattr(select, "_PROC_IPVS", fake)
    monkeypatch.setattr(select, "has_cap", lambda *a: True)

    class FakeIpvs(MemoryDataplane):
        pass

    monkeypatch.setattr(select, "_ipvs_class", lambda: (FakeIpvs, ""))
    dp, reason = select.select_dataplane(DataplaneKind.AUTO)
    assert isinstance(dp, FakeIpvs) and reason.startswith("kernel IPVS")
    assert dp.capabilities.reason == reason


def test_this_host_really(monkeypatch: pytest.MonkeyPatch) -> None:
    # whatever this machine has, auto answers with a dataplane and a non-empty reason
    dp, reason = select.select_dataplane(DataplaneKind.AUTO)
    assert reason and dp.capabilities.name in ("ipvs", "userspace")
