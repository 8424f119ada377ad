"""`lvstui attach [--socket PATH] [--read-only] [--theme NAME] [-f FILE]`: the console on a
running daemon.

The console is the same as the embedded one; only the client differs (`SocketClient`). When
the daemon goes away (restart, crash) the console shows "disconnected — retrying" and
reconnects by itself. Theme and key remapping come from `--theme` and the config file's
`[lvstui]` table (`theme`, `[lvstui.keys]`) when it can be read.

Exit codes: 0 when the operator quits, 2 for a bad theme or key map, 3 when no daemon
answers, 4 when the socket refuses this user.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lvstui.config.schema import DEFAULT_CONFIG_PATH

if TYPE_CHECKING:
    from lvstui.config.schema import LvstuiSettings

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lvstui.commands._client import add_socket_argument

    add_socket_argument(parser)
    # SUPPRESS: `lvstui --read-only attach` (the flag before the command) must survive too
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS,
        help="hide and refuse every changing action",
    )
    parser.add_argument("--theme", metavar="NAME", help="dark, light, high-contrast, …")
    parser.add_argument(
        "-f",
        "--config",
        metavar="FILE",
        help=f"read [lvstui] theme, keys and control_socket from FILE (default "
        f"{DEFAULT_CONFIG_PATH} when it exists)",
    )


def _settings(path: str | None) -> LvstuiSettings | None:
    """The config's [lvstui] table, or None when there is no readable config."""
    if path is None and not Path(DEFAULT_CONFIG_PATH).exists():
        return None
    from lvstui.config.load import load_config_disabled

    try:
        return load_config_disabled(path or DEFAULT_CONFIG_PATH)[0].lvstui
    except Exception:
        if path is not None:
            raise  # asked for explicitly: its errors matter
        return None  # a broken default config must not stop an operator from attaching


async def _attach(
    socket_path: str, args: argparse.Namespace, settings: LvstuiSettings | None
) -> int:
    from lvstui.control.client import SocketClient, connect
    from lvstui.ui.app import LvstuiApp

    client = await connect(socket_path)

    async def reconnect() -> SocketClient:
        await client.reconnect(timeout=2.0)
        return client

    theme = args.theme or (settings.theme if settings is not None else None)
    keys = settings.keys if settings is not None else None
    try:
        app = LvstuiApp(
            client,
            theme=theme,
            read_only=args.read_only,
            keys=keys,
            reconnect=reconnect,
            settle_heap=True,
        )
        rc = await app.run_async()
        return int(rc or 0)
    finally:
        await client.close()


def run(args: argparse.Namespace) -> int:
    from lvstui.commands._client import EXIT_NO_DAEMON, EXIT_PERMISSION, resolve_socket
    from lvstui.errors import ConfigError, ControlError, PermissionDenied
    from lvstui.ui.bindings import resolve_keys
    from lvstui.ui.themes import load_themes

    settings = _settings(args.config)
    # Check the key map and the theme before connecting: a typo is a config error (exit 2),
    # not a reason to leave a half-drawn terminal.
    resolve_keys(settings.keys if settings is not None else None)
    theme = args.theme or (settings.theme if settings is not None else None)
    themes = load_themes()
    if theme is not None and theme not in themes:
        raise ConfigError(
            f"unknown theme {theme!r}", key="lvstui.theme", hint="themes: " + ", ".join(themes)
        )
    socket_path = args.socket or (
        settings.control_socket if settings is not None else resolve_socket(None)
    )
    try:
        return asyncio.run(_attach(socket_path, args, settings))
    except PermissionDenied as exc:
        print(f"lvstui attach: {exc}", file=sys.stderr)
        return EXIT_PERMISSION
    except ControlError as exc:
        print(f"lvstui attach: {exc}", file=sys.stderr)
        return EXIT_NO_DAEMON
