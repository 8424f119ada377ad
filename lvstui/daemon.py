"""Headless run: the engine, the control socket, signals and systemd's notify protocol.

    lvstui --daemon [-f FILE] [--socket PATH] [--state-dir DIR] [--dataplane KIND]

- Foreground, logs to stderr. When stderr is the journal (systemd sets JOURNAL_STREAM to
  its device:inode), each line starts with a syslog priority prefix (``<6>`` info, ``<4>``
  warning, ``<3>`` error) and carries no timestamp (journald adds one); otherwise lines
  read ``2026-01-01T10:00:00Z INFO lvstui.engine: message``.
- sd_notify: READY=1 once the engine runs and the control socket listens, RELOADING=1 /
  READY=1 around a reload, STOPPING=1 when asked to stop (when NOTIFY_SOCKET is set).
- SIGHUP reloads the configuration file (a broken file is rejected and the running
  configuration keeps serving); SIGTERM / SIGINT stop gracefully: VRRP masters send a
  priority-0 advert, then the services lvstui created are removed (keepalived's behaviour
  without --dont-release-ipvs); exit code 0.
- Refuses to start when another daemon already answers on the control socket (two engines
  would fight over the VIPs and the table); removes a stale socket file left by a crash.

This module never imports the console (textual, rich, plotext): a test checks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from lvstui import handover
from lvstui.config.schema import Config, DataplaneKind
from lvstui.descriptors import raise_nofile_limit
from lvstui.errors import ControlError, LvstuiError
from lvstui.logformat import JournalFormatter, JsonFormatter, LogFormat, PlainFormatter
from lvstui.model import ConfigReloaded, Reload
from lvstui.netns import enter_namespace
from lvstui.wiring import build_engine, load, prepare_state_dir, probe_socket, serve_control

if TYPE_CHECKING:
    from lvstui.announce.lifecycle import OnDemand
    from lvstui.control.server import ControlServer
    from lvstui.dataplane.base import Dataplane
    from lvstui.engine.engine import Engine

__all__ = [
    "SdNotify",
    "finish_connections",
    "hand_over",
    "loop_name",
    "needs_netlink",
    "run_daemon",
    "run_fast",
    "setup_logging",
    "stream_is_journal",
    "uvloop_fits",
]

# A graceful stop (VRRP goodbye, table release, notify commands, mails) that takes longer is
# abandoned: below the unit's TimeoutStopSec (30 s), so the exit is ours and logged.
STOP_DEADLINE = 25.0

log = logging.getLogger("lvstui.daemon")
T = TypeVar("T")


# --- logging -----------------------------------------------------------------------------------


def stream_is_journal(stream: TextIO) -> bool:
    """True when `stream` is the journal's socket: systemd puts its "device:inode" in
    JOURNAL_STREAM (a child whose stderr was redirected elsewhere inherits the variable,
    hence the comparison)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    try:
        st = os.fstat(stream.fileno())
        return (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (ValueError, OSError):
        return False


def setup_logging(
    stream: TextIO | None = None,
    level: int = logging.INFO,
    fmt: LogFormat = LogFormat.AUTO,
) -> logging.Handler:
    """Log to stderr: JSON lines when asked, else journald-style when JOURNAL_STREAM says
    stderr is the journal, else plain lines."""
    out = stream or sys.stderr
    handler = logging.StreamHandler(out)
    formatter: logging.Formatter
    if fmt is LogFormat.JSON:
        formatter = JsonFormatter()
    elif stream_is_journal(out):
        formatter = JournalFormatter()
    else:
        formatter = PlainFormatter()
    handler.setFormatter(formatter)
    root = logging.getLogger("lvstui")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    return handler


# --- systemd notify ------------------------------------------------------------------------------


class SdNotify:
    """systemd's notify protocol: one datagram to $NOTIFY_SOCKET. No-op when unset."""

    def __init__(self, address: str | None = None) -> None:
        addr = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        # "@name" is the abstract namespace: a leading NUL byte on the wire.
        self.address = "\0" + addr[1:] if addr.startswith("@") else addr

    def __call__(self, *fields: str) -> None:
        if not self.address:
            return
        data = "\n".join(fields).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.connect(self.address)
                s.sendall(data)
        except OSError as exc:
            log.warning("sd_notify to %r failed: %s", self.address, exc)


# --- the daemon ----------------------------------------------------------------------------------


async def _daemon(
    config: Config,
    *,
    socket_path: str,
    state_dir: str,
    dataplane: str | None,
    notify: SdNotify,
    release: bool = True,
) -> int:
    loop = asyncio.get_running_loop()
    handed = handover.inherited()
    control_sock = handed.take(handover.CONTROL)  # a seamless restart: see lvstui.handover
    if control_sock is None and probe_socket(socket_path):
        raise ControlError(
            f"another lvstui daemon already answers on {socket_path}",
            hint="two engines would fight over the VIPs: stop it first, or give this one "
            "its own --socket and --state-dir",
        )
    prepare_state_dir(state_dir)
    parts = build_engine(config, dataplane=dataplane, state_dir=state_dir, tune_gc=True)
    if parts.announcer is not None:  # the previous daemon's tun device: its routes stay
        device = config.lvstui.announce.device
        parts.announcer.driver.adopt(handed.take_fd(handover.tun_name(device)))
    engine = parts.engine
    log.info("dataplane: %s (%s)", engine.dataplane.capabilities.name, parts.reason)
    stop = asyncio.Event()
    reload_requests: asyncio.Queue[None] = asyncio.Queue()
    upgrade_requests: asyncio.Queue[None] = asyncio.Queue()
    handed_over = False
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload_requests.put_nowait, None)
    loop.add_signal_handler(signal.SIGUSR2, upgrade_requests.put_nowait, None)
    server: ControlServer | None = None
    try:
        server = await serve_control(
            engine,
            config,
            socket_path,
            state_dir,
            stats=parts.stats,
            sock=control_sock,
            relay=parts.group,
            director=parts.director,
        )
        await parts.start()
        unused = handed.close_unused()
        if unused:
            log.info("listeners of the previous daemon not needed any more: %s", unused)
        if handover.signal_ready():
            log.info("took over from the previous daemon")
        notify(
            "READY=1",
            f"STATUS=serving {len(config.virtual_servers)} virtual server(s) on the "
            f"{engine.dataplane.capabilities.name} dataplane; control socket {socket_path}",
            f"MAINPID={os.getpid()}",
        )
        log.info(
            "ready: control socket %s, state %s, event loop %s",
            socket_path,
            state_dir,
            loop_name(),
        )

        async def reloader() -> None:
            while True:
                await reload_requests.get()
                notify(
                    "RELOADING=1",
                    f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}",
                )
                log.info("SIGHUP: reloading %s", config.path)
                # the engine logs the outcome (and a rejected config's error) itself
                result = await engine.call(Reload(dry_run=False), who="SIGHUP")
                notify("READY=1", f"STATUS=reload: {result.message}")

        async def upgrader() -> None:
            nonlocal handed_over
            assert server is not None
            while True:
                await upgrade_requests.get()
                if await hand_over(
                    engine, server, parts.dataplane, notify, announcer=parts.announcer
                ):
                    handed_over = True
                    stop.set()
                    return

        async def outgrown() -> None:
            """On uvloop (no netlink), a reload that adds the first vrrp_instance (or static
            addresses) asks for asyncio's loop: hand over to a new daemon, as `ctl upgrade`
            does, and it starts them (its config has them, so it picks asyncio's loop)."""
            if loop_name() != "uvloop":
                return
            events = engine.subscribe()
            try:
                async for ev in events:
                    if isinstance(ev, ConfigReloaded) and ev.ok and needs_netlink(engine.config):
                        log.info("the reloaded config needs netlink (VRRP): seamless restart")
                        upgrade_requests.put_nowait(None)
            finally:
                events.close()

        tasks = [asyncio.create_task(t()) for t in (reloader, upgrader, outgrown)]
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
        if not handed_over:
            notify("STOPPING=1")
            log.info("stopping (graceful)")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR2):
            loop.remove_signal_handler(sig)
        if handed_over:  # bounded by itself (UPGRADE_DRAIN_TIMEOUT), before the deadline
            if server is not None:
                await server.close(unlink=False)  # the new daemon serves the socket file
            await finish_connections(parts.dataplane)
        try:
            async with asyncio.timeout(STOP_DEADLINE):
                if server is not None:
                    await server.close(unlink=not handed_over)
                # after a handover nothing is released: the new daemon serves it all
                await parts.stop(graceful=True, release=release and not handed_over)
        except TimeoutError:
            _abandon()
    if handed_over:
        log.info("stopped: the new daemon serves")
    else:
        log.info("stopped" if release else "stopped (services left in place: --dont-release-ipvs)")
    return 0


