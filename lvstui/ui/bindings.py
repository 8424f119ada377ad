"""The one table of console actions: default key, description, whether it changes anything.

Everything else derives from it: the screens' bindings, the help screen, the footer, the
key table in docs/console.md (`python -m lvstui.ui.keytable`), and read-only mode (which drops every
action marked `changes`). Keys are remapped from config (`[lvstui.keys]`, action = "key").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from textual.binding import Binding

from lvstui.errors import ConfigError

__all__ = [
    "ACTIONS",
    "ActionSpec",
    "bindings_for",
    "display_keys",
    "footer_hidden",
    "resolve_keys",
]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    action: str  # Textual action name on the main screen (action_<name>)
    key: str  # default key (Textual key name)
    description: str  # one line, for the help screen and docs/console.md
    changes: bool = False  # changes the engine: confirmation, and gone in read-only mode
    footer: str = ""  # short label for the footer ("" = not shown there)
    also: tuple[str, ...] = ()  # fixed extra keys (Home, End …), not remapped
    # Its default key gives way to another action remapped onto it (the action is then left
    # to its other keys: arrows, Home/End, the pages), so a config written before the k9s
    # navigation keys came (`drain = "k"`) stays valid.
    yields: bool = False


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("help", "question_mark", "show this help", footer="Help"),
    ActionSpec("filter", "slash", "filter rows by text (esc clears)", footer="Filter"),
    ActionSpec("command", "colon", "command palette (:drain, :weight, :add, :reload …)"),
    ActionSpec("open", "enter", "drill down: charts, checks, configuration"),
    ActionSpec("back", "escape", "back: close a screen, a dialog or the filter"),
    ActionSpec("cursor_down", "j", "next row (also ↓)", yields=True),
    ActionSpec("cursor_up", "k", "previous row (also ↑)", yields=True),
    ActionSpec("cursor_top", "g", "first row", also=("home",), yields=True),
    ActionSpec("cursor_bottom", "G", "last row", also=("end",), yields=True),
    ActionSpec("page_down", "pagedown", "a page down"),
    ActionSpec("page_up", "pageup", "a page up"),
    ActionSpec("sort", "s", "sort by the next column (its header is marked)"),
    ActionSpec("sort_reverse", "S", "turn the sort order round"),
    ActionSpec("drain", "d", "drain the server: weight 0 until it is idle", True, "Drain"),
    ActionSpec("undrain", "u", "undrain the server (back to its weight)", True, "Undrain"),
    ActionSpec("weight", "w", "set the server's weight (0-65535; empty: config)", True, "Weight"),
    ActionSpec("add", "a", "add a real server to the service", True, "Add"),
    ActionSpec("remove", "x", "remove the real server (asks first)", True, "Remove"),
    # yields: like `p`, it came after [lvstui.keys]; a config that put `drain` on D stays valid
    ActionSpec(
        "drain_director",
        "D",
        "drain this director out of the routers' ECMP set, or undrain it (bgp VIPs; asks)",
        True,
        yields=True,
    ),
    ActionSpec("reload", "r", "reload config.toml (shows the difference first)", True, "Reload"),
    # yields: `p` came after [lvstui.keys] existed; a config that put an action on it stays valid
    ActionSpec(
        "group", "p", "the director group: every director, its link, roles, pending", yields=True
    ),
    ActionSpec("log", "l", "full-screen event log (e: only warnings and errors)", footer="Log"),
    ActionSpec("theme", "t", "cycle themes (dark, light, high-contrast, ...)", footer="Theme"),
    ActionSpec("quit", "q", "quit the console (an attached daemon keeps running)", footer="Quit"),
)

_BY_NAME = {a.action: a for a in ACTIONS}

# Textual key names for the characters people write in config files.
_KEY_ALIASES = {
    "?": "question_mark",
    "/": "slash",
    ":": "colon",
    "esc": "escape",
    "return": "enter",
    " ": "space",
    "space": "space",
    "pgup": "pageup",
    "pgdn": "pagedown",
}

_KEY_DISPLAY = {
    "question_mark": "?",
    "slash": "/",
    "colon": ":",
    "escape": "esc",
    "enter": "enter",
    "space": "space",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "home": "Home",
    "end": "End",
}


def normalise_key(key: str) -> str:
    k = key.strip()
    return _KEY_ALIASES.get(k, _KEY_ALIASES.get(k.lower(), k))


def display_key(key: str) -> str:
    return _KEY_DISPLAY.get(key, key)


def display_keys(spec: ActionSpec, keys: Mapping[str, str]) -> list[str]:
    """The keys of `spec` as shown to people: its (remapped) key, then its fixed extras."""
    key = keys.get(spec.action, spec.key)
    return [display_key(k) for k in (key, *spec.also) if k]


def resolve_keys(overrides: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> dict[str, str]:
    """action → key, the defaults with `overrides` applied. Unknown actions, empty keys and
    two actions on one key are configuration errors (named under [lvstui.keys])."""
    items = list(overrides.items() if isinstance(overrides, Mapping) else (overrides or ()))
    keys = {a.action: a.key for a in ACTIONS}
    for action, key in items:
        if action not in _BY_NAME:
            raise ConfigError(
                f"unknown console action {action!r}",
                key=f"lvstui.keys.{action}",
                hint="actions: " + ", ".join(sorted(_BY_NAME)),
            )
        k = normalise_key(key)
        if not k:
            raise ConfigError("empty key", key=f"lvstui.keys.{action}")
        keys[action] = k
    given = {action for action, _ in items}
    remapped = {keys[a] for a in given}
    for spec in ACTIONS:
        if spec.yields and spec.action not in given and spec.key in remapped:
            keys[spec.action] = ""  # unbound: see ActionSpec.yields
    seen = {k: a.action for a in ACTIONS for k in a.also}
    for action, k in keys.items():
        if not k:
            continue
        if k in seen:
            raise ConfigError(
                f"key {display_key(k)!r} is bound to both {seen[k]!r} and {action!r}",
                key=f"lvstui.keys.{action}",
                hint="give one of them another key",
            )
        seen[k] = action
    return keys


def visible_actions(read_only: bool) -> tuple[ActionSpec, ...]:
    return tuple(a for a in ACTIONS if not (read_only and a.changes))


def bindings_for(keys: Mapping[str, str], read_only: bool) -> list[Binding]:
    """The main screen's bindings. In read-only mode the changing actions are neither shown
    nor run: their keys only say why they are refused (`refused` on the screen)."""
    out: list[Binding] = []
    if read_only:
        out += [
            Binding(keys[a.action], f"refused('{a.action}')", a.action, show=False)
            for a in ACTIONS
            if a.changes
        ]
    for spec in visible_actions(read_only):
        key = keys[spec.action]
        out += [Binding(k, spec.action, spec.description, show=False) for k in spec.also]
        if not key:
            continue  # gave its key way (ActionSpec.yields)
        out.append(
            Binding(
                key,
                spec.action,
                spec.footer or spec.description,
                show=bool(spec.footer),
                key_display=display_key(key),
                id=spec.action,
            )
        )
    # Textual's Screen binds these, but the bindings set here replace the screen's own: without
    # them Tab never reached the event log (docs/console.md: `tab` gives the log the focus)
    out += [
        Binding("tab", "app.focus_next", "Focus next", show=False),
        Binding("shift+tab", "app.focus_previous", "Focus previous", show=False),
    ]
    return out


# footer entries left out, in this order, while the footer is wider than the screen
FOOTER_DROP = ("log", "theme", "filter")


def footer_hidden(bindings: Iterable[Binding], width: int) -> set[str]:
    """The actions the compact footer leaves out so that it fits `width` columns."""
    shown = [b for b in bindings if b.show]
    need = sum(len(b.key_display or b.key) + len(b.description) + 2 for b in shown)
    hidden: set[str] = set()
    for action in FOOTER_DROP:
        if need <= width:
            break
        for b in shown:
            if b.action == action:
                need -= len(b.key_display or b.key) + len(b.description) + 2
                hidden.add(action)
    return hidden
