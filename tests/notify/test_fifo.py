"""keepalived's notify FIFOs: a real reader sees the lines of VRRP transitions (in-memory
VRRP) and of a real server going down and up through the engine; writes never block."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import tomli_w

from lvstui.clock import FakeClock
from lvstui.config.dump import to_toml_dict
from lvstui.config.keepalived import import_keepalived_text
from lvstui.config.load import ConfigErrors, load_config_text
from lvstui.config.schema import Config, GlobalDefs, VrrpSyncGroup
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.model import Health
from lvstui.model import VrrpRunState as S
from lvstui.notify.fifo import FifoWriter, NotifyFifos
from lvstui.vrrp.transport import MemoryHub
from tests.engine.builders import SK, R, config
from tests.helpers import async_wait_until
from tests.vrrp.test_node import Director, inst, until


class Reader:
    """The reading end of a FIFO, opened like a consumer would (non-blocking here so the
    test never hangs)."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.buf = b""

    def lines(self) -> list[str]:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.buf += chunk
        return self.buf.decode().splitlines()

    def close(self) -> None:
        os.close(self.fd)


async def test_vrrp_transitions_reach_a_reader_in_keepalived_words(tmp_path: Path) -> None:
    fifo = tmp_path / "vrrp.fifo"
    gd = GlobalDefs(vrrp_notify_fifo=str(fifo))
    cfg = Config(
        global_defs=gd,
        vrrp_instances=(inst(100),),
        vrrp_sync_groups=(VrrpSyncGroup("G", ("VI_1",)),),
    )
    clock = FakeClock()
    a = Director(MemoryHub(), clock, "198.51.100.11", cfg)
    fifos = NotifyFifos.from_config(gd)
    assert fifos is not None
    fifos.create()
    assert fifo.is_fifo()
    reader = Reader(fifo)
    a.group.runner.fifos = fifos
    try:
        await a.group.start()
        try:
            await until(clock, lambda: a.state() == S.MASTER)
        finally:
            await a.group.stop()
        lines = reader.lines()
    finally:
        reader.close()
    assert [x for x in lines if x.startswith("INSTANCE")] == [
        'INSTANCE "VI_1" BACKUP 100',
        'INSTANCE "VI_1" MASTER 100',
        'INSTANCE "VI_1" STOP 100',
    ]
    assert [x for x in lines if x.startswith("GROUP")] == [
        'GROUP "G" BACKUP 0',
        'GROUP "G" MASTER 0',
        'GROUP "G" STOP 0',
    ]
    assert len(lines) == 6


READER_SCRIPT = """\
import os, sys
fifo, out = sys.argv[-1], sys.argv[1]
fd = os.open(fifo, os.O_RDWR)  # never waits for a writer
with open(out, "a") as f:
    f.write("ready\\n")
with os.fdopen(fd, "rb", buffering=0) as r:
    for line in iter(r.readline, b""):
        with open(out, "a") as f:
            f.write(line.decode())
"""


async def test_real_server_down_up_reach_the_lvs_fifo_script(tmp_path: Path) -> None:
    fifo, out = tmp_path / "lvs.fifo", tmp_path / "seen.txt"
    script = tmp_path / "reader.py"
    script.write_text(READER_SCRIPT)
    gd = GlobalDefs(
        lvs_notify_fifo=str(fifo),
        lvs_notify_fifo_script=f"{sys.executable} {script} {out}",
        vrrp_notify_fifo=str(tmp_path / "vrrp.fifo"),  # no reader: lines dropped, no block
    )
    e = Engine(replace(config(), global_defs=gd), dataplane=MemoryDataplane())
    await e.start()
    try:
        await async_wait_until(lambda: out.exists() and "ready" in out.read_text(), timeout=10)
        e.set_health(SK, R[0], Health.DOWN, reason="connection refused")
        want_down = f"RS [{R[0].addr}]:80 [198.51.100.9]:tcp:80 DOWN"
        await async_wait_until(lambda: want_down in out.read_text(), timeout=10)
        e.set_health(SK, R[0], Health.UP, reason="ok")
        want_up = f"RS [{R[0].addr}]:80 [198.51.100.9]:tcp:80 UP"
        await async_wait_until(lambda: want_up in out.read_text(), timeout=10)
    finally:
        await e.stop()
    seen = out.read_text().splitlines()
    rs = [x for x in seen if x.startswith("RS ")]
    assert rs == [want_down, want_up]
    assert (tmp_path / "vrrp.fifo").is_fifo()


