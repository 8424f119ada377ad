"""The daemon and the socket commands never load the console's libraries."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import REPO

HEADLESS = [
    "lvstui.wiring",
    "lvstui.daemon",
    "lvstui.commands.run",
    "lvstui.commands.list_cmd",
    "lvstui.commands.status",
    "lvstui.commands.ctl",
    "lvstui.commands.demo",
    "lvstui.commands.realserver",
    "lvstui.commands.director",
    "lvstui.control.server",
    "lvstui.control.client",
    "lvstui.control.protocol",
    "lvstui.demo.servers",
]
CONSOLE = ("textual", "rich", "plotext", "lvstui.ui")


def test_headless_modules_do_not_import_the_console() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for m in {HEADLESS!r}: importlib.import_module(m)\n"
        "from lvstui.cli import build_parser; build_parser()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    bad = [m for m in loaded if m.split(".")[0] in CONSOLE or m.startswith("lvstui.ui")]
    assert bad == []
    assert "lvstui.daemon" in loaded  # the check really imported something
