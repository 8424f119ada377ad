"""The engine's shape, kept: its class holds the loop and the wiring only, and it reaches its
collaborators through typed edges (every module's size: test_module_size.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

ENGINE = REPO / "lvstui" / "engine"
ENGINE_LOOP_MAX = 400  # engine.py: the loop and the wiring between the parts


def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_engine_keeps_only_its_loop_and_wiring() -> None:
    assert lines(ENGINE / "engine.py") < ENGINE_LOOP_MAX


def probes(path: Path, root: Path = REPO) -> list[str]:
    """Each getattr/hasattr call in `path` (any of them: the engine's collaborators have
    Protocols, and its data have fields), as FILE:LINE."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(root)}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "hasattr")
    ]


def test_engine_never_probes_its_collaborators() -> None:
    assert sorted(ENGINE.glob("*.py"))  # the check really reads something
    assert [p for f in sorted(ENGINE.glob("*.py")) for p in probes(f)] == []


def test_the_probe_check_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("x = getattr(obj, 'flush', None)\nif hasattr(obj, 'reload'):\n    pass\n")
    assert probes(sample, tmp_path) == ["sample.py:1", "sample.py:2"]
