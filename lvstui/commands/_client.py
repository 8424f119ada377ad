"""Shared by the socket commands (`list`, `status`, `ctl`): find the socket, connect, and
turn control errors into messages and exit codes.

Exit codes of `lvstui list|status|ctl`:

- 0: done (for `ctl`: the daemon accepted the command);
- 1: the daemon refused the command (unknown service or real server, bad weight, a reload
  whose configuration is broken) or `ctl drain --wait` timed out;
- 2: usage error (bad arguments, unparsable VIP:PORT);
- 3: no daemon (nothing listens on the socket, or it went away);
- 4: permission denied (this user may only read, or may not use the socket at all).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from lvstui.config.schema import DEFAULT_CONFIG_PATH, DEFAULT_CONTROL_SOCKET
from lvstui.control.client import SocketClient
from lvstui.errors import CommandError, ControlError, PermissionDenied

__all__ = [
    "EXIT_FAILED",
    "EXIT_NO_DAEMON",
    "EXIT_OK",
    "EXIT_PERMISSION",
    "EXIT_USAGE",
    "add_director_argument",
    "add_socket_argument",
    "resolve_socket",
    "with_client",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_DAEMON = 3
EXIT_PERMISSION = 4

T = TypeVar("T")


def add_socket_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--socket",
        metavar="PATH",
        help="the daemon's control socket (default: control_socket of "
        f"{DEFAULT_CONFIG_PATH} if it exists, else {DEFAULT_CONTROL_SOCKET})",
    )


def add_director_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--director",
        metavar="NAME",
        help=f"{what} the director NAME of this director's group, through the group "
        "channel (NAME = this director: here)",
    )


def resolve_socket(explicit: str | None, config: str | None = None) -> str:
    """--socket, else the control_socket of -f FILE (an error if it cannot be read), else
    the default config file's, else the default path."""
    if explicit:
        return explicit
    if config:
        from lvstui.config.load import load_config_disabled

        return load_config_disabled(config)[0].lvstui.control_socket  # no script warnings
    if Path(DEFAULT_CONFIG_PATH).exists():
        try:
            from lvstui.config.load import load_config_disabled

            return load_config_disabled(DEFAULT_CONFIG_PATH)[0].lvstui.control_socket
        except Exception:  # a broken config must not stop `lvstui list`
            pass
    return DEFAULT_CONTROL_SOCKET


def _say(exc: Exception) -> None:
    print(f"lvstui: {exc}", file=sys.stderr)


def with_client(args: argparse.Namespace, body: Callable[[SocketClient], Awaitable[int]]) -> int:
    """Connect to the daemon, run `body`, map errors to exit codes."""

    async def main() -> int:
        path = resolve_socket(getattr(args, "socket", None), getattr(args, "config", None))
        client = SocketClient(path)
        try:
            await client.connect()
            return await body(client)
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except PermissionDenied as exc:
        _say(exc)
        return EXIT_PERMISSION
    except CommandError as exc:
        _say(exc)
        return EXIT_FAILED
    except ControlError as exc:
        _say(exc)
        return EXIT_NO_DAEMON
