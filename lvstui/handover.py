"""Seamless restart: the running daemon hands its listening sockets to a new program.

    lvstui ctl upgrade          (or: kill -USR2 <daemon pid>)

nginx's binary upgrade and HAProxy's `-x` do the same: stopping a userspace director and
starting it again refused connections for about two seconds (issue 10, item 8); handing the
sockets over refuses none, because the kernel's accept queue of a listening socket lives as
long as any process holds it.

1. The old daemon starts the new program (the same command line, from disk: after a package
   upgrade that is the new code) with its listening sockets inherited — the control socket
   and every userspace VIP listener — and their names in `LVSTUI_INHERITED_FDS`
   (`control=3;tcp:127.0.0.1:80=4`, like systemd's LISTEN_FDS and LISTEN_FDNAMES), and the
   write end of a pipe in `LVSTUI_UPGRADE_READY_FD`.
2. The new program adopts those sockets instead of binding (a listener it does not need
   any more is closed), starts its engine (the kernel IPVS table is adopted as on any
   start), and writes one byte to the pipe once it serves.
3. The old daemon then stops accepting (both accepted from the same queues meanwhile),
   lets its open connections finish (bounded), and exits without releasing anything.

If the new program exits or is not ready within the deadline, the old one kills it and goes
on serving: a broken configuration or a broken install costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Final

from lvstui.model import ServiceKey
from lvstui.netutil import bracket_host

__all__ = [
    "FDS_ENV",
    "READY_ENV",
    "Inherited",
    "listener_name",
    "new_program_argv",
    "signal_ready",
    "start_new_program",
    "stop_process",
    "tun_name",
]

log = logging.getLogger("lvstui.handover")

FDS_ENV: Final = "LVSTUI_INHERITED_FDS"
READY_ENV: Final = "LVSTUI_UPGRADE_READY_FD"
CONTROL: Final = "control"
TUN: Final = "tun:"  # + the device's name: the bgp announcements' tun device


def tun_name(device: str) -> str:
    return TUN + device


def listener_name(key: ServiceKey) -> str:
    """`tcp:127.0.0.1:80`, `udp:[2001:db8::1]:53`: how a VIP listener is named in the map."""
    return f"{key.protocol.value.lower()}:{bracket_host(key.addr)}:{key.port}"


class Inherited:
    """The sockets a previous daemon handed over, by name. Read once from the environment
    (and removed from it, so a child of ours does not believe it inherited them too)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.sockets: dict[str, socket.socket] = {}
        # descriptors that are not sockets, by name: the bgp announcements' tun device
        # (`tun:lvs-announce=5`, see lvstui/announce/lifecycle.py)
        self.fds: dict[str, int] = {}
        source = os.environ if env is None else env
        text = source.get(FDS_ENV, "")
        ready = source.get(READY_ENV, "")
        if env is None:
            os.environ.pop(FDS_ENV, None)
            os.environ.pop(READY_ENV, None)
        self.ready_fd = int(ready) if ready.isdigit() else -1
        for item in filter(None, text.split(";")):
            name, _, fd = item.rpartition("=")
            if not name or not fd.isdigit():
                log.warning("%s: ignoring %r", FDS_ENV, item)
                continue
            if name.startswith(TUN):
                self.fds[name] = int(fd)
                continue
            try:
                sock = socket.socket(fileno=int(fd))
            except OSError as exc:
                log.warning("%s: descriptor %s (%s) is not a socket: %s", FDS_ENV, fd, name, exc)
                continue
            sock.set_inheritable(False)
            self.sockets[name] = sock

    def take(self, name: str) -> socket.socket | None:
        return self.sockets.pop(name, None)

    def take_fd(self, name: str) -> int | None:
        return self.fds.pop(name, None)

    def close_unused(self) -> list[str]:
        """Close what nobody took (VIPs the new configuration dropped); their names."""
        names = sorted([*self.sockets, *self.fds])
        for sock in self.sockets.values():
            sock.close()
        for fd in self.fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.sockets.clear()
        self.fds.clear()
        return names


_inherited: Inherited | None = None


def inherited() -> Inherited:
    """The process's inherited sockets (read from the environment on first use)."""
    global _inherited
    if _inherited is None:
        _inherited = Inherited()
    return _inherited


def signal_ready() -> bool:
    """Tell the daemon that started us that we serve (no-op when nobody did)."""
    h = inherited()
    if h.ready_fd < 0:
        return False
    try:
        os.write(h.ready_fd, b"1")
    except OSError as exc:
        log.warning("cannot tell the previous daemon that this one is ready: %s", exc)
        return False
    finally:
        with contextlib.suppress(OSError):
            os.close(h.ready_fd)
        h.ready_fd = -1
    return True


def new_program_argv(argv: Sequence[str] | None = None) -> list[str]:
    """The command line that started this daemon, to start it again from disk."""
    args = list(sys.argv if argv is None else argv)
    if not args or args[0].endswith("__main__.py") or args[0] == "-m":
        return [sys.executable, "-m", "lvstui", *args[1:]]
    return [sys.executable, args[0], *args[1:]]


async def start_new_program(
    sockets: Mapping[str, int], argv: Sequence[str], timeout: float
) -> subprocess.Popen[bytes]:
    """Start `argv` with `sockets` (descriptors by name) inherited; return it once it says
    it is ready.

    RuntimeError (and the new program killed) when it exits first or is not ready within
    `timeout` seconds."""
    r, w = os.pipe()
    fds = dict(sockets)
    env = dict(os.environ)
    env[FDS_ENV] = ";".join(f"{name}={fd}" for name, fd in fds.items())
    env[READY_ENV] = str(w)
    try:
        proc = _spawn(argv, env, [*fds.values(), w])
    except OSError:
        os.close(r)
        raise
    finally:
        os.close(w)
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[bytes] = loop.create_future()

    def readable() -> None:
        if not ready.done():
            try:
                ready.set_result(os.read(r, 1))
            except OSError as exc:
                ready.set_exception(exc)

    loop.add_reader(r, readable)
    try:
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise RuntimeError(f"the new program was not ready within {timeout:g}s")
            with contextlib.suppress(TimeoutError):
                got = await asyncio.wait_for(asyncio.shield(ready), min(0.2, remaining))
                if got == b"1":
                    return proc
                # end of file: it closed the pipe without a word (it exited, or will)
                code = await asyncio.to_thread(_exit_status, proc)
                raise RuntimeError(_exited(code) or "the new program closed the ready pipe")
            if proc.poll() is not None:
                raise RuntimeError(_exited(proc.poll()))
    except BaseException:
        await asyncio.shield(asyncio.to_thread(stop_process, proc))  # never on the loop
        raise
    finally:
        loop.remove_reader(r)
        os.close(r)


def _spawn(argv: Sequence[str], env: dict[str, str], fds: list[int]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, pass_fds=fds)


def _exit_status(proc: subprocess.Popen[bytes]) -> int | None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(2)
    return proc.poll()


def _exited(code: int | None) -> str:
    return "" if code is None else f"the new program exited with status {code}"


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, 10 s to exit, then SIGKILL (blocking: call it in a thread from a loop)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
