"""track_file in a vrrp_instance: keepalived's rule for a value (pure), the file read for
real (missing, rewritten, unreadable content, init_file), two directors on the in-memory LAN
whose priorities move with a file, the sync group rule and the TOML keys (the import,
compared with `keepalived -t`: tests/config/test_keepalived_parity.py)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from lvstui.clock import FakeClock
from lvstui.config.load import load_config_text
from lvstui.config.schema import Config, TrackFile, TrackWeight, VrrpSyncGroup
from lvstui.config.syncweights import as_run, ignored_weights
from lvstui.errors import ConfigError
from lvstui.model import VrrpRunState as S
from lvstui.vrrp.trackfile import FileTracker, file_move
from lvstui.vrrp.transport import MemoryHub
from tests.vrrp.test_node import Director, inst, run_for, until


@pytest.mark.parametrize(
    ("value", "weight", "reverse", "move"),
    [
        (0, 0, False, 0),  # weight 0: 0 is fine
        (7, 0, False, None),  # ... anything else FAULT
        (-1, 0, False, None),
        (0, 0, True, None),  # reverse: the other way round
        (7, 0, True, 0),
        (3, -10, False, -30),  # value × weight
        (3, -10, True, 30),  # × -1 with reverse
        (3, 10, False, 30),
        (100, 10, False, 253),  # a rise is capped at 253
        (25, -10, False, -250),
        (26, -10, False, None),  # -260: at or below -254 is FAULT
        (-254, 1, False, None),
        (-253, 1, False, -253),
        (0, 10, False, 0),
    ],
)
def test_a_value_moves_or_faults_as_keepalived(
    value: int, weight: int, reverse: bool, move: int | None
) -> None:
    assert file_move(value, weight, reverse) == move


def write_renamed(path: Path, text: str) -> None:
    """As an agent should: a new file renamed over the old one (a new inode each time)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_the_file_read_for_real(tmp_path: Path) -> None:
    path = tmp_path / "state"
    seen: list[int] = []
    warned: list[str] = []
    tr = FileTracker(TrackFile("tf", str(path)), FakeClock(), seen.append, warned.append)
    assert tr.look() == 0  # missing: 0
    write_renamed(path, "  0x10 trailing words\n")
    tr.poll()
    write_renamed(path, "no digits")  # strtol: 0
    tr.poll()
    write_renamed(path, "-7\n")
    tr.poll()
    write_renamed(path, "99999999999\n")  # out of the 32-bit range: ignored, -7 stays
    tr.poll()
    path.unlink()  # gone: 0
    tr.poll()
    write_renamed(path, "4\n")
    tr.poll()
    path.unlink()
    path.mkdir()  # exists, cannot be read: 0, as keepalived (said once)
    tr.poll()
    tr.poll()
    assert seen == [16, 0, -7, 0, 4, 0] and len(warned) == 1 and "cannot read" in warned[0]


async def test_priorities_move_with_the_file(tmp_path: Path) -> None:
    """`track_file { tf weight -60 }`: 1 in the file lowers 150 to 90 below the peer's 100,
    which takes over (BACKUP, not FAULT); 0 again and it preempts; 5 (-300) is FAULT. After
    a reload to weight 0 any value but 0 is FAULT. init_file wrote the file at start."""
    hub, clock = MemoryHub(), FakeClock()
    path = tmp_path / "state"
    tf = TrackFile("tf", str(path), weight=3, init_file=0)
    tracking = inst(150, track_file=("tf",), track_file_weight=(TrackWeight("tf", -60),))
    cfg = Config(track_files=(tf,), vrrp_instances=(tracking,))
    a = Director(hub, clock, "198.51.100.11", cfg)
    b = Director(hub, clock, "198.51.100.12", Config(vrrp_instances=(inst(100),)))
    await a.group.start()
    await b.group.start()
    node = a.group.nodes["VI_1"]
    try:
        assert path.read_text() == "0\n"
        await until(clock, lambda: a.state() == S.MASTER and b.state() == S.BACKUP)
        write_renamed(path, "1\n")
        await until(clock, lambda: b.state() == S.MASTER and a.state() == S.BACKUP, 3)
        assert node._effective_priority() == 90
        write_renamed(path, "0\n")
        await until(clock, lambda: a.state() == S.MASTER and b.state() == S.BACKUP, 3)
        write_renamed(path, "5\n")
        await until(clock, lambda: a.state() == S.FAULT and b.state() == S.MASTER, 3)
        assert node._effective_priority() == 150  # a FAULT file gives no move besides
        write_renamed(path, "-1\n")  # +60: out of FAULT, above the peer
        await until(clock, lambda: a.state() == S.MASTER and node._effective_priority() == 210, 3)
        # reload: the instance's weight gone, the track_file's own 3 applies: -1 → -3
        await a.group.reload(
            replace(cfg, vrrp_instances=(replace(tracking, track_file_weight=()),))
        )
        await until(clock, lambda: node._effective_priority() == 147, 3)
        # reload: weight 0 on the definition: -1 is FAULT
        await a.group.reload(
            Config(
                track_files=(replace(tf, weight=0),),
                vrrp_instances=(replace(tracking, track_file_weight=()),),
            )
        )
        await until(clock, lambda: a.state() == S.FAULT, 3)
        write_renamed(path, "0\n")
        await until(clock, lambda: a.state() == S.MASTER, 3)
        await run_for(clock, 0.2)
    finally:
        await a.group.stop()
        await b.group.stop()


