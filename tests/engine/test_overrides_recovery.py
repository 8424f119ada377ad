"""A corrupt or partly invalid `STATE_DIR/overrides.toml` never stops the director.

An invalid entry is skipped with a warning naming the file, the entry and why (the rest
applies; a copy of the file is kept aside); a file that cannot be parsed is moved aside to
`overrides.toml.bad-<time>` (never deleted) and the engine starts with no override; the
next change writes a fresh file. Unit level, engine level and a real daemon process.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lvstui.clock import FakeClock
from lvstui.config.state import StateFile
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.model import Drain, RealKey, ServiceKey
from tests.engine.builders import SK, VIP, R, config
from tests.engine.daemon_lab import answers
from tests.helpers import wait_until

GOOD_DRAIN = f'[[drain]]\nservice = "TCP {VIP}:80"\nreal = "{R[0]}"\n'
BAD_ADD = f'[[add]]\nservice = "TCP {VIP}:80"\nreal = "192.0.2.44:70000"\nweight = 1\n'
GOOD_ADD = f'[[add]]\nservice = "TCP {VIP}:80"\nreal = "192.0.2.45:80"\nweight = 3\n'
TRUNCATED = f'version = 1\n[[drain]]\nservice = "TCP {VIP}:80\n'


def bad_files(state: Path) -> list[Path]:
    return sorted(state.glob("overrides.toml.bad-*"))


# --- the state file alone ---------------------------------------------------------------


def test_bad_entries_are_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    text = (
        "version = 1\n"
        + GOOD_DRAIN
        + BAD_ADD
        + GOOD_ADD
        + f"[[weight]]\nservice = 'TCP {VIP}:80'\n"
    )
    (tmp_path / "overrides.toml").write_text(text)
    report = StateFile(tmp_path).load_tolerant()
    assert report.error == ""
    assert set(report.overrides.drained) == {(SK, R[0])}
    assert set(report.overrides.added) == {(SK, RealKey("192.0.2.45", 80))}
    assert report.overrides.added[(SK, RealKey("192.0.2.45", 80))].weight == 3
    assert report.skipped == (
        "add[0]: invalid entry: port 70000 out of range 0-65535",
        "weight[0]: invalid entry: missing key 'real'",
    )
    # the file stays (it still serves the good entries); a copy keeps the skipped ones
    assert (tmp_path / "overrides.toml").read_text() == text
    (copy,) = bad_files(tmp_path)
    assert copy.read_text() == text
    assert report.moved_to == copy


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (TRUNCATED, "cannot parse"),
        ("version = 2\n", "unsupported state file version 2"),
        (b"\xff\xfe\x00version", "cannot parse"),
    ],
)
def test_an_unusable_file_is_moved_aside(tmp_path: Path, content: str | bytes, why: str) -> None:
    path = tmp_path / "overrides.toml"
    data = content.encode() if isinstance(content, str) else content
    path.write_bytes(data)
    report = StateFile(tmp_path).load_tolerant(wall=1_764_000_000.0)
    assert report.overrides.is_empty() and report.skipped == ()
    assert why in report.error
    assert not path.exists()
    assert report.moved_to == tmp_path / "overrides.toml.bad-20251124T160000Z"
    assert report.moved_to.read_bytes() == data  # the operator's data, untouched
    # a second bad file in the same second does not replace the first
    path.write_bytes(data)
    again = StateFile(tmp_path).load_tolerant(wall=1_764_000_000.0)
    assert again.moved_to == tmp_path / "overrides.toml.bad-20251124T160000Z.2"
    assert len(bad_files(tmp_path)) == 2


# --- the engine -------------------------------------------------------------------------


async def test_engine_serves_the_valid_overrides(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "overrides.toml").write_text("version = 1\n" + GOOD_DRAIN + BAD_ADD + GOOD_ADD)
    dp = MemoryDataplane()
    e = Engine(config(), dataplane=dp, clock=FakeClock(), state_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="lvstui.engine"):
        await e.start()
    try:
        (svc,) = await dp.observe()
        weights = {d.key: d.weight for d in svc.dests}
        assert weights[R[0]] == 0  # drained by the file
        assert weights[RealKey("192.0.2.45", 80)] == 3  # added by the file
        assert RealKey("192.0.2.44", 80) not in weights
        msgs = [r.getMessage() for r in caplog.records]
        (skip,) = [m for m in msgs if "add[0]" in m]
        assert str(tmp_path / "overrides.toml") in skip
        assert "70000" in skip and "skipped" in skip
        assert any("kept as" in m and ".bad-" in m for m in msgs)
    finally:
        await e.stop()


async def test_engine_starts_without_an_unparsable_file_and_writes_a_fresh_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "overrides.toml").write_text(TRUNCATED)
    dp = MemoryDataplane()
    e = Engine(config(), dataplane=dp, clock=FakeClock(), state_dir=tmp_path)
    with caplog.at_level(logging.ERROR, logger="lvstui.engine"):
        await e.start()
    try:
        (svc,) = await dp.observe()
        assert {d.weight for d in svc.dests} == {2}  # the config as written, no override
        (moved,) = bad_files(tmp_path)
        assert moved.read_text() == TRUNCATED
        (err,) = [r for r in caplog.records if "moved aside" in r.getMessage()]
        assert err.levelno == logging.ERROR
        assert "cannot parse" in err.getMessage() and str(moved) in err.getMessage()
        # the next change writes a fresh file; the bad one stays
        assert (await e.call(Drain(SK, R[1]))).ok
        assert set(StateFile(tmp_path).load().drained) == {(SK, R[1])}
        assert moved.read_text() == TRUNCATED
    finally:
        await e.stop()


async def test_engine_skips_a_stored_add_of_the_wrong_family(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    v6 = f'[[add]]\nservice = "TCP {VIP}:80"\nreal = "[2001:db8::7]:80"\nweight = 1\n'
    (tmp_path / "overrides.toml").write_text("version = 1\n" + v6 + GOOD_ADD)
    dp = MemoryDataplane()
    e = Engine(config(), dataplane=dp, clock=FakeClock(), state_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="lvstui.engine"):
        await e.start()
    try:
        (svc,) = await dp.observe()
        keys = {d.key for d in svc.dests}
        assert RealKey("192.0.2.45", 80) in keys
        assert RealKey("2001:db8::7", 80) not in keys
        assert any(
            "2001:db8::7" in r.getMessage() and "TUN" in r.getMessage() for r in caplog.records
        )
        assert e.apply_errors == 0
    finally:
        await e.stop()


# --- a real daemon --------------------------------------------------------------------------


def test_daemon_starts_and_serves_with_a_broken_state_file(daemon_lab) -> None:  # type: ignore[no-untyped-def]
    d, servers, daemon, vip_port = daemon_lab
    state = d / "state"
    state.mkdir()
    svc = f"TCP 127.0.0.1:{vip_port}"
    alpha = f"127.0.0.1:{servers.port('alpha')}"
    (state / "overrides.toml").write_text(
        "version = 1\n"
        f'[[drain]]\nservice = "{svc}"\nreal = "{alpha}"\n'
        f'[[add]]\nservice = "{svc}"\nreal = "127.0.0.1:70000"\nweight = 1\n'
    )
    # one bad entry: the daemon starts, skips it, and keeps the drain of alpha
    daemon.start()
    wait_until(lambda: answers(vip_port, 4) == {"bravo"}, timeout=20, interval=0.2)
    out = daemon.output()
    assert "add[0]: invalid entry" in out and "70000" in out and "entry skipped" in out
    assert "configuration error" not in out
    assert daemon.stop() == 0

    # a truncated file: moved aside, the daemon serves the config as written
    (state / "overrides.toml").write_text(f'version = 1\n[[drain]]\nservice = "{svc}\n')
    daemon.start()
    wait_until(lambda: answers(vip_port, 6) == {"alpha", "bravo"}, timeout=20, interval=0.2)
    assert "moved aside to" in daemon.output()
    assert not (state / "overrides.toml").exists()
    moved = [
        p for p in bad_files(state) if "drain" in p.read_text() and "70000" not in p.read_text()
    ]
    assert len(moved) == 1 and moved[0].read_text().endswith(f'service = "{svc}\n')
    # the next change writes a fresh file
    r = daemon.ctl("ctl", "drain", f"127.0.0.1:{vip_port}", alpha)
    assert r.returncode == 0, r.stderr
    assert (state / "overrides.toml").exists()
    assert set(StateFile(state).load().drained) == {(ServiceKey.parse(svc), RealKey.parse(alpha))}
    assert daemon.stop() == 0
