"""script_user and enable_script_security: keepalived's default script user and its rule for
scripts a non-root user could change, on real files with real owners and modes."""

from __future__ import annotations

import asyncio
import os
import pwd
import stat
from pathlib import Path

import pytest

from lvstui.child import resolve_user
from lvstui.cli import main
from lvstui.config.dump import to_toml_dict
from lvstui.config.keepalived import import_keepalived_text
from lvstui.config.load import ConfigErrors, load_config, load_config_disabled, load_config_text
from lvstui.config.schema import MiscCheck
from lvstui.config.scripts import insecure, scripts
from lvstui.notify.scripts import Job, ScriptRunner

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="changes file owners (needs root)")
NOBODY = pwd.getpwnam("nobody")


def _script(directory: Path, mode: int = 0o755) -> Path:
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    path = directory / "notify.sh"
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return path


CONFIG = """\
[global_defs]
{global_defs}

[vrrp_script.chk]
script = "{script}"

[vrrp_instance.VI_1]
interface = "lo"
virtual_router_id = 51
track_script = ["chk"]
virtual_ipaddress = ["192.0.2.1"]
notify_master = "{script} master"

[[virtual_server]]
ip = "192.0.2.1"
port = 80
quorum_up = "{script}"

[[virtual_server.real_server]]
ip = "192.0.2.10"
port = 80

[[virtual_server.real_server.misc_check]]
misc_path = "{script} check"
"""


def _config(tmp_path: Path, script: Path, global_defs: str = "") -> Path:
    path = tmp_path / "lvstui.toml"
    path.write_text(CONFIG.format(script=script, global_defs=global_defs))
    return path


@ROOT_ONLY
def test_keepalived_rule_on_real_files(tmp_path: Path) -> None:
    base = tmp_path / "scripts"
    good = _script(base / "good")
    assert insecure(str(good), as_root=True) is None
    # the file writable by everyone
    loose = _script(base / "loose", 0o757)
    assert "writable by everyone" in (insecure(str(loose), as_root=True) or "")
    # a directory on the way owned by a non-root user: it could swap the file
    owned = _script(base / "owned")
    os.chown(owned.parent, NOBODY.pw_uid, 0)
    why = insecure(str(owned), as_root=True) or ""
    assert f"{owned.parent} is owned by uid {NOBODY.pw_uid}" in why
    # a directory writable by a group other than root
    grouped = _script(base / "grouped")
    os.chown(grouped.parent, 0, NOBODY.pw_gid)
    grouped.parent.chmod(0o775)
    assert f"writable by group {NOBODY.pw_gid}" in (insecure(str(grouped), as_root=True) or "")
    # ... but writable by root's group only is fine, and so is a sticky world-writable
    # directory (/tmp): others may not replace what they do not own there
    os.chown(grouped.parent, 0, 0)
    assert insecure(str(grouped), as_root=True) is None
    sticky = _script(base / "sticky")
    sticky.parent.chmod(0o1777)
    assert stat.S_IMODE(sticky.parent.stat().st_mode) == 0o1777
    assert insecure(str(sticky), as_root=True) is None
    # not root: nothing to protect, unless the file is set-uid root
    assert insecure(str(loose), as_root=False) is None
    setuid = _script(base / "setuid", 0o4757)
    assert insecure(str(setuid), as_root=False) is not None
    # a doubled slash and a name found in PATH are judged like the path they name
    assert insecure(str(loose).replace("/loose/", "//loose/"), as_root=True) is not None
    assert insecure("sh", as_root=True) is None  # /usr/bin/sh: root's
    assert insecure(str(base / "missing"), as_root=True) is None  # fails when run instead


