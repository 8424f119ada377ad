"""Fixtures for the engine tests."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from tests.engine.daemon_lab import daemon_lab  # noqa: F401 (a real daemon process: a fixture)


@pytest.fixture
def recorder(tmp_path: Path) -> tuple[Path, Path]:
    """A script that appends its arguments to a log file: (script, log)."""
    log = tmp_path / "notify.log"
    script = tmp_path / "record.py"
    script.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log
