"""packaging/prometheus/lvstui-rules.yml: valid for promtool, and each alert fires (and stays
quiet) as tests/packaging/lvstui-rules.test.yml says."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.prometheus

RULES = REPO / "packaging" / "prometheus" / "lvstui-rules.yml"
HERE = Path(__file__).parent


def _promtool() -> str:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("no promtool (apt install prometheus)")
    return tool


def test_rules_are_valid() -> None:
    r = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 7 rules found" in r.stdout


def test_rules_fire_as_the_unit_tests_say() -> None:
    r = subprocess.run(
        [_promtool(), "test", "rules", "lvstui-rules.test.yml"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=HERE,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_every_rule_uses_a_family_lvstui_serves() -> None:
    """A rule on a metric nobody serves never fires: each family the rules name is one
    lvstui.metrics knows."""
    import re

    text = RULES.read_text()
    names = set(re.findall(r"\b(lvstui_[a-z_]+)\b", text))
    source = (REPO / "lvstui" / "metrics.py").read_text()
    assert names, "no lvstui_ metric in the rules"
    missing = {n for n in names if f'"{n}"' not in source}
    assert not missing, f"rules use families lvstui does not serve: {sorted(missing)}"
