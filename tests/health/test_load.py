"""check-config's check load, before and after one probe per target."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lvstui.config.load import load_config_text
from lvstui.health.load import check_load


def _service(vip: str, last_timeout: float | None = None) -> str:
    """A service on 198.51.100.1 and .2, a TCP check each (the last with its own timeout)."""
    out = f'[[virtual_server]]\nip = "{vip}"\nport = 80\ndelay_loop = 2\n'
    for ip in ("198.51.100.1", "198.51.100.2"):
        out += f'[[virtual_server.real_server]]\nip = "{ip}"\n'
        out += "[[virtual_server.real_server.tcp_check]]\n"
    if last_timeout is not None:
        out += f"connect_timeout = {last_timeout}\n"
    return out


# the second service's last check has its own connect_timeout: not the same probe
TOML = _service("203.0.113.1") + _service("203.0.113.2", last_timeout=3)


def test_check_load_counts_shared_targets_once() -> None:
    load = check_load(load_config_text(TOML))
    assert (load.checks, load.probes) == (4, 3)
    assert (load.checks_per_second, load.probes_per_second) == (2.0, 1.5)


def test_check_config_prints_the_load(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text(TOML)
    out = subprocess.run(
        [sys.executable, "-m", "lvstui", "check-config", "-f", str(f)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "check load: 4 check(s), 2/s as configured; 3 probe(s), 1.5/s after sharing" in (
        out.stdout
    )


def test_check_config_warns_slow_start_on_a_weightless_scheduler() -> None:
    from lvstui.config.lint import lint

    text = _service("203.0.113.1").replace("delay_loop = 2", 'delay_loop = 2\nlb_algo = "rr"')
    findings = lint(
        load_config_text(text.replace("port = 80\n", "port = 80\nslow_start = 30\n", 1))
    )
    assert [f.topic for f in findings if f.topic == "slow-start-weightless"] == [
        "slow-start-weightless"
    ]
    wrr = lint(
        load_config_text(
            text.replace('"rr"', '"wrr"').replace("port = 80\n", "port = 80\nslow_start = 30\n", 1)
        )
    )
    assert not [f for f in wrr if f.topic == "slow-start-weightless"]
