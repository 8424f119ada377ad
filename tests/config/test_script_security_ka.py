"""enable_script_security judged as keepalived 2.2.7 judges it: the same scripts on real
files (world-writable, a directory owned or writable by another user, a sticky directory)
are insecure for `keepalived -t` ("Disabling track script NAME due to insecure") and for
lvstui's check on the imported file, and both leave out just those (keepalived's daemon runs
the rest; its `-t` reports the disabled track scripts with exit status 5)."""

from __future__ import annotations

import os
import pwd
import re
from pathlib import Path

import pytest

from lvstui.config.keepalived import import_keepalived_text
from lvstui.config.scripts import script_problems
from lvstui.config.scriptsec import disable_scripts
from tests.config.kaimport import keepalived_t

NOBODY = pwd.getpwnam("nobody")
NAMES = ("good", "loose", "owned", "grouped", "sticky")


def layout(base: Path) -> None:
    for name in NAMES:
        (base / name).mkdir(parents=True)
        script = base / name / "s.sh"
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
    (base / "loose" / "s.sh").chmod(0o757)
    os.chown(base / "owned", NOBODY.pw_uid, 0)
    os.chown(base / "grouped", 0, NOBODY.pw_gid)
    (base / "grouped").chmod(0o775)
    (base / "sticky").chmod(0o1777)


def conf(base: Path) -> str:
    scripts = "".join(f'vrrp_script {n} {{\n  script "{base}/{n}/s.sh"\n}}\n' for n in NAMES)
    tracked = "".join(f"    {n}\n" for n in NAMES)
    return (
        "global_defs {\n  enable_script_security\n  script_user root\n}\n"
        + scripts
        + "vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n"
        f"  priority 100\n  track_script {{\n{tracked}  }}\n"
        "  virtual_ipaddress {\n    192.0.2.10/24\n  }\n}\n"
    )


@pytest.mark.keepalived
@pytest.mark.root
def test_the_same_scripts_are_insecure(tmp_path: Path, interfaces_netns: str) -> None:
    base = tmp_path / "scripts"
    layout(base)
    text = conf(base)
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    proc = keepalived_t(interfaces_netns, str(path))
    theirs = set(re.findall(r"Disabling track script (\w+) due to insecure", proc.stderr))
    result = import_keepalived_text(text, str(path), None)
    config = result.config
    ours = {script.path[1] for script, _why in script_problems(config)}
    assert theirs == ours == {"loose", "owned", "grouped"}, (theirs, ours, proc.stderr)
    # keepalived disables those and tracks the rest; the instance is not refused, nor FAULT
    # (the run itself: tests/vrrp/test_lab_scriptsec.py); so does lvstui's loader
    kept, disabled = disable_scripts(config)
    assert kept.vrrp_instances[0].track_script == tuple(n for n in NAMES if n not in theirs)
    assert {d.path[1] for d in disabled} == theirs
    assert [s.name for s in kept.vrrp_scripts] == ["good", "sticky"]
    # and the import says so, at each vrrp_script's line
    noted = {n.directive: n.line for n in result.notes if "enable_script_security" in n.message}
    assert noted == {f"vrrp_script.{n}.script": 6 + 3 * NAMES.index(n) for n in theirs}


@pytest.mark.keepalived
@pytest.mark.root
def test_scripts_that_cannot_run_are_disabled_alike(tmp_path: Path, interfaces_netns: str) -> None:
    """Without enable_script_security too: a missing script or a bare name not in PATH is
    disabled by keepalived ("since not found/accessible") and by lvstui's loader; so is a
    script not executable for its user (keepalived says so only in its run-time log)."""
    (tmp_path / "good.sh").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "good.sh").chmod(0o755)
    (tmp_path / "plain.sh").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "plain.sh").chmod(0o644)
    commands = {
        "good": tmp_path / "good.sh",
        "gone": tmp_path / "gone.sh",
        "bare": "lvt-scriptsec-no-such arg",
        "plain": tmp_path / "plain.sh",
    }
    text = "".join(f'vrrp_script {n} {{\n  script "{c}"\n}}\n' for n, c in commands.items())
    tracked = "".join(f"    {n}\n" for n in commands)
    text += (
        "vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n"
        f"  priority 100\n  track_script {{\n{tracked}  }}\n"
        "  virtual_ipaddress {\n    192.0.2.10/24\n  }\n}\n"
    )
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    proc = keepalived_t(interfaces_netns, str(path))
    theirs = set(re.findall(r"Disabling track script (\w+) since not found", proc.stderr))
    kept, disabled = disable_scripts(import_keepalived_text(text, str(path), None).config)
    assert theirs == {"gone", "bare"}, proc.stderr
    assert {d.path[1] for d in disabled} == theirs | {"plain"}
    assert kept.vrrp_instances[0].track_script == ("good",)
