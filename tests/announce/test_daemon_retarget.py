"""A reload moves the announcements to a new table, protocol, device or handoff, in a
namespace of ours: no "takes effect at the next restart" any more (EngineParts._switch,
OnDemand.retarget). The old device goes with everything on it; the new one carries the VIP."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.announce.test_daemon_bgp import reap
from tests.announce.test_daemon_reload_upgrade import DEV, VIP, config, start_on_vip
from tests.announce.test_kernel_table import link_exists, ns, routes  # noqa: F401
from tests.announce.test_tun_address import addresses
from tests.helpers import wait_until

pytestmark = [pytest.mark.root, pytest.mark.netns]

OTHER = "bgptun1"  # test_tun_address.addresses() reads DEV only: the address step uses DEV


def test_a_reload_moves_the_announcements(ns: str, tmp_path: Path) -> None:  # noqa: F811
    cfg, daemon, log, listener = start_on_vip(ns, tmp_path, "bgp")
    log_path = tmp_path / "daemon.log"

    def reload(text: str) -> None:
        cfg.write_text(text)
        daemon.send_signal(signal.SIGHUP)

    try:
        wait_until(lambda: routes(ns) == {f"{VIP} {DEV}"}, timeout=30)
        # another table, protocol and device
        reload(config("bgp").replace(f'device = "{DEV}"', f'device = "{OTHER}"\ntable = 246'
                                     "\nprotocol = 246"))  # fmt: skip
        wait_until(lambda: routes(ns, 246) == {f"{VIP} {OTHER}"}, timeout=30)
        assert routes(ns) == set() and not link_exists(ns, DEV)
        # the address handoff (FRR's) on the first device: the table stays empty
        reload(config("bgp", "address"))
        wait_until(lambda: addresses(ns) == {f"{VIP}/32": 0}, timeout=30)
        assert routes(ns) == routes(ns, 246) == set() and not link_exists(ns, OTHER)
        # and back to the route handoff
        reload(config("bgp"))
        wait_until(lambda: routes(ns) == {f"{VIP} {DEV}"}, timeout=30)
        assert addresses(ns) == {}
        text = log_path.read_text(errors="replace")
        assert f"announcing by route through table 246, protocol 246, device {OTHER}" in text
        assert "announcing by address through table 245" in text
        assert "next restart" not in text, "a reload still asks for a restart"
    except AssertionError:
        print(log_path.read_text(errors="replace")[-4000:])
        raise
    finally:
        reap(daemon, listener)
        log.close()