def test_no_reader_drops_lines_without_blocking(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    w = FifoWriter(str(tmp_path / "f"))
    assert w.create()
    for _ in range(3):
        assert not w.write('INSTANCE "VI_1" MASTER 100')
    assert (w.written, w.dropped) == (0, 3)
    # rate-limited: one warning for the burst
    assert [r.message for r in caplog.records].count(
        f"notify FIFO {w.path}: no reader; 1 line(s) dropped"
    ) == 1
    reader = Reader(tmp_path / "f")
    try:
        assert w.write("VS [192.0.2.10]:tcp:80 UP")
        assert reader.lines() == ["VS [192.0.2.10]:tcp:80 UP"]
    finally:
        reader.close()
        w.close()
    # a reader gone: the next line is dropped (EPIPE), then reopened with a new reader
    assert not w.write("lost")
    reader = Reader(tmp_path / "f")
    try:
        assert w.write("again") and reader.lines() == ["again"]
    finally:
        reader.close()
        w.close()


def test_a_path_that_is_not_a_fifo_is_left_alone(tmp_path: Path) -> None:
    f = tmp_path / "plain"
    f.write_text("keep me")
    w = FifoWriter(str(f))
    assert not w.create()
    assert not w.write("RS x y UP")
    assert f.read_text() == "keep me"


def test_import_converts_the_fifo_directives() -> None:
    text = """\
global_defs {
  notify_fifo /run/ka.fifo
  notify_fifo_script /usr/local/bin/all.sh
  vrrp_notify_fifo /run/vrrp.fifo
  vrrp_notify_fifo_script /usr/local/bin/vrrp.sh
  lvs_notify_fifo /run/lvs.fifo
  lvs_notify_fifo_script /usr/local/bin/lvs.sh
}
"""
    res = import_keepalived_text(text, "k.conf")
    assert res.notes == ()
    gd = res.config.global_defs
    assert (gd.notify_fifo, gd.notify_fifo_script) == ("/run/ka.fifo", "/usr/local/bin/all.sh")
    assert (gd.vrrp_notify_fifo, gd.vrrp_notify_fifo_script) == (
        "/run/vrrp.fifo",
        "/usr/local/bin/vrrp.sh",
    )
    assert (gd.lvs_notify_fifo, gd.lvs_notify_fifo_script) == (
        "/run/lvs.fifo",
        "/usr/local/bin/lvs.sh",
    )
    again = load_config_text(tomli_w.dumps(to_toml_dict(res.config)), res.config.path)
    assert again == res.config


def test_a_fifo_script_without_its_fifo_is_refused() -> None:
    with pytest.raises(ConfigErrors, match="set without vrrp_notify_fifo"):
        load_config_text('[global_defs]\nvrrp_notify_fifo_script = "/bin/true"\n', "x.toml")


def test_import_keeps_the_user_of_a_fifo_script() -> None:
    """keepalived's `notify_fifo_script "CMD" USER [GROUP]`: CMD runs as USER (the group is
    left out, as for script_user); before, the user became an argument of the command."""
    text = (
        'global_defs {\n  notify_fifo /run/ka.fifo\n  notify_fifo_script "/bin/cat -u" nobody'
        " nogroup\n  lvs_notify_fifo /run/lvs.fifo\n  lvs_notify_fifo_script /bin/cat\n}\n"
    )
    res = import_keepalived_text(text, "k.conf")
    gd = res.config.global_defs
    assert (gd.notify_fifo_script, gd.notify_fifo_script_user) == ("/bin/cat -u", "nobody")
    assert (gd.lvs_notify_fifo_script, gd.lvs_notify_fifo_script_user) == ("/bin/cat", "")
    assert [n.message for n in res.notes] == [
        "group 'nogroup' left out: the script runs with 'nobody''s own groups"
    ]
    again = load_config_text(tomli_w.dumps(to_toml_dict(res.config)), res.config.path)
    assert again == res.config


def test_a_fifo_script_user_needs_its_script_and_must_exist(tmp_path: Path) -> None:
    from lvstui.config.load import load_config

    with pytest.raises(ConfigErrors, match="set without lvs_notify_fifo_script"):
        load_config_text(
            '[global_defs]\nlvs_notify_fifo = "/run/x"\nlvs_notify_fifo_script_user = "nobody"\n',
            "x.toml",
        )
    path = tmp_path / "c.toml"
    path.write_text(
        '[global_defs]\nvrrp_notify_fifo = "/run/x"\nvrrp_notify_fifo_script = "/bin/cat"\n'
        'vrrp_notify_fifo_script_user = "lvt-no-such-user"\n'
    )
    with pytest.raises(ConfigErrors, match="no such user 'lvt-no-such-user'") as info:
        load_config(str(path))
    assert info.value.errors[0].line == 4


@pytest.mark.root
async def test_a_fifo_script_runs_as_its_user() -> None:
    """The script of vrrp_notify_fifo runs as nobody, the other as lvstui's user (root)."""
    import tempfile

    if os.geteuid() != 0:
        pytest.skip("switching users needs root (CI runs it as root)")
    work = Path(tempfile.mkdtemp(prefix="lvt-fifo-"))  # outside pytest's 0700 tree
    os.chmod(work, 0o777)
    try:
        gd = GlobalDefs(
            vrrp_notify_fifo=str(work / "v.fifo"),
            vrrp_notify_fifo_script=f"/bin/sh -c 'id -u > {work}/v.uid'",
            vrrp_notify_fifo_script_user="nobody",
            lvs_notify_fifo=str(work / "l.fifo"),
            lvs_notify_fifo_script=f"/bin/sh -c 'id -u > {work}/l.uid'",
        )
        fifos = NotifyFifos.from_config(gd)
        assert fifos is not None
        import asyncio

        task = asyncio.create_task(fifos.run())
        try:
            await async_wait_until(
                lambda: all(
                    (work / f).exists() and (work / f).read_text() for f in ("v.uid", "l.uid")
                ),
                timeout=10,
            )
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        import pwd

        assert (work / "v.uid").read_text().strip() == str(pwd.getpwnam("nobody").pw_uid)
        assert (work / "l.uid").read_text().strip() == "0"
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
