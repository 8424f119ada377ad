"""The IPVS dataplane on a host WITHOUT kernel IPVS (this CI's host): clear errors, no leaks.

The kernel behaviour itself is tested in a User-Mode-Linux guest (tests/test_ipvs_vm.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lvstui.config.schema import LbKind
from lvstui.dataplane.base import AddService, DesiredService
from lvstui.dataplane.ipvs import IPVS_SCHEDULERS, IpvsDataplane
from lvstui.errors import DataplaneError
from lvstui.model import ServiceKey


def test_capabilities_cover_every_kernel_scheduler_and_method() -> None:
    caps = IpvsDataplane().capabilities
    assert caps.name == "ipvs"
    assert caps.lb_kinds == frozenset(LbKind)
    assert {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo",
            "ovf"} <= caps.schedulers == IPVS_SCHEDULERS  # fmt: skip
    assert caps.protocols == frozenset({"TCP", "UDP", "SCTP"})
    assert caps.fwmark and caps.sync_daemon


async def test_use_before_start_is_a_clear_error() -> None:
    dp = IpvsDataplane()
    key = ServiceKey.parse("192.0.2.1:80")
    with pytest.raises(DataplaneError, match="not started"):
        await dp.apply([AddService(DesiredService(key, "rr"))])
    with pytest.raises(DataplaneError, match="not started"):
        await dp.observe()
    await dp.apply([])  # nothing to do is never an error
    await dp.close()  # closing what was never opened is fine


HAS_IPVS = Path("/proc/net/ip_vs").exists()


async def test_start_without_kernel_ipvs_says_what_to_do() -> None:
    if HAS_IPVS:
        pytest.skip("this host has kernel IPVS; the guest tests cover it")
    dp = IpvsDataplane(modprobe=False)
    with pytest.raises(DataplaneError) as err:
        await dp.start()
    assert "IPVS" in str(err.value) and "ip_vs" in err.value.hint
    await dp.close()