def _abandon() -> None:
    """The graceful stop overran STOP_DEADLINE: say what was still running, then leave
    without waiting for it (an exit that waited could hang as long as the stuck task)."""
    me = asyncio.current_task()
    stuck = sorted(t.get_name() for t in asyncio.all_tasks() if t is not me and not t.done())
    log.error(
        "stop: not finished after %gs; abandoning %d task(s) (%s) and exiting",
        STOP_DEADLINE,
        len(stuck),
        ", ".join(stuck[:10]) + (" …" if len(stuck) > 10 else ""),
    )
    logging.shutdown()
    os._exit(1)


UPGRADE_READY_TIMEOUT = 60.0  # seconds the new program has to start serving
UPGRADE_DRAIN_TIMEOUT = 30.0  # seconds the old daemon's open connections get to finish


async def hand_over(
    engine: Engine,
    server: ControlServer,
    dp: Dataplane,
    notify: SdNotify,
    argv: list[str] | None = None,
    *,
    announcer: OnDemand | None = None,
) -> bool:
    """SIGUSR2 (`lvstui ctl upgrade`): start the program again with our listening sockets;
    True once it serves (we then stop), False when it failed (we go on serving).

    `argv`: another program to hand over to (an embedded console's director leaving for a
    background daemon); default, this daemon's own command line."""
    from lvstui.dataplane.userspace.forwarder import UserspaceDataplane

    sockets = {handover.CONTROL: server.fileno()}
    if isinstance(dp, UserspaceDataplane):
        sockets.update(dp.listeners())
    # the bgp announcements' tun device: the new program adopts it with its routes, so the
    # VIPs stay announced (a second process cannot create a device this one holds)
    tun = announcer.fileno() if announcer is not None else None
    if tun is not None and announcer is not None:
        # by the open device's name (a reload may have named another, taken up next tick)
        sockets[handover.tun_name(announcer.driver.device)] = tun
    argv = handover.new_program_argv() if argv is None else argv
    engine.log("info", f"upgrade: starting {' '.join(argv)} with {len(sockets)} socket(s)")
    try:
        proc = await handover.start_new_program(sockets, argv, UPGRADE_READY_TIMEOUT)
    except (OSError, RuntimeError) as exc:
        engine.log("error", f"upgrade failed: {exc}; this daemon goes on serving")
        return False
    engine.log("info", f"upgrade: handed over to pid {proc.pid}; finishing open connections")
    # systemd: the new process is the service's main process from now on
    notify(f"MAINPID={proc.pid}", "READY=1", f"STATUS=upgraded: pid {proc.pid} serves")
    if isinstance(dp, UserspaceDataplane):
        dp.stop_accepting()
    if announcer is not None:
        announcer.detach()  # the new program owns the routes: our stop leaves them alone
    return True


