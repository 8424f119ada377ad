"""`lvstui` without a sub-command: the console (engine embedded or attached) or `--daemon`.

    lvstui [-f FILE] [--daemon] [--socket PATH] [--state-dir DIR] [--dry-run]
           [--dataplane auto|ipvs|userspace] [--read-only] [--theme NAME]

- `--daemon`: the headless engine (see `lvstui.daemon`).
- `--dry-run`: load the config, run the engine once on the in-memory dataplane, print what
  would be programmed (operations, then the resulting table in ipvsadm's format), exit.
- otherwise: if a daemon answers on the control socket, the console attaches to it (and
  says so); else the engine runs inside this process with the console, and serves the
  control socket too when it can (so `lvstui list` works, and a second `lvstui` attaches
  instead of starting a second engine).

Exit codes: 0 success, 1 runtime failure (daemon could not start), 2 usage or
configuration error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from lvstui.logformat import LOG_FORMATS, LogFormat

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--config",
        metavar="FILE",
        help="configuration file (default /etc/lvstui/config.toml)",
    )
    parser.add_argument(
        "--daemon", action="store_true", help="run headless in the foreground (systemd service)"
    )
    parser.add_argument(
        "--socket",
        metavar="PATH",
        help="control socket (default: [lvstui] control_socket, /run/lvstui/control.sock)",
    )
    parser.add_argument(
        "--state-dir", metavar="DIR", help="overrides and audit log (default /var/lib/lvstui)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be programmed, change nothing, exit",
    )
    parser.add_argument(
        "--dataplane",
        choices=["auto", "ipvs", "userspace"],
        help="where services live (default: [lvstui] dataplane, auto)",
    )
    parser.add_argument(
        "--dont-release-ipvs",
        action="store_true",
        help="daemon: leave the services in the kernel at exit (keepalived's option), "
        "so a restart drops no connection",
    )
    parser.add_argument(
        "--read-only", action="store_true", help="console: hide and refuse every change"
    )
    parser.add_argument("--theme", metavar="NAME", help="console theme")
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="auto",
        help="daemon: auto (journald priorities under systemd, else plain lines) or json "
        "(one object a line: time, level, logger, message, fields)",
    )


def run(args: argparse.Namespace) -> int:
    if args.dry_run:  # also with --daemon: a dry run never starts anything
        return asyncio.run(dry_run(args.config, state_dir=args.state_dir))
    if args.daemon:
        from lvstui.daemon import run_daemon

        return run_daemon(
            args.config,
            socket_path=args.socket,
            state_dir=args.state_dir,
            dataplane=args.dataplane,
            release=not args.dont_release_ipvs,
            log_format=LogFormat(args.log_format),
        )
    return run_console_mode(args)


async def dry_run(config_path: str | None, *, state_dir: str | None = None) -> int:
    """What the engine would program for this config (no health checks: all servers up)."""
    from lvstui.wiring import load

    config = load(config_path)
    state = state_dir or config.lvstui.state_dir
    overrides = Path(state, "overrides.toml")
    has_overrides = await asyncio.to_thread(overrides.exists)
    with tempfile.TemporaryDirectory(prefix="lvstui-dry-run-") as scratch:
        if has_overrides:
            # the engine reads a copy: a dry run never writes the state dir (owned.toml, a
            # broken overrides.toml set aside...)
            await asyncio.to_thread(shutil.copyfile, overrides, Path(scratch, overrides.name))
            print(f"# operator overrides: {overrides} (read from a copy)", file=sys.stderr)
        return await _dry_run(config, scratch if has_overrides else None)


async def _dry_run(config: Any, state_dir: str | None) -> int:
    from lvstui.config.diff import vip_text
    from lvstui.dataplane.base import describe_op
    from lvstui.dataplane.listing import render
    from lvstui.dataplane.memory import MemoryDataplane
    from lvstui.wiring import build_engine

    parts = build_engine(
        config,
        memory=True,
        state_dir=state_dir,
        health=False,
        vrrp=False,
    )
    engine = parts.engine
    dp = parts.dataplane
    assert isinstance(dp, MemoryDataplane)
    await engine.start()
    try:
        table = await dp.observe()
        print(f"# {config.path}: {len(config.virtual_servers)} virtual server(s), dry run")
        print("# operations:")
        for op in dp.ops:
            print(f"  {describe_op(op)}")
        vips = [
            vip_text(v, inst.interface)  # with brd/scope/label: all the config says
            for inst in config.vrrp_instances
            for v in inst.virtual_ipaddress
        ]
        if vips:
            print("# VIPs (on the VRRP master):")
            for line in vips:
                print(f"  {line}")
        print("# resulting table:")
        sys.stdout.write(render(table))
    finally:
        await engine.stop(graceful=False, release=False)
    return 0


def run_console_mode(args: argparse.Namespace) -> int:
    from lvstui.wiring import load, probe_socket

    socket_path: str | None = args.socket
    config = None
    if socket_path is None:
        try:
            config = load(args.config)
        except Exception:
            if args.config:
                raise
            # No config: a daemon may still answer on the default socket.
        from lvstui.config.schema import DEFAULT_CONTROL_SOCKET

        socket_path = config.lvstui.control_socket if config else DEFAULT_CONTROL_SOCKET
    if probe_socket(socket_path):
        print(f"lvstui: a daemon answers on {socket_path}: attaching to it", file=sys.stderr)
        from lvstui.commands import attach  # the same as `lvstui attach` (theme, keys, retry)

        return int(attach.run(argparse.Namespace(**{**vars(args), "socket": socket_path})))
    if config is None:
        config = load(args.config)
    return asyncio.run(_embedded(config, socket_path, args))


async def _run_app(
    client: Any, args: argparse.Namespace, *, theme: str | None = None, keys: Any = None
) -> int:
    """The console in this event loop (so an embedded engine runs beside it)."""
    from lvstui.ui.app import LvstuiApp

    application = LvstuiApp(
        client, theme=args.theme or theme, read_only=args.read_only, keys=keys or None
    )
    result = await application.run_async()
    return int(result or 0)


async def _embedded(config: Any, socket_path: str, args: argparse.Namespace) -> int:
    from lvstui.control.local import LocalClient
    from lvstui.errors import LvstuiError
    from lvstui.wiring import build_engine, prepare_state_dir, serve_control

    state = args.state_dir or config.lvstui.state_dir
    state_dir: str | None = state
    try:
        prepare_state_dir(state)
    except LvstuiError as exc:
        print(f"lvstui: {exc}\n  overrides will not be kept", file=sys.stderr)
        state_dir = None
    # The console owns the terminal: log to a file in the state dir, not to stderr.
    logging.getLogger("lvstui").propagate = False
    if state_dir is not None:
        handler = logging.FileHandler(Path(state_dir) / "lvstui.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("lvstui").addHandler(handler)
        logging.getLogger("lvstui").setLevel(logging.INFO)
    parts = build_engine(config, dataplane=args.dataplane, state_dir=state_dir)
    engine = parts.engine
    server = None
    try:
        server = await serve_control(engine, config, socket_path, state_dir)
    except (OSError, LvstuiError) as exc:
        print(f"lvstui: not serving the control socket {socket_path}: {exc}", file=sys.stderr)
    await parts.start()
    client = LocalClient(engine, read_only=args.read_only, who="console")
    try:
        return await _run_app(
            client, args, theme=config.lvstui.theme, keys=config.lvstui.keys or None
        )
    finally:
        await client.close()
        if server is not None:
            await server.close()
        with contextlib.suppress(Exception):
            await parts.stop(graceful=True)
