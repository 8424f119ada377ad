"""`lvstui demo`: a complete director on loopback, nothing to install or configure.

    lvstui demo [--headless] [--port N] [--theme NAME]

Starts three real HTTP servers on 127.0.0.1 (alpha; bravo, slow; charlie, which can be
made to fail) and a sorry server, writes the demo configuration (`lvstui/demo.toml`, with
this run's ports and paths) into a temporary directory, and runs the engine on the
userspace dataplane with the console (or headless until Ctrl-C / SIGTERM). It serves
`http://127.0.0.1:8080/` for real, and the control socket in its directory, so
`lvstui list --socket …` and `lvstui attach --socket …` work beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lvstui.control.server import ControlServer

__all__ = ["add_arguments", "demo_config", "run"]

DEFAULT_PORT = 8080


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--headless", action="store_true", help="no console: serve until Ctrl-C")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, metavar="N", help="the VIP's port (8080)"
    )
    parser.add_argument("--theme", metavar="NAME", help="console theme")
    # SUPPRESS: `lvstui --read-only demo` (the flag before the command) must survive too
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS,
        help="the console shows everything and changes nothing",
    )


def demo_config(directory: Path, vip_port: int, real_ports: list[int], sorry_port: int) -> Path:
    """Write this run's config (the packaged demo.toml with ports and paths) and return it."""
    import tomllib
    from importlib import resources

    import tomli_w

    data: dict[str, Any] = tomllib.loads(
        resources.files("lvstui").joinpath("demo.toml").read_text(encoding="utf-8")
    )
    data["lvstui"]["control_socket"] = str(directory / "control.sock")
    data["lvstui"]["state_dir"] = str(directory / "state")
    vs = data["virtual_server"][0]
    vs["port"] = vip_port
    vs["sorry_server"]["port"] = sorry_port
    for rs, port in zip(vs["real_server"], real_ports, strict=True):
        rs["port"] = port
    path = directory / "config.toml"
    path.write_text(
        "# written by `lvstui demo` from lvstui/demo.toml\n" + tomli_w.dumps(data),
        encoding="utf-8",
    )
    return path


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


async def _demo(args: argparse.Namespace, directory: Path) -> int:
    from lvstui.config.load import load_config
    from lvstui.control.local import LocalClient
    from lvstui.demo.servers import DemoServer
    from lvstui.wiring import EngineParts, build_engine, prepare_state_dir, serve_control

    if not 1 <= args.port <= 65535:
        print(f"lvstui demo: --port {args.port} is not a port", file=sys.stderr)
        return 2
    if not _port_free("127.0.0.1", args.port):
        print(
            f"lvstui demo: 127.0.0.1:{args.port} is already in use: pass --port N",
            file=sys.stderr,
        )
        return 1
    servers = [
        DemoServer("alpha"),
        DemoServer("bravo", delay=0.5),
        DemoServer("charlie", fail_file=directory / "charlie.fail"),
    ]
    sorry = DemoServer("sorry server", status=503)
    parts: EngineParts | None = None
    control: ControlServer | None = None
    try:
        for s in [*servers, sorry]:
            await s.start()
        path = demo_config(directory, args.port, [s.port for s in servers], sorry.port)
        config = await asyncio.to_thread(load_config, path)
        state = prepare_state_dir(config.lvstui.state_dir)
        parts = build_engine(config, state_dir=state)
        engine = parts.engine
        control = await serve_control(engine, config, config.lvstui.control_socket, state)
        await parts.start()
        sock = config.lvstui.control_socket
        charlie = servers[2]
        lines = [
            f"lvstui demo: serving http://127.0.0.1:{args.port}/ "
            f"on the {engine.dataplane.capabilities.name} dataplane",
            f"  try:      curl http://127.0.0.1:{args.port}/",
            "  real servers: "
            + ", ".join(f"{s.name} 127.0.0.1:{s.port}" for s in servers)
            + f"; sorry server 127.0.0.1:{sorry.port}",
            f"  make charlie fail (and recover): curl http://127.0.0.1:{charlie.port}/fail"
            f"   (or: touch / rm {charlie.fail_file})",
            f"  control socket: {sock}",
            f"  from another terminal: lvstui list --socket {sock}",
            f"                         lvstui ctl drain --socket {sock} "
            f"127.0.0.1:{args.port} 127.0.0.1:{servers[0].port} --wait",
            f"  config: {path}",
        ]
        print("\n".join(lines), flush=True)
        if args.headless:
            from lvstui.daemon import loop_name

            print(
                f"  headless: Ctrl-C (or SIGTERM) stops the demo ({loop_name()} event loop)",
                flush=True,
            )
            await _wait_for_signal()
            return 0
        from lvstui.commands.run import _run_app

        client = LocalClient(engine, read_only=args.read_only, who="console")
        try:
            ns = argparse.Namespace(theme=args.theme, read_only=args.read_only)
            # losing the terminal ends the demo like `q` does: servers stopped, directory gone
            rc, _outcome = await _run_app(client, ns)
            return rc
        finally:
            await client.close()
    finally:
        if control is not None:
            await control.close()
        if parts is not None:
            with contextlib.suppress(Exception):
                await parts.stop(graceful=True)
        for s in [*servers, sorry]:
            await s.close()


async def _wait_for_signal() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    sigs = (signal.SIGINT, signal.SIGTERM)
    for sig in sigs:
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in sigs:
            loop.remove_signal_handler(sig)


def _logging(headless: bool, directory: Path) -> None:
    import logging

    if headless:
        from lvstui.daemon import setup_logging

        setup_logging()
        return
    # The console owns the terminal: the log goes to the demo's directory.
    root = logging.getLogger("lvstui")
    handler = logging.FileHandler(directory / "lvstui.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def run(args: argparse.Namespace) -> int:
    directory = Path(tempfile.mkdtemp(prefix="lvstui-demo-"))
    _logging(args.headless, directory)
    try:
        if args.headless:
            from lvstui.daemon import run_fast

            return run_fast(_demo(args, directory))
        return asyncio.run(_demo(args, directory))  # the console: asyncio's own loop
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        if args.headless:
            print("lvstui demo: stopped", flush=True)