async def finish_connections(dp: Dataplane) -> None:
    """Let the old daemon's relayed connections end by themselves (bounded)."""
    from lvstui.dataplane.userspace.forwarder import UserspaceDataplane

    if not isinstance(dp, UserspaceDataplane):
        return
    deadline = time.monotonic() + UPGRADE_DRAIN_TIMEOUT
    while dp.open_connections and time.monotonic() < deadline:  # noqa: ASYNC110 (a count)
        await asyncio.sleep(0.1)
    if dp.open_connections:
        log.warning(
            "upgrade: %d connection(s) still open after %gs: closed",
            dp.open_connections,
            UPGRADE_DRAIN_TIMEOUT,
        )


def loop_name() -> str:
    """ "uvloop" or "asyncio": which event loop runs this (for the logs)."""
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


def run_fast(coro: Coroutine[Any, Any, T], *, uvloop: bool = True) -> T:
    """`asyncio.run`, on uvloop's event loop when it is installed and `uvloop` (the
    userspace forwarder relays ~50% more new connections a second on it). For the daemon
    and the headless demo; the console stays on asyncio's own loop."""
    if not uvloop:
        return asyncio.run(coro)
    from lvstui.dataplane.userspace import new_event_loop

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(coro)


def needs_netlink(config: Config) -> bool:
    """VRRP instances, or static addresses, routes or rules: pyroute2's netlink sockets."""
    gd = config.global_defs
    return bool(config.vrrp_instances or gd.static_ipaddress or gd.static_routes or gd.static_rules)


