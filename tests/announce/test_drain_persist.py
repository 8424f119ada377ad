"""The director drain survives a restart (lvstui/announce/drainfile.py, DirectorDrainer's
restore): written on every change of phase, read back at start, and a drained director is
never announced normally, not even on the announcement loop's first tick. The settle time
of a drain without --settle comes from [lvstui.announce] drain_settle."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lvstui.announce.base import MemoryAnnouncer
from lvstui.announce.director import DirectorDrainer, DrainPhase
from lvstui.announce.drainfile import DRAIN_FILE, DrainFile, MemoryDrainStore, SavedDrain
from lvstui.announce.follow import follow
from lvstui.announce.state import AnnounceState
from lvstui.model import DrainDirector, Snapshot, UndrainDirector
from tests.announce.test_director_drain import VIP, _snap

WALL = 1_796_551_331.0  # 2026-12-06 10:02:11 UTC


def drainer(store: MemoryDrainStore | DrainFile, settle: float = 10.0) -> DirectorDrainer:
    return DirectorDrainer(settle=lambda: settle, store=store, wall=lambda: WALL)


def test_every_phase_change_is_saved_and_read_back(tmp_path: Path) -> None:
    d = drainer(DrainFile(tmp_path))
    assert d.call(DrainDirector(2.0), 100.0).ok
    assert DrainFile(tmp_path).load() == (SavedDrain("draining", 2.0, WALL), "")
    text = (tmp_path / DRAIN_FILE).read_text()
    assert 'phase = "draining"' in text and "since = 2026-12-06 10:02:11+00:00" in text
    d.observe(5, 100.5)
    assert d.observe(5, 102.5) is DrainPhase.SAFE
    assert DrainFile(tmp_path).load()[0] == SavedDrain("safe", 2.0, WALL)
    assert d.call(UndrainDirector(), 103.0).ok
    assert DrainFile(tmp_path).load()[0] == SavedDrain("normal", 10.0, 0.0)
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary file left


def test_a_restart_comes_back_safe_and_says_so(tmp_path: Path) -> None:
    DrainFile(tmp_path).save(SavedDrain("safe", 4.0, WALL))
    d = drainer(DrainFile(tmp_path))
    said = d.restore(50.0)
    assert "kept from before the restart: SAFE" in said and "undrain-director" in said
    assert "2026-12-06 10:02:11 UTC" in said
    assert d.status.phase is DrainPhase.SAFE and d.status.settle == 4.0
    assert d.status.text(60.0).endswith(
        "drained since 2026-12-06 10:02:11 UTC, kept across a restart"
    )
    assert d.observe(9, 51.0) is DrainPhase.SAFE  # stays withdrawn
    assert "already safe" in d.call(DrainDirector(), 52.0).message


def test_a_restart_while_draining_drains_again_with_a_fresh_quiet_time() -> None:
    d = drainer(MemoryDrainStore(SavedDrain("draining", 3.0, WALL)))
    assert "DRAINING" in d.restore(200.0)
    assert d.status.phase is DrainPhase.DRAINING and d.status.quiet_since == 200.0
    assert d.observe(1, 202.9) is DrainPhase.DRAINING
    assert d.observe(1, 203.0) is DrainPhase.SAFE


@pytest.mark.parametrize("saved", [None, SavedDrain("normal", 10.0, 0.0)])
def test_nothing_drained_nothing_restored_nothing_said(saved: SavedDrain | None) -> None:
    d = drainer(MemoryDrainStore(saved))
    assert d.restore(1.0) == ""
    assert d.status.phase is DrainPhase.NORMAL


@pytest.mark.parametrize(
    "text",
    [
        "version = 1\nphase = [",  # not TOML
        'version = 2\nphase = "safe"\nsettle = 1.0\n',
        'version = 1\nphase = "gone"\nsettle = 1.0\n',
        'version = 1\nphase = "safe"\nsettle = -1\n',
    ],
)
def test_an_unreadable_file_starts_draining_and_says_why(tmp_path: Path, text: str) -> None:
    (tmp_path / DRAIN_FILE).write_text(text)
    saved, error = DrainFile(tmp_path).load()
    assert saved is None and DRAIN_FILE in error
    d = drainer(DrainFile(tmp_path))
    said = d.restore(1.0)
    assert "starting DRAINING" in said and DRAIN_FILE in said
    assert d.status.phase is DrainPhase.DRAINING
    assert d.call(UndrainDirector(), 2.0).ok  # the operator's way out rewrites the file
    assert DrainFile(tmp_path).load() == (SavedDrain("normal", 10.0, 0.0), "")


def test_a_drain_that_cannot_be_kept_is_not_applied_an_undrain_is() -> None:
    store = MemoryDrainStore()
    d = drainer(store)
    store.fail = "No space left on device"
    r = d.call(DrainDirector(), 1.0)
    assert not r.ok and "not applied" in r.message and "No space left" in r.message
    assert d.status.phase is DrainPhase.NORMAL
    store.fail = ""
    assert d.call(DrainDirector(), 2.0).ok
    store.fail = "Read-only file system"
    r = d.call(UndrainDirector(), 3.0)
    assert r.ok and "a restart would come back drained" in r.message
    assert d.status.phase is DrainPhase.NORMAL
    assert store.saved is not None and store.saved.phase == "draining"


def test_the_settle_time_without_settle_is_the_configured_one() -> None:
    settle = [7.5]
    d = DirectorDrainer(settle=lambda: settle[0])
    assert "after 7.5 s" in d.call(DrainDirector(), 0.0).message
    assert d.status.settle == 7.5
    d.call(UndrainDirector(), 1.0)
    settle[0] = 3.0  # a reload changed it
    d.call(DrainDirector(), 2.0)
    assert d.status.settle == 3.0
    d.call(UndrainDirector(), 3.0)
    d.call(DrainDirector(1.0), 4.0)  # --settle wins
    assert d.status.settle == 1.0


@pytest.mark.parametrize(
    ("phase", "first"),
    [("safe", None), ("draining", ("announce graceful", VIP))],
)
def test_the_first_tick_after_a_restart_never_announces_normally(
    phase: str, first: tuple[str, str] | None
) -> None:
    """The loop's first decision already knows the drain: a safe director announces
    nothing, a draining one only less preferred."""

    async def run() -> list[tuple[str, str]]:
        a = MemoryAnnouncer()
        d = drainer(MemoryDrainStore(SavedDrain(phase, 60.0, WALL)))
        d.restore(asyncio.get_running_loop().time())
        state = AnnounceState()
        task = asyncio.create_task(
            follow(lambda: _snap(3), a, lambda: {VIP}, interval=0.01, director=d, state=state)
        )
        for _ in range(30):
            await asyncio.sleep(0.01)
        assert state.view().director == phase
        assert "kept across a restart" in state.view().director_detail
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return a.log

    log = asyncio.run(run())
    assert ("announce", VIP) not in log
    assert (log[0] if log else None) == first


def test_a_snapshot_status_line_names_the_kept_drain() -> None:
    from dataclasses import replace

    from lvstui.commands.status import render_status

    state = AnnounceState()
    d = drainer(MemoryDrainStore(SavedDrain("safe", 10.0, WALL)))
    d.restore(0.0)
    state.set_director(d.status.phase.value, d.status.text(1.0))
    text = render_status(replace(Snapshot(seq=1, time=0.0), announce=state.view()))
    assert "director drain: SAFE (safe: drained, every bgp VIP withdrawn; drained since" in text
