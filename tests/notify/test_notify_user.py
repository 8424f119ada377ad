"""A user per notify command: keepalived's `notify_master "CMD" USER [GROUP]` (and notify,
notify_backup/fault/stop on instances and sync groups, notify_up/down on real servers) is
imported as `notify_master_user`, kept in the TOML model and used where the command runs."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest
import tomli_w

from lvstui.clock import FakeClock
from lvstui.config.dump import to_toml_dict
from lvstui.config.keepalived import import_keepalived_text
from lvstui.config.load import ConfigErrors, load_config_text
from lvstui.config.schema import Config, VrrpSyncGroup
from lvstui.model import VrrpRunState as S
from lvstui.notify.scripts import Job, ScriptRunner
from lvstui.vrrp.transport import MemoryHub
from tests.helpers import async_wait_until
from tests.vrrp.test_node import Director, inst, until

KEEPALIVED = """\
vrrp_sync_group G {
  group {
    VI_1
  }
  notify_master "/bin/g-master" nobody nogroup
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority 100
  virtual_ipaddress {
    192.0.2.1
  }
  notify_master "/bin/master arg" nobody
  notify_backup /bin/backup
  notify "/bin/all"
}
virtual_server 192.0.2.1 80 {
  protocol TCP
  real_server 198.51.100.11 80 {
    notify_up "/bin/up" daemon
    notify_down "/bin/down"
  }
}
"""


def test_import_keeps_each_commands_user_and_the_toml_round_trips() -> None:
    res = import_keepalived_text(KEEPALIVED, "k.conf")
    c = res.config
    (g,) = c.vrrp_sync_groups
    assert (g.notify_master, g.notify_master_user) == ("/bin/g-master", "nobody")
    (i,) = c.vrrp_instances
    assert (i.notify_master, i.notify_master_user) == ("/bin/master arg", "nobody")
    assert (i.notify_backup, i.notify_backup_user) == ("/bin/backup", "")
    assert (i.notify, i.notify_user) == ("/bin/all", "")
    (rs,) = c.virtual_servers[0].real_servers
    assert (rs.notify_up, rs.notify_up_user) == ("/bin/up", "daemon")
    assert (rs.notify_down, rs.notify_down_user) == ("/bin/down", "")
    assert [n.message for n in res.notes] == [
        "group 'nogroup' left out: the script runs with 'nobody''s own groups"
    ]
    text = tomli_w.dumps(to_toml_dict(c))
    assert 'notify_master_user = "nobody"' in text
    assert load_config_text(text, c.path) == c


def test_a_user_without_its_command_is_refused() -> None:
    toml = """\
[vrrp_instance.VI_1]
interface = "eth0"
virtual_router_id = 51
priority = 100
virtual_ipaddress = ["192.0.2.1"]
notify_fault_user = "nobody"
"""
    with pytest.raises(ConfigErrors, match="set without notify_fault: no command to run"):
        load_config_text(toml, "x.toml")


async def test_a_user_this_host_lacks_skips_the_command(tmp_path: Path) -> None:
    """keepalived -t accepts such a file (exit 0, no message) and skips the command when it
    should run; so does lvstui, reporting it as a failed notify."""
    mark = tmp_path / "ran"
    runner = ScriptRunner()
    job = Job("notify_master VI_1", f"/usr/bin/touch {mark}", user="lvt-no-such-user")
    result = await runner.run_one(job)
    assert not result.ok
    assert result.detail == "not run: no such user 'lvt-no-such-user'"
    assert not mark.exists()


@pytest.mark.root
async def test_vrrp_notify_commands_run_as_their_user() -> None:
    """Through a VRRP instance and its sync group becoming MASTER: the commands given
    `nobody` run as nobody, the one without a user as lvstui's user (root)."""
    if os.geteuid() != 0:
        pytest.skip("switching users needs root (CI runs it as root)")
    work = Path(tempfile.mkdtemp(prefix="lvt-notifyuser-"))  # outside pytest's 0700 tree
    os.chmod(work, 0o777)

    def writes(name: str) -> str:
        return f"/bin/sh -c 'id -u > {work}/{name}'"

    try:
        cfg = Config(
            vrrp_instances=(
                inst(
                    100,
                    notify_master=writes("master"),
                    notify_master_user="nobody",
                    notify_backup=writes("backup"),
                ),
            ),
            vrrp_sync_groups=(
                VrrpSyncGroup(
                    "G", ("VI_1",), notify_master=writes("group"), notify_master_user="nobody"
                ),
            ),
        )
        clock = FakeClock()
        d = Director(MemoryHub(), clock, "198.51.100.11", cfg)
        await d.group.start()
        try:
            await until(clock, lambda: d.state() == S.MASTER)
            files = ("master", "backup", "group")
            await async_wait_until(
                lambda: all((work / f).exists() and (work / f).read_text() for f in files),
                timeout=10,
            )
        finally:
            await d.group.stop()
        nobody = str(pwd.getpwnam("nobody").pw_uid)
        assert (work / "master").read_text().strip() == nobody
        assert (work / "group").read_text().strip() == nobody
        assert (work / "backup").read_text().strip() == "0"
    finally:
        shutil.rmtree(work, ignore_errors=True)
