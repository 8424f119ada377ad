"""Argument parsing and wiring only.

Each sub-command lives in its own module under `lvstui.commands` with two functions,
`add_arguments(parser)` and `run(args) -> int`. Command modules keep heavy imports (textual,
pyroute2, httpx) inside `run`, so `lvstui check-config` never loads the console and
`lvstui --daemon` never loads textual.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from lvstui import __version__
from lvstui.errors import LvstuiError

__all__ = ["COMMANDS", "build_parser", "main"]

# name → (module, one-line help). Order is the order shown by --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "check-config": ("lvstui.commands.check_config", "validate a config file and lint it"),
    "import-keepalived": (
        "lvstui.commands.import_keepalived",
        "convert a keepalived.conf to lvstui TOML",
    ),
    "genhash": ("lvstui.commands.genhash", "print the MD5 digest of a URL's body"),
    "list": ("lvstui.commands.list_cmd", "list services like ipvsadm -Ln (from the daemon)"),
    "status": ("lvstui.commands.status", "VRRP instances, quorum, checker ages"),
    "ctl": ("lvstui.commands.ctl", "drain, undrain, weight, add, remove, reload"),
    "attach": ("lvstui.commands.attach", "open the console on a running daemon"),
    "demo": ("lvstui.commands.demo", "serve a demo on loopback with three real servers"),
    "realserver": (
        "lvstui.commands.realserver",
        "print, apply or check a real server's DR/TUN setup",
    ),
    "director": (
        "lvstui.commands.director",
        "print, apply or check what this host needs to direct the services",
    ),
    "group": ("lvstui.commands.group", "the director group: keygen, diff"),
    "completion": ("lvstui.commands.completion", "print a bash or zsh completion script"),
}
RUN_MODULE = "lvstui.commands.run"  # no sub-command: console (embedded) or --daemon

# Options of the top level that sub-commands have too: given before the sub-command
# (`lvstui --socket X list`, `lvstui -f FILE status`) they apply to it.
GLOBAL_OPTIONS = ("socket", "config")


def _load(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lvstui",
        description="A Linux Virtual Server director: VRRP, health checks and IPVS, "
        "with a live console.",
    )
    parser.add_argument("--version", action="version", version=f"lvstui {__version__}")
    parser.set_defaults(**dict.fromkeys(GLOBAL_OPTIONS))
    run_mod = _load(RUN_MODULE)
    if run_mod is not None:
        run_mod.add_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod = _load(module)
        if mod is not None:
            mod.add_arguments(p)
        p.set_defaults(_module=module, _global_defaults=_inherit_globals(p))
    return parser


def _inherit_globals(parser: argparse.ArgumentParser) -> dict[str, object]:
    """Make a sub-command's own copies of GLOBAL_OPTIONS default to nothing, so that a value
    given before the sub-command survives (argparse lets a sub-parser's defaults overwrite
    it). Returns the defaults taken away, which `main` restores when neither place gave one.
    """
    removed: dict[str, object] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                for dest, default in _inherit_globals(child).items():
                    removed.setdefault(dest, default)
        elif (
            action.dest in GLOBAL_OPTIONS
            and action.option_strings
            and action.default is not argparse.SUPPRESS
        ):
            removed.setdefault(action.dest, action.default)
            action.default = argparse.SUPPRESS
    return removed


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["__complete"]:  # the completion scripts' hidden helper
        helper = _load("lvstui.commands.completion")
        return 0 if helper is None else int(helper.helper_main(words[1:]))
    parser = build_parser()
    args = parser.parse_args(words)
    args._parser = parser  # `lvstui completion` writes its script from the whole parser
    for dest, default in getattr(args, "_global_defaults", {}).items():
        if getattr(args, dest, None) is None:
            setattr(args, dest, default)
    module = getattr(args, "_module", RUN_MODULE)
    mod = _load(module)
    if mod is None:
        print(
            f"lvstui: {args.command or 'the console'} is not available in this build",
            file=sys.stderr,
        )
        return 2
    try:
        rc: int = mod.run(args)
    except LvstuiError as exc:
        print(f"lvstui: {exc.title}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return rc
