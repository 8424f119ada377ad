"""lvstui(8), read from the argument parser: every sub-command and option with its help.

The prose around it (what runs without a sub-command, exit codes, signals, files) is
written here once; the options, their arguments and help texts come from `build_parser`.
"""

from __future__ import annotations

import argparse

from lvstui import __version__
from lvstui.cli import build_parser
from lvstui.commands._client import (
    EXIT_FAILED,
    EXIT_NO_DAEMON,
    EXIT_OK,
    EXIT_PERMISSION,
    EXIT_USAGE,
)
from lvstui.config.schema import DEFAULT_CONFIG_PATH, DEFAULT_CONTROL_SOCKET, DEFAULT_STATE_DIR
from lvstui.manpage.roff import bold, escape, italic, paragraph, section, subsection, tagged, title

__all__ = ["cli_page"]

# argparse's wrapping follows $COLUMNS; a page must not depend on the terminal it was built in
_WIDE = 10_000


def _usage(parser: argparse.ArgumentParser) -> str:
    fmt = argparse.HelpFormatter(parser.prog, width=_WIDE)
    fmt.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    return " ".join(fmt.format_help().split())


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    fmt = argparse.HelpFormatter(parser.prog, width=_WIDE)
    return " ".join(fmt._expand_help(action).split()) if action.help else ""


def _tag(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    fmt = argparse.HelpFormatter(parser.prog, width=_WIDE)
    if not action.option_strings:
        return italic(fmt._metavar_formatter(action, action.dest)(1)[0])
    args = "" if action.nargs == 0 else fmt._format_args(action, action.dest.upper())
    return ", ".join(bold(o) + (" " + italic(args) if args else "") for o in action.option_strings)


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:  # type: ignore[type-arg]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _options(parser: argparse.ArgumentParser) -> str:
    out = ""
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        out += tagged(_tag(parser, action), _help(parser, action))
    return out


def _commands(parser: argparse.ArgumentParser, depth: int = 0) -> str:
    sub = _subparsers(parser)
    if sub is None:
        return ""
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    out = ""
    for name, child in sub.choices.items():
        out += subsection(child.prog)
        out += paragraph(bold(_usage(child)))
        if helps.get(name):
            out += paragraph(helps[name][:1].upper() + helps[name][1:] + ".")
        out += _options(child)
        out += _commands(child, depth + 1)
    return out


_DESCRIPTION = (
    "lvstui does what keepalived and ipvsadm do: VRRP failover of virtual addresses between "
    "directors, health checks of real servers, and programming the kernel's IP Virtual "
    "Server table; where the kernel has no IPVS, a userspace forwarder serves the same "
    "services. It is driven from a live terminal console, like an interactive ipvsadm.",
    "Without a command, lvstui opens the console: it attaches to a daemon that answers on "
    "the control socket, otherwise it runs the engine itself. With --daemon it runs "
    "headless in the foreground (the systemd service). The commands below check and "
    "import configurations, and talk to a running daemon over its control socket.",
)

_EXIT = (
    (EXIT_OK, "done; for ctl, the daemon accepted the command"),
    (
        EXIT_FAILED,
        "the daemon refused the command (unknown service or server, bad weight, a reload of "
        "a broken configuration), ctl drain --wait-timeout passed, or the daemon could not "
        "start",
    ),
    (EXIT_USAGE, "usage error; check-config: the configuration has errors"),
    (EXIT_NO_DAEMON, "no daemon listens on the control socket, or it went away"),
    (EXIT_PERMISSION, "permission denied: this user may only read, or not use the socket"),
)

_SIGNALS = (
    (
        "SIGHUP",
        "reload the configuration file; a broken file is refused and the running "
        "configuration keeps serving",
    ),
    (
        "SIGTERM, SIGINT",
        "stop gracefully: a priority-0 VRRP advert, the services lvstui "
        "created are removed (unless --dont-release-ipvs), exit 0",
    ),
)

_ENVIRONMENT = (
    ("NOTIFY_SOCKET", "set by systemd: the daemon reports READY=1, RELOADING=1, STOPPING=1"),
    ("JOURNAL_STREAM", "set by systemd: log lines carry a syslog priority for the journal"),
    ("NO_COLOR", "any value: the console uses no colour"),
    ("LVSTUI_THEMES", "colon-separated directories of console themes, before /etc/lvstui/themes"),
)

_FILES = (
    (DEFAULT_CONFIG_PATH, "the configuration, see lvstui.toml(5)"),
    (DEFAULT_CONTROL_SOCKET, "the daemon's control socket ([lvstui] control_socket)"),
    (
        f"{DEFAULT_STATE_DIR}/overrides.toml",
        "operator changes (drain, weight, add, remove), "
        "applied again after every restart and reload",
    ),
    (f"{DEFAULT_STATE_DIR}/owned.toml", "the virtual services lvstui created"),
    (
        f"{DEFAULT_STATE_DIR}/audit.log",
        "every command received on the control socket, one JSON line each",
    ),
    ("/etc/lvstui/themes/", "console themes of your own"),
)


def _items(rows: tuple[tuple[object, str], ...]) -> str:
    return "".join(tagged(bold(str(k)), v) for k, v in rows)


def cli_page() -> str:
    parser = build_parser()
    out = title("lvstui", 8, f"lvstui {__version__}", "System Administration")
    out += section("name") + escape(f"lvstui - {parser.description}") + "\n"
    out += section("synopsis") + paragraph(bold(_usage(parser)))
    out += section("description") + "".join(paragraph(p) for p in _DESCRIPTION)
    out += section("options") + _options(parser)
    out += section("commands") + _commands(parser)
    out += section("exit status") + _items(_EXIT)
    out += section("signals") + _items(_SIGNALS)
    out += section("environment") + _items(_ENVIRONMENT)
    out += section("files") + _items(_FILES)
    out += section("see also")
    out += (
        escape(
            "lvstui.toml(5), ipvsadm(8), keepalived(8), keepalived.conf(5), and the "
            "manual in the docs/ directory of the source."
        )
        + "\n"
    )
    return out
