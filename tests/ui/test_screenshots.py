"""docs/images: the console screenshots are made by scripts/screenshots and are up to date."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

SCRIPT = REPO / "scripts" / "screenshots"
SCENES = ("main", "drain", "drill-down")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_committed_screenshots_are_current_and_linked() -> None:
    # the SVGs are deterministic (FakeClient, UTC): what the script makes now must be what
    # docs/images holds, else someone changed the console without running the script
    done = _run("--check")
    assert done.returncode == 0, done.stderr
    page = (REPO / "docs" / "console.md").read_text(encoding="utf-8")
    for scene in SCENES:
        png = REPO / "docs" / "images" / f"console-{scene}.png"
        width, height = _png_size(png)
        assert width > 1000 and height > 600, (png, width, height)
        assert f"images/console-{scene}.png" in page


def test_check_fails_on_a_stale_screenshot(tmp_path: Path) -> None:
    for scene in SCENES:
        shutil.copy(REPO / "docs" / "images" / f"console-{scene}.svg", tmp_path)
    svg = tmp_path / "console-drain.svg"
    svg.write_text(svg.read_text(encoding="utf-8").replace("drain", "dr4in"), encoding="utf-8")
    done = _run("--check", "--out", str(tmp_path))
    assert done.returncode == 1
    assert "console-drain.svg" in done.stderr


@pytest.mark.skipif(
    shutil.which("rsvg-convert") is None, reason="needs rsvg-convert (apt: librsvg2-bin)"
)
def test_the_script_makes_svg_and_png(tmp_path: Path) -> None:
    done = _run("--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    for scene in SCENES:
        svg = (tmp_path / f"console-{scene}.svg").read_text(encoding="utf-8")
        assert svg.startswith("<svg") and f"lvstui&#160;—&#160;{scene}" in svg
        assert _png_size(tmp_path / f"console-{scene}.png")[0] > 1000
