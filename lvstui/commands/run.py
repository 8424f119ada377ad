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
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lvstui.config.schema import Config
    from lvstui.control.client import EngineClient
    from lvstui.control.server import ControlServer
    from lvstui.engine.engine import Engine
    from lvstui.ui.app import ConsoleExit, KeysArg
    from lvstui.wiring import EngineParts

from lvstui.logformat import LOG_FORMATS, LogFormat

__all__ = ["add_arguments", "run"]

log = logging.getLogger("lvstui.console")


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


async def _dry_run(config: Config, state_dir: str | None) -> int:
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
    from lvstui.netns import enter_namespace

    enter_namespace(config.global_defs.net_namespace)  # before the loop and its threads
    return asyncio.run(_embedded(config, socket_path, args))


async def _run_app(
    client: EngineClient,
    args: argparse.Namespace,
    *,
    theme: str | None = None,
    keys: KeysArg = None,
    embedded_socket: str | None = None,
    embedded: bool = False,
) -> tuple[int, ConsoleExit]:
    """The console in this event loop (so an embedded engine runs beside it).

    Losing the terminal (SIGHUP: the SSH connection dropped, the tmux session killed) ends
    the console, never the process: the outcome says HANGUP and the caller decides (the
    director goes on headless; the demo cleans up). The standard streams then point at
    /dev/null, so nothing written later fails on the dead terminal."""
    from lvstui.ui.app import ConsoleExit, LvstuiApp

    application = LvstuiApp(
        client,
        theme=args.theme or theme,
        read_only=args.read_only,
        keys=keys or None,
        embedded_socket=embedded_socket,
        embedded=embedded,
        settle_heap=True,
    )
    loop = asyncio.get_running_loop()

    def hangup(_sig: int, _frame: object) -> None:
        # A plain handler, not the loop's: Python runs it before the SIGCONT that a hangup
        # also sends, so Textual's SIGCONT handler (which would start a new output thread
        # on the dead terminal and deadlock the shutdown) can be turned off first.
        signal.signal(signal.SIGCONT, signal.SIG_DFL)
        _detach_stdio()
        loop.call_soon_threadsafe(application.finish, ConsoleExit.HANGUP)

    previous = signal.signal(signal.SIGHUP, hangup)
    try:
        result = await application.run_async()
    finally:
        signal.signal(signal.SIGHUP, previous)
    return int(result or 0), application.outcome


def _detach_stdio() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in (0, 1, 2):
            with contextlib.suppress(OSError):
                os.dup2(devnull, fd)
    finally:
        os.close(devnull)


async def _embedded(config: Config, socket_path: str, args: argparse.Namespace) -> int:
    from lvstui.control.local import LocalClient
    from lvstui.errors import LvstuiError
    from lvstui.ui.app import ConsoleExit
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
        server = await serve_control(
            engine, config, socket_path, state_dir, relay=parts.group, director=parts.director
        )
    except (OSError, LvstuiError) as exc:
        print(f"lvstui: not serving the control socket {socket_path}: {exc}", file=sys.stderr)
    await parts.start()
    client = LocalClient(engine, read_only=args.read_only, who="console", director=parts.director)
    release = True
    try:
        try:
            _, outcome = await _run_app(
                client,
                args,
                theme=config.lvstui.theme,
                keys=config.lvstui.keys or None,
                embedded_socket=socket_path if server is not None and state_dir else None,
                embedded=True,
            )
        finally:
            await client.close()
        if outcome is ConsoleExit.LEAVE_RUNNING and server is not None and state_dir:
            if await _leave_running(parts, server, config, args, socket_path, state_dir):
                release = False
                server = None  # the background daemon serves the socket now
                return 0
            outcome = ConsoleExit.HANGUP  # could not hand over: go on here, headless
        if outcome is ConsoleExit.HANGUP:
            await _headless(engine, socket_path if server is not None else None)
        return 0
    finally:
        if server is not None:
            await server.close()
        with contextlib.suppress(Exception):
            await parts.stop(graceful=True, release=release)


async def _headless(engine: Engine, socket_path: str | None) -> None:
    """The console is gone but the director is not: serve on until SIGTERM or SIGINT."""
    where = f"`lvstui` attaches on {socket_path}" if socket_path else "no control socket"
    msg = f"console gone: the director goes on headless (pid {os.getpid()}; {where})"
    log.warning(msg)
    engine.log("warning", msg)
    print(f"lvstui: {msg}; SIGTERM or Ctrl-C stops it", file=sys.stderr, flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, _detach_stdio)  # a terminal lost later: no harm
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    log.info("headless director: stopping on a signal")


async def _leave_running(
    parts: EngineParts,
    server: ControlServer,
    config: Config,
    args: argparse.Namespace,
    socket_path: str,
    state_dir: str,
) -> bool:
    """`q`, "leave it running": hand the control socket (and the userspace VIP listeners)
    to a background `lvstui --daemon` on the same config and state, as `lvstui ctl upgrade`
    does (lvstui.handover); then this process exits releasing nothing. False (and this
    director goes on here, headless) when the daemon does not come up."""
    from lvstui.daemon import SdNotify, finish_connections, hand_over

    log_file = str(Path(state_dir) / "lvstui.log")
    daemon = [sys.executable, "-m", "lvstui", "--daemon", "-f", str(config.path)]
    daemon += ["--socket", socket_path, "--state-dir", state_dir]
    if args.dataplane:
        daemon += ["--dataplane", args.dataplane]
    # its own session (no terminal, so no SIGHUP from ours), its output to the log file
    argv = ["setsid", "sh", "-c", 'exec "$@" >>"$0" 2>&1 </dev/null', log_file, *daemon]
    if not await hand_over(parts.engine, server, parts.dataplane, SdNotify(""), argv):
        print(
            f"lvstui: the background daemon did not start (see {log_file})",
            file=sys.stderr,
            flush=True,
        )
        return False
    await server.close(unlink=False)
    await finish_connections(parts.dataplane)
    print(
        f"lvstui: the director runs on in the background; `lvstui` attaches on {socket_path}",
        flush=True,
    )
    return True