async def test_a_file_in_a_missing_directory_is_not_tracked(tmp_path: Path) -> None:
    """keepalived: "Track file directory ... does not exist - removing"; a warning here, and
    the reverse weight-0 file that would have been FAULT at 0 does not hold the instance."""
    hub, clock = MemoryHub(), FakeClock()
    tf = TrackFile("tf", str(tmp_path / "nodir" / "state"), weight=0, reverse=True)
    cfg = Config(track_files=(tf,), vrrp_instances=(inst(150, track_file=("tf",)),))
    a = Director(hub, clock, "198.51.100.11", cfg)
    await a.group.start()
    try:
        await until(clock, lambda: a.state() == S.MASTER)
        assert not a.group.nodes["VI_1"].files.value
    finally:
        await a.group.stop()


def test_a_sync_group_drops_weighted_files_as_keepalived() -> None:
    """keepalived -t: "(VI_2) ignoring tracked file tf_a with weight -2 due to SYNC group";
    a weight-0 one stays (its FAULT is the group's)."""
    cfg = Config(
        track_files=(TrackFile("tf_a", "/run/a", weight=-2), TrackFile("tf_b", "/run/b")),
        vrrp_instances=(
            inst(100, track_file=("tf_a", "tf_b"), track_file_weight=(TrackWeight("tf_b", 0),)),
        ),
        vrrp_sync_groups=(VrrpSyncGroup("G", ("VI_1",)),),
    )
    assert ignored_weights(cfg) == [("VI_1", "track_file", "tf_a", "G")]
    (run,) = as_run(cfg).vrrp_instances
    assert run.track_file == ("tf_b",) and run.track_file_weight == (TrackWeight("tf_b", 0),)
    kept = replace(
        cfg, vrrp_sync_groups=(VrrpSyncGroup("G", ("VI_1",), sync_group_tracking_weight=True),)
    )
    assert as_run(kept).vrrp_instances[0].track_file == ("tf_a", "tf_b")


TOML = """
[track_file.tf]
file = "/run/agent/state"
weight = -2
[vrrp_instance.VI_1]
interface = "eth0"
virtual_router_id = 51
virtual_ipaddress = ["192.0.2.10/24"]
track_file = [{items}]
"""


def test_the_toml_keys() -> None:
    cfg = load_config_text(TOML.format(items='"tf", "tf weight 4 reverse"'))
    (i,) = cfg.vrrp_instances
    assert i.track_file == ("tf", "tf") and i.track_file_weight == (TrackWeight("tf", 4, True),)
    with pytest.raises(ConfigError, match="unknown track_file 'tff'"):
        load_config_text(TOML.format(items='"tff"'))
    with pytest.raises(ConfigError, match="expected `NAME"):
        load_config_text(TOML.format(items='"tf weight x"'))


async def test_init_file_overwrites_at_start_not_on_a_reload(tmp_path: Path) -> None:
    """keepalived: `init_file 7 overwrite` writes 7 over what the file holds at start, and
    "Don't overwrite a file on reload"."""
    clock = FakeClock()
    path = tmp_path / "state"
    path.write_text("1\n")
    tf = TrackFile("tf", str(path), weight=-1, init_file=7, init_overwrite=True)
    tracking = inst(150, track_file=("tf",))
    cfg = Config(track_files=(tf,), vrrp_instances=(tracking,))
    a = Director(MemoryHub(), clock, "198.51.100.11", cfg)
    await a.group.start()
    node = a.group.nodes["VI_1"]
    try:
        assert path.read_text() == "7\n" and node._effective_priority() == 143
        write_renamed(path, "2\n")
        await a.group.reload(replace(cfg, track_files=(replace(tf, weight=-2),)))
        await until(clock, lambda: node._effective_priority() == 146, 3)
        assert path.read_text() == "2\n"
    finally:
        await a.group.stop()


def test_a_sync_groups_track_file_is_noted_with_what_to_do() -> None:
    """keepalived's vrrp_sync_group { track_file { … } } tracks the file for every member;
    lvstui does per instance only, and the import note says where to put it."""
    from lvstui.config.keepalived import import_keepalived_text

    text = (
        "track_file tf {\n  file /run/agent/state\n}\n"
        "vrrp_sync_group G {\n  group {\n    VI_1\n  }\n  track_file {\n    tf\n  }\n}\n"
        "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 5\n"
        "  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n"
    )
    r = import_keepalived_text(text, "a.conf", "lb0")
    (note,) = r.notes
    assert "vrrp_sync_group G: track_file" in str(note)
    assert "list it in each member's track_file" in str(note)
    assert r.config.vrrp_instances[0].track_file == ()
