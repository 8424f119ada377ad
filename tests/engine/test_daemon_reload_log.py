"""A reload the daemon rejects (SIGHUP with a broken config) is logged once, by the engine,
and the previous configuration keeps serving."""

from __future__ import annotations

import signal

from tests.engine.daemon_lab import answers
from tests.helpers import wait_until


def test_rejected_reload_is_logged_once(daemon_lab) -> None:  # type: ignore[no-untyped-def]
    _, _, daemon, vip_port = daemon_lab
    daemon.start()
    wait_until(lambda: answers(vip_port, 4) == {"alpha", "bravo"}, timeout=20, interval=0.2)
    good = daemon.config.read_text()
    daemon.config.write_text(good + "\n[[virtual_server]\n")  # broken TOML
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: "still running the previous one" in daemon.output(), timeout=15)
    assert answers(vip_port, 4) == {"alpha", "bravo"}
    # once, from lvstui.engine (no second copy from lvstui.daemon)
    out = daemon.output()
    assert out.count("configuration rejected") == 1, out
    (line,) = [x for x in out.splitlines() if "configuration rejected" in x]
    assert "lvstui.engine" in line
    # and a good reload is reported once too
    daemon.config.write_text(good)
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: "reloaded: 0 change(s)" in daemon.output(), timeout=15)
    assert daemon.output().count("reloaded: 0 change(s)") == 1
    assert daemon.stop() == 0


def test_sighup_with_an_emptied_file_refuses_and_ctl_force_applies(daemon_lab) -> None:  # type: ignore[no-untyped-def]
    _, _, daemon, vip_port = daemon_lab
    daemon.start()
    wait_until(lambda: answers(vip_port, 4) == {"alpha", "bravo"}, timeout=20, interval=0.2)
    daemon.config.write_text('[lvstui]\ndataplane = "userspace"\n')  # valid, and empty
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: "removes every service (1)" in daemon.output(), timeout=15)
    assert "ctl reload --force" in daemon.output()
    assert answers(vip_port, 4) == {"alpha", "bravo"}  # still serving
    out = daemon.ctl("ctl", "reload")
    assert out.returncode != 0 and "removes every service" in out.stdout + out.stderr
    forced = daemon.ctl("ctl", "reload", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert answers(vip_port, 2) == {"error: ConnectError"}
    assert daemon.stop() == 0
