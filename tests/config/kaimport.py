"""What the keepalived.conf import tests share: which directive lines an import left silent."""

from __future__ import annotations

import subprocess
from pathlib import Path

from lvstui.config.keepalived import ImportNote, Node, parse, to_toml_data, tokenize


def _spans(nodes: list[Node], noted: set[tuple[str, int]]) -> set[tuple[str, int]]:
    """Lines inside a block that a note names (the note covers what the block held)."""
    out: set[tuple[str, int]] = set()
    for node in nodes:
        if node.children is None:
            continue
        if (node.file, node.line) in noted:
            stack = list(node.children)
            while stack:
                child = stack.pop()
                out.add((child.file, child.line))
                stack.extend(child.children or [])
        else:
            out |= _spans(node.children, noted)
    return out


def silent_lines(path: Path, config_id: str) -> list[tuple[str, int]]:
    """Directive lines of `path` that the import neither converts nor names in a note."""
    skipped: list[ImportNote] = []
    text = path.read_text()
    tokens = tokenize(text, str(path), config_id=config_id, skipped=skipped)
    tree = parse(tokens, [])  # an extra `}` is a brace, never a directive line
    _data, lines, notes = to_toml_data(tree)
    notes += skipped
    wanted = {(t.file, t.line) for t in tokens if not t.brace} | {
        (str(path), n) for n, line in enumerate(text.splitlines(), 1) if line[:1] == "@"
    }
    noted = {(n.file, n.line) for n in notes}
    return sorted(wanted - set(lines.values()) - noted - _spans(tree, noted))


def keepalived_t(
    netns: str, conf: str, *, cwd: Path | None = None, config_id: str | None = None
) -> subprocess.CompletedProcess[str]:
    """keepalived's own config test on `conf`, inside `netns` (which has the interfaces)."""
    ident = ["-i", config_id] if config_id is not None else []
    return subprocess.run(
        ["ip", "netns", "exec", netns, "keepalived", "-t", "-f", conf, *ident],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
