"""The Debian package (debian/) and `pipx install .`: built from a copy of the repository,
installed, used, and removed without leaving a file behind (issue 17, build 4)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO, require_cmd, require_root

# Debian's own tools and python3, never a developer's pyenv or venv first on PATH
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# what the copy leaves out: caches, virtualenvs and a previous build's leftovers
_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", ".*_cache", ".pybuild", ".buildvenv", "*.egg-info", "build"
)


def _run(
    *cmd: str, timeout: float = 120, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": SYSTEM_PATH, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
        | {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
        | env,
    )


def _copy_repo(dest: Path) -> Path:
    shutil.copytree(REPO, dest, ignore=_IGNORE, symlinks=True)
    return dest


def _installed(package: str) -> bool:
    r = _run("dpkg-query", "-W", "-f=${Status}", package)
    return r.returncode == 0 and "installed" in r.stdout.split()


def _owned_only_by(path: str, package: str) -> bool:
    """A directory dpkg will remove on purge: no other package lists it."""
    r = _run("dpkg-query", "-S", path)
    owners = {o.strip() for line in r.stdout.splitlines() for o in line.split(":")[0].split(",")}
    return owners == {package}


def test_deb_builds_installs_runs_and_purges_clean(tmp_path: Path) -> None:
    require_root("installing a .deb with dpkg -i")
    require_cmd("dpkg-buildpackage", "dh", "pybuild", "systemd-analyze")
    if _installed("lvstui"):
        pytest.skip("an lvstui package is already installed here: the test would replace it")
    src = _copy_repo(tmp_path / "lvstui")
    built = _run("dpkg-buildpackage", "-b", "-us", "-uc", cwd=src, timeout=600)
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    (debfile,) = tmp_path.glob("lvstui_*.deb")
    depends = _run("dpkg-deb", "-f", str(debfile), "Depends").stdout
    assert "python3-textual" not in depends  # the bundle is complete; Debian's are too old

    installed = _run("dpkg", "-i", str(debfile))
    try:
        assert installed.returncode == 0, installed.stdout + installed.stderr
        files = _run("dpkg-query", "-L", "lvstui").stdout.split()
        for path in (
            "/usr/bin/lvstui",
            "/lib/systemd/system/lvstui.service",
            "/usr/share/man/man8/lvstui.8.gz",
            "/usr/share/man/man5/lvstui.toml.5.gz",
            "/etc/lvstui/config.toml.example",
            "/var/lib/lvstui",
            "/usr/share/bash-completion/completions/lvstui",
            "/usr/share/zsh/vendor-completions/_lvstui",
        ):
            assert path in files and Path(path).exists(), path
        bash = Path("/usr/share/bash-completion/completions/lvstui").read_text()
        zsh = Path("/usr/share/zsh/vendor-completions/_lvstui").read_text()
        assert "_shtab_lvstui" in bash and "_lvstui_ctl_targets" in bash
        assert zsh.startswith("#compdef lvstui") and "_lvstui_ctl_targets" in zsh
        mine = [f for f in files if not Path(f).is_dir() or _owned_only_by(f, "lvstui")]
        assert {"/usr/lib/lvstui", "/etc/lvstui", "/var/lib/lvstui"} <= set(mine)

        version = _run("/usr/bin/lvstui", "--version")
        assert version.returncode == 0, version.stderr
        assert version.stdout.strip() == "lvstui 0.1.0"
        check = _run("/usr/bin/lvstui", "check-config", "-f", "/etc/lvstui/config.toml.example")
        assert check.returncode == 0, check.stdout + check.stderr
        assert "valid:" in check.stdout + check.stderr
        unit = Path("/lib/systemd/system/lvstui.service").read_text()
        assert "/usr/local/bin" not in unit and "ExecStart=/usr/bin/lvstui " in unit
        verify = _run("systemd-analyze", "verify", "/lib/systemd/system/lvstui.service")
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        purged = _run("dpkg", "--purge", "lvstui")
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert not _installed("lvstui")
    left = [f for f in mine if os.path.lexists(f)]
    assert left == [], left
    assert not list(Path("/var/lib/systemd").glob("deb-systemd-helper-*/lvstui*"))


def test_pipx_install_gives_a_working_command(tmp_path: Path) -> None:
    require_cmd("pipx")
    src = _copy_repo(tmp_path / "lvstui")
    home, bin_dir = tmp_path / "pipx", tmp_path / "bin"
    r = _run(
        "pipx", "install", str(src), timeout=600, PIPX_HOME=str(home), PIPX_BIN_DIR=str(bin_dir)
    )
    assert r.returncode == 0, r.stdout + r.stderr
    version = _run(str(bin_dir / "lvstui"), "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == "lvstui 0.1.0"