@ROOT_ONLY
def test_enable_script_security_disables_each_insecure_script_and_runs_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loose = _script(tmp_path / "s", 0o757)
    fifo = f'notify_fifo = "{tmp_path}/fifo"\nnotify_fifo_script = "{loose} fifo"'
    path = _config(tmp_path, loose, f"enable_script_security = true\n{fifo}")
    # a secure vrrp_script and MISC_CHECK beside the insecure ones: those stay
    text = path.read_text().replace('track_script = ["chk"]', 'track_script = ["chk", "ok"]')
    text = text.replace(
        "[vrrp_instance.VI_1]", '[vrrp_script.ok]\nscript = "/bin/true"\n\n[vrrp_instance.VI_1]'
    )
    text += '\n[[virtual_server.real_server.misc_check]]\nmisc_path = "/bin/true"\n'
    path.write_text(text)
    config, disabled = load_config_disabled(path)
    keys = sorted(line.split(": ")[1] for line in disabled)
    assert keys == [
        "global_defs.notify_fifo_script",
        "virtual_server[0].quorum_up",
        "virtual_server[0].real_server[0].misc_check[0].misc_path",
        "vrrp_instance.VI_1.notify_master",
        "vrrp_script.chk.script",
    ]
    assert (
        f"{path}:17: vrrp_instance.VI_1.notify_master: warning: notify script disabled"
        in "\n".join(disabled)
    )
    assert all("writable by everyone" in line for line in disabled)
    # keepalived's way: the vrrp_script and its track_script entries go, the instance stays;
    # the MISC_CHECK goes, the server's other check stays; notify and quorum scripts are unset
    assert [s.name for s in config.vrrp_scripts] == ["ok"]
    assert (config.global_defs.notify_fifo, config.global_defs.notify_fifo_script) == (
        f"{tmp_path}/fifo",
        "",
    )
    (vi,) = config.vrrp_instances
    assert (vi.track_script, vi.notify_master) == (("ok",), None)
    (vs,) = config.virtual_servers
    assert vs.quorum_up is None
    assert [c.misc_path for c in vs.real_servers[0].checks if isinstance(c, MiscCheck)] == [
        "/bin/true"
    ]
    assert load_config(path) == config  # the daemon's loader: the same, the lines logged
    assert main(["check-config", "-f", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("disabled (enable_script_security, as keepalived does)") == 5
    # without it: the same file loads, and check-config warns about each script
    path = _config(tmp_path, loose)
    load_config(path)
    assert main(["check-config", "-f", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count(": warning: insecure script:") == 4
    # run as another user (script_user), the scripts are no risk to root: accepted
    path = _config(tmp_path, loose, 'enable_script_security = true\nscript_user = "nobody"')
    load_config(path)
    # and fixed permissions are accepted as root too
    loose.chmod(0o755)
    load_config(_config(tmp_path, loose, "enable_script_security = true"))


def test_scripts_keepalived_cannot_run_are_disabled_without_script_security(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Missing, not in PATH, or not executable: keepalived disables such a script whatever
    enable_script_security says (its `-t`: tests/config/test_script_security_ka.py)."""
    plain = _script(tmp_path / "s", 0o644)  # not executable for anyone
    path = _config(tmp_path, plain)
    text = path.read_text().replace(f'script = "{plain}"', 'script = "lvt-scriptsec-no-such"')
    text = text.replace(f'quorum_up = "{plain}"', f'quorum_up = "{tmp_path}/gone.sh"')
    text += '\n[[virtual_server.real_server.misc_check]]\nmisc_path = "/bin/true"\n'
    path.write_text(text)
    config, disabled = load_config_disabled(path)
    whys = {line.split(": ")[1]: line.split("does): ")[1] for line in disabled}
    assert whys == {
        "vrrp_script.chk.script": "lvt-scriptsec-no-such is not found in PATH; it is not run "
        "and every track_script on it is dropped",
        "vrrp_instance.VI_1.notify_master": f"{plain} is not executable for uid "
        f"{os.geteuid()}; it is not run",
        "virtual_server[0].quorum_up": f"{tmp_path}/gone.sh cannot be accessed: No such file "
        "or directory; it is not run",
        "virtual_server[0].real_server[0].misc_check[0].misc_path": f"{plain} is not "
        f"executable for uid {os.geteuid()}; the check is removed; the server's other checks "
        "decide",
    }
    (vi,) = config.vrrp_instances
    assert (config.vrrp_scripts, vi.track_script, vi.notify_master) == ((), (), None)
    checks = config.virtual_servers[0].real_servers[0].checks
    assert [c.misc_path for c in checks if isinstance(c, MiscCheck)] == ["/bin/true"]
    assert main(["check-config", "-f", str(path)]) == 0
    assert capsys.readouterr().out.count("disabled (as keepalived does)") == 4


def test_script_user_is_the_default_user_of_every_script(tmp_path: Path) -> None:
    text = CONFIG.format(script="/bin/true", global_defs='script_user = "nobody"')
    text = text.replace('script = "/bin/true"', 'script = "/bin/true"\nuser = "root"')
    config = load_config_text(text)
    assert config.global_defs.script_user == "nobody"
    assert [s.user for s in config.vrrp_scripts] == ["root"]  # its own user stays
    (check,) = config.virtual_servers[0].real_servers[0].checks
    assert isinstance(check, MiscCheck) and check.user == "nobody"
    assert {s.path[-1]: s.user for s in scripts(config)} == {
        "script": "root",
        "notify_master": "nobody",
        "quorum_up": "nobody",
        "misc_path": "nobody",
    }
    # written back, the default stays in one place
    data = to_toml_dict(config)
    assert data["vrrp_script"]["chk"]["user"] == "root"
    assert "user" not in data["virtual_server"][0]["real_server"][0]["misc_check"][0]
    assert load_config_text(_toml(data)) == config


def _toml(data: dict[str, object]) -> str:
    import tomli_w

    return tomli_w.dumps(data)


def test_import_converts_both_directives() -> None:
    res = import_keepalived_text(
        """\
global_defs {
    script_user nobody nogroup
    enable_script_security
}
vrrp_script chk {
    script "/bin/true"
}
""",
        "k.conf",
    )
    gd = res.config.global_defs
    assert (gd.script_user, gd.enable_script_security) == ("nobody", True)
    assert [(n.line, n.directive) for n in res.notes] == [(2, "script_user")]
    assert "group 'nogroup' left out" in res.notes[0].message


@ROOT_ONLY
def test_notify_scripts_run_as_script_user() -> None:
    runner = ScriptRunner(timeout=10, credentials=resolve_user("nobody"))
    result = asyncio.run(runner.run_one(Job("notify_master VI_1", "id -u")))
    assert result.ok and result.detail == f"exit 0: {NOBODY.pw_uid}"
    as_us = asyncio.run(ScriptRunner(timeout=10).run_one(Job("notify_master VI_1", "id -u")))
    assert as_us.detail == "exit 0: 0"


def test_an_unknown_script_user_is_refused_at_load(tmp_path: Path) -> None:
    path = _config(tmp_path, Path("/bin/true"), 'script_user = "kaparity2-no-such-user"')
    with pytest.raises(ConfigErrors) as exc:
        load_config(path)
    (error,) = exc.value.errors
    assert (error.key, error.line) == ("global_defs.script_user", 2)
    assert "no such user 'kaparity2-no-such-user'" in error.detail


def test_a_reload_gives_notify_scripts_the_new_script_user() -> None:
    import logging

    from lvstui.engine.alerts import Alerts
    from lvstui.engine.bus import EventBus, Journal

    runner = ScriptRunner(timeout=10)
    alerts = Alerts(runner, None, Journal(EventBus(), logging.getLogger("kaparity2-test")))
    text = CONFIG.format(script="/bin/true", global_defs='script_user = "nobody"')
    alerts.reconfigure(load_config_text(text), global_defs_changed=True)
    assert runner.credentials == resolve_user("nobody")
    alerts.reconfigure(load_config_text(CONFIG.format(script="/bin/true", global_defs="")), True)
    assert runner.credentials is None