def uvloop_fits(config: Config, dataplane: str | None = None) -> bool:
    """Whether this director can run on uvloop: only when it uses no netlink socket.

    pyroute2's asyncio netlink (kernel IPVS, the sync daemon, VRRP's addresses and links)
    opens a datagram endpoint of family AF_NETLINK, which uvloop refuses ("cannot open a UDP
    handle, invalid family 16"). So: the userspace dataplane (asked for, or the one `auto`
    is bound to pick because IPVS cannot be used here) and no VRRP instance. A reload that
    adds the first vrrp_instance then needs asyncio's loop: the daemon hands over to a new
    one by itself (`outgrown` in serve, the seamless restart of `ctl upgrade`);
    LVSTUI_EVENT_LOOP=asyncio keeps asyncio's loop from the start, so such a reload starts
    it in place."""
    if needs_netlink(config) or os.environ.get("LVSTUI_EVENT_LOOP") == "asyncio":
        return False
    want = DataplaneKind(dataplane) if dataplane else config.lvstui.dataplane
    if want is DataplaneKind.USERSPACE:
        return True
    if want is DataplaneKind.AUTO:
        from lvstui.dataplane.select import probe

        p = probe()
        return not (p.cap_net_admin and p.ipvs_module)
    return False


def run_daemon(
    config_path: str | None,
    *,
    socket_path: str | None = None,
    state_dir: str | None = None,
    dataplane: str | None = None,
    release: bool = True,
    log_format: LogFormat = LogFormat.AUTO,
) -> int:
    """`lvstui --daemon`: run until SIGTERM/SIGINT. Returns the exit code.

    `release=False` (keepalived's --dont-release-ipvs) leaves the services in the kernel at
    exit, so a restart (which adopts them) drops no established connection."""
    setup_logging(fmt=log_format)
    raise_nofile_limit()  # systemd's soft 1,024 is an outage waiting for 200 idle clients
    notify = SdNotify()
    try:
        config = load(config_path)
        # before the event loop, any thread or any socket: everything opens inside it
        enter_namespace(config.global_defs.net_namespace)
        sock = socket_path or config.lvstui.control_socket
        state = state_dir or config.lvstui.state_dir
        return run_fast(
            _daemon(
                config,
                socket_path=sock,
                state_dir=state,
                dataplane=dataplane,
                notify=notify,
                release=release,
            ),
            uvloop=uvloop_fits(config, dataplane),
        )
    except LvstuiError as exc:
        log.error("%s: %s", exc.title, exc)
        notify(f"STATUS=failed: {exc.message}", "ERRNO=1")
        return 1
    except OSError as exc:  # a socket, netlink or file the kernel refused: say which, exit 1
        log.error("cannot run: %s", exc)
        notify(f"STATUS=failed: {exc}", f"ERRNO={exc.errno or 1}")
        return 1
