"""One concept per module: no module in lvstui/ over 600 lines (issue 11)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import REPO

LIMIT = 600

# Temporary, each named with why: remove an entry when its module is split (the test fails
# while an entry is stale, so the list cannot outlive the work).
EXCEPTIONS: frozenset[str] = frozenset()


def _lines() -> dict[str, int]:
    return {
        str(p.relative_to(REPO)): len(p.read_text(encoding="utf-8").splitlines())
        for p in sorted((REPO / "lvstui").rglob("*.py"))
    }


def test_no_module_over_the_limit() -> None:
    over = {name: n for name, n in _lines().items() if n > LIMIT and name not in EXCEPTIONS}
    assert not over, f"modules over {LIMIT} lines (split them along their seams): {over}"


def test_exceptions_are_still_needed() -> None:
    lines = _lines()
    stale = sorted(name for name in EXCEPTIONS if lines.get(name, 0) <= LIMIT)
    assert not stale, f"no longer over {LIMIT} lines (or gone): drop from EXCEPTIONS: {stale}"


def test_the_count_sees_every_module() -> None:
    # the walk must reach subpackages, or a split into a package would hide its modules
    names = _lines()
    assert "lvstui/config/keepalived/convert.py" in names
    assert all(Path(REPO / n).suffix == ".py" for n in names)
