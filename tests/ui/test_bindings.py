from __future__ import annotations

import subprocess
import sys

import pytest

from lvstui.errors import ConfigError
from lvstui.ui import keytable
from lvstui.ui.bindings import ACTIONS, bindings_for, resolve_keys
from tests.helpers import REPO


def test_defaults_follow_k9s_conventions() -> None:
    keys = resolve_keys(None)
    assert keys["help"] == "question_mark"
    assert keys["filter"] == "slash"
    assert keys["command"] == "colon"
    assert keys["back"] == "escape"
    assert (keys["drain"], keys["undrain"], keys["weight"]) == ("d", "u", "w")
    assert (keys["add"], keys["remove"], keys["reload"], keys["theme"]) == ("a", "x", "r", "t")


def test_remap_from_config_pairs_and_aliases() -> None:
    keys = resolve_keys([("drain", "D"), ("help", "?"), ("filter", "f")])
    assert keys["drain"] == "D"
    assert keys["help"] == "question_mark"
    assert keys["filter"] == "f"


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"nosuch": "z"}, "unknown console action"),
        ({"drain": "u"}, "bound to both"),
        ({"drain": " "}, "bound to both|empty"),
    ],
)
def test_remap_errors_name_the_key(overrides: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as info:
        resolve_keys(overrides)
    assert "lvstui.keys." in str(info.value)


def test_read_only_drops_every_changing_action() -> None:
    keys = resolve_keys(None)
    rw = {b.action for b in bindings_for(keys, read_only=False)}
    ro = {b.action for b in bindings_for(keys, read_only=True)}
    changing = {a.action for a in ACTIONS if a.changes}
    assert changing == {"drain", "undrain", "weight", "add", "remove", "reload", "drain_director"}
    assert changing <= rw
    assert not (changing & ro)
    assert {"help", "filter", "command", "theme", "quit"} <= ro


def test_console_manual_key_table_is_generated_from_bindings() -> None:
    text = (REPO / "docs" / "console.md").read_text(encoding="utf-8")
    current = keytable.readme_table(text)
    assert current is not None, "docs/console.md has no keys:start/keys:end markers"
    assert current == keytable.key_table(), (
        "docs/console.md key table is stale: run python -m lvstui.ui.keytable --write"
    )


def test_keytable_cli_check_detects_stale(tmp_path: object) -> None:
    from pathlib import Path

    readme = Path(str(tmp_path)) / "console.md"
    readme.write_text(f"x\n{keytable.START}\n| old |\n{keytable.END}\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "lvstui.ui.keytable", "--file", str(readme)]
    assert subprocess.run([*cmd, "--check"], capture_output=True).returncode == 1
    assert subprocess.run([*cmd, "--write"], capture_output=True).returncode == 0
    assert subprocess.run([*cmd, "--check"], capture_output=True).returncode == 0
    assert "`d` | `drain`" in readme.read_text(encoding="utf-8")


def test_a_remapped_key_takes_a_navigation_default_but_not_another_action() -> None:
    keys = resolve_keys({"drain": "k"})  # written before k/j/g/G navigated: still valid
    assert keys["drain"] == "k" and keys["cursor_up"] == ""
    actions = {b.key: b.action for b in bindings_for(keys, read_only=False)}
    assert actions["k"] == "drain" and "cursor_up" not in actions.values()
    assert resolve_keys({"drain": "k", "cursor_up": "K"})["cursor_up"] == "K"
    with pytest.raises(ConfigError, match="bound to both"):
        resolve_keys({"drain": "k", "cursor_up": "k"})  # two explicit choices: an error
    with pytest.raises(ConfigError, match="bound to both"):
        resolve_keys({"drain": "home"})  # a fixed extra key is not given away
