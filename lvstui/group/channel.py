"""Links between group members: mutual TLS over TCP (IPv4 or IPv6), one JSON line a message.

`Listener` accepts peers on `listen`; `Dialer` keeps one outgoing link to each configured
peer, reconnecting with a capped exponential backoff. The TLS handshake is done after the
TCP accept (not by the server socket), so a peer that fails it — no certificate, another
group's — is logged at warning level *with its address* and never gets a link.

`MemoryLink.pair()` is the in-memory twin used by the member's tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from lvstui.group.keys import Credential
from lvstui.group.protocol import MAX_LINE, Message, decode, encode
from lvstui.model import RealKey
from lvstui.netutil import socket_family

__all__ = [
    "BACKOFF_MAX",
    "BACKOFF_MIN",
    "CONNECT_TIMEOUT",
    "Dialer",
    "Link",
    "Listener",
    "MemoryLink",
    "TlsLink",
    "format_addr",
    "parse_addr",
]

log = logging.getLogger("lvstui.group")

# A peer behind a partition must not hold a dial for long: with the backoff below, a dial
# starts at least every 0.5 + 0.5 s, so a healed partition is noticed within about a second
# (the other side dials too: usually sooner). Half a second is still many LAN or
# cross-region round trips.
CONNECT_TIMEOUT = 0.5
HANDSHAKE_TIMEOUT = 10.0  # only drops a stuck peer: a loaded director may take seconds
BACKOFF_MIN = 0.1
BACKOFF_MAX = 0.5


def parse_addr(text: str, *, any_port: bool = False) -> tuple[str, int]:
    """`ADDR:PORT` or `[V6ADDR]:PORT` (IP literals) → (address, port); ValueError when
    malformed. `any_port`: port 0 is allowed (a listener that takes a free port: tests)."""
    t = text.strip()
    if not t.startswith("[") and t.count(":") > 1:
        raise ValueError(f"an IPv6 address goes in brackets: [ADDR]:PORT, got {text!r}")
    key = RealKey.parse(t)
    if key.port == 0 and not any_port:
        raise ValueError(f"expected ADDR:PORT with a port 1-65535, got {text!r}")
    return key.addr, key.port


def format_addr(host: str, port: int) -> str:
    return str(RealKey(host, port))


class Link(Protocol):
    """One established, authenticated link to a peer."""

    @property
    def address(self) -> str: ...

    async def send(self, msg: Message) -> None: ...

    async def recv(self) -> Message:
        """The next message; EOFError when the peer closed, ValueError when it sent garbage."""
        ...

    def close(self) -> None: ...


class TlsLink:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, addr: str):
        self._reader = reader
        self._writer = writer
        self._addr = addr

    @property
    def address(self) -> str:
        return self._addr

    async def send(self, msg: Message) -> None:
        self._writer.write(encode(msg))
        await self._writer.drain()

    async def recv(self) -> Message:
        try:
            line = await self._reader.readline()
        except ValueError as e:  # longer than MAX_LINE
            raise ValueError(f"message too long: {e}") from e
        except (ConnectionError, ssl.SSLError) as e:
            raise EOFError(str(e)) from e
        if not line:
            raise EOFError("closed by the peer")
        return decode(line)

    def close(self) -> None:
        self._writer.close()


class MemoryLink:
    """In-memory twin of a TlsLink: messages go through encode/decode like on the wire."""

    def __init__(self, address: str) -> None:
        self._addr = address
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.other: MemoryLink | None = None
        self.closed = False

    @classmethod
    def pair(cls, a_addr: str = "a", b_addr: str = "b") -> tuple[MemoryLink, MemoryLink]:
        """Two ends: the first one's `address` is b_addr (where it leads), and so on."""
        a, b = cls(b_addr), cls(a_addr)
        a.other, b.other = b, a
        return a, b

    @property
    def address(self) -> str:
        return self._addr

    async def send(self, msg: Message) -> None:
        if self.closed or self.other is None or self.other.closed:
            raise ConnectionError("link closed")
        self.other._inbox.put_nowait(encode(msg))

    async def recv(self) -> Message:
        line = await self._inbox.get()
        if line is None:
            raise EOFError("closed by the peer")
        return decode(line)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._inbox.put_nowait(None)
            if self.other is not None:
                self.other._inbox.put_nowait(None)


_REFUSAL_REPEAT = 60.0  # a peer that keeps redialling with the wrong key: one warning a minute


class _Refusals:
    """Logs refused peers at warning level, with their address, rate-limited per host."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def __call__(self, addr: str, why: str) -> None:
        now = time.monotonic()
        host = addr.rsplit(":", 1)[0]  # a redial comes from a new port: limit by host
        if now - self._last.get(host, -_REFUSAL_REPEAT) >= _REFUSAL_REPEAT:
            self._last[host] = now
            log.warning("group: refused peer %s: %s", addr, why)
        else:
            log.debug("group: refused peer %s: %s", addr, why)


Opener = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def _secure(
    open_tls: Opener, cred: Credential, addr: str, refuse: _Refusals, *, accepted: bool
) -> TlsLink | None:
    """Run the TLS handshake (`open_tls`); None (logged) when the peer is refused.

    The transport does TLS from its first byte (never `start_tls` on a stream that may
    already have buffered the peer's ClientHello, which then stalls the handshake)."""
    try:
        reader, writer = await open_tls()
    except ssl.SSLError as e:
        refuse(addr, f"TLS handshake failed ({e.reason or e}): it does not hold this group's key")
        return None
    except (ConnectionError, TimeoutError, OSError) as e:
        if accepted:
            # a peer that does not trust our certificate (another group's) aborts the
            # handshake itself: here that is a reset, and it is a refusal all the same
            refuse(addr, f"TLS handshake failed ({e!r}): not a member of this group")
        else:  # our dial: the peer went away or stalled (we redial)
            log.info("group: handshake with %s did not complete: %r", addr, e)
        return None
    sslobj = writer.get_extra_info("ssl_object")
    der = sslobj.getpeercert(binary_form=True) if isinstance(sslobj, ssl.SSLObject) else None
    if not cred.pinned(der):
        refuse(addr, "its certificate is not this group's")
        writer.close()
        return None
    return TlsLink(reader, writer, addr)


OnLink = Callable[[Link, bool], Awaitable[None]]  # (link, outgoing): runs until the link ends


class Listener:
    """Accepts peers on one address; each authenticated link is handed to `on_link`."""

    def __init__(self, listen: str, cred: Credential, on_link: OnLink) -> None:
        self.listen = listen
        self._cred = cred
        self._on_link = on_link
        self._sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._links: set[TlsLink] = set()
        self._refuse = _Refusals()

    async def start(self) -> None:
        host, port = parse_addr(self.listen, any_port=True)
        family = socket_family(host)
        sock = socket.create_server((host, port), family=family, backlog=64)
        sock.setblocking(False)
        self._sock = sock
        self._task = asyncio.get_running_loop().create_task(self._accept_loop(sock))

    @property
    def port(self) -> int:
        assert self._sock is not None
        return int(self._sock.getsockname()[1])

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, peer = await loop.sock_accept(sock)
            except OSError as e:  # EMFILE and the like: the next accept may work
                log.warning("group: accept on %s: %s", self.listen, e)
                await asyncio.sleep(0.5)
                continue
            task = loop.create_task(self._serve(conn, format_addr(str(peer[0]), int(peer[1]))))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, conn: socket.socket, addr: str) -> None:
        loop = asyncio.get_running_loop()

        async def open_tls() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            reader = asyncio.StreamReader(limit=MAX_LINE)
            protocol = asyncio.StreamReaderProtocol(reader)
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol,
                conn,
                ssl=self._cred.context(server=True),
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
            )
            return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

        link = await _secure(open_tls, self._cred, addr, self._refuse, accepted=True)
        if link is None:
            conn.close()
            return
        self._links.add(link)
        try:
            await self._on_link(link, False)
        finally:
            self._links.discard(link)
            link.close()

    async def close(self) -> None:
        """Stop accepting and drop the accepted links (a stopping director leaves)."""
        for link in list(self._links):
            link.close()
        for task in [self._task, *self._tasks]:
            if task is not None:
                task.cancel()
        for task in [self._task, *self._tasks]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._sock is not None:
            self._sock.close()


class Dialer:
    """Keeps a link to one peer: dial, run `on_link` until it ends, back off, dial again."""

    def __init__(self, peer: str, cred: Credential, on_link: OnLink) -> None:
        self.peer = peer
        self._cred = cred
        self._on_link = on_link
        self.last_error = ""
        self._task: asyncio.Task[None] | None = None
        # checked as well as cancelling: asyncio.wait_for in 3.11 can swallow a cancel
        # that arrives as its inner future completes, and the loop must still end
        self._closing = False
        self._link: TlsLink | None = None
        self._refuse = _Refusals()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"group {self.peer}")

    async def _dial(self) -> TlsLink | None:
        host, port = parse_addr(self.peer)
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket_family(host))
        sock.setblocking(False)
        try:
            # the TCP connect alone is bounded tightly: a peer behind a partition
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as e:
            sock.close()
            self.last_error = str(e) or type(e).__name__
            return None

        async def open_tls() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await asyncio.open_connection(
                sock=sock,
                ssl=self._cred.context(server=False),
                server_hostname="",  # pinned by certificate: no name to send or check
                limit=MAX_LINE,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
            )

        link = await _secure(open_tls, self._cred, self.peer, self._refuse, accepted=False)
        if link is None:
            sock.close()
        return link

    async def _run(self) -> None:
        delay = BACKOFF_MIN
        while not self._closing:
            link = await self._dial()
            if link is not None:
                self.last_error = ""
                delay = BACKOFF_MIN
                self._link = link
                try:
                    await self._on_link(link, True)
                finally:
                    self._link = None
                    link.close()
            # jitter keeps two directors that lost each other from redialling in lockstep
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            delay = min(BACKOFF_MAX, delay * 2)

    async def close(self) -> None:
        self._closing = True
        if self._link is not None:  # ends the link's reader even if a cancel is swallowed
            self._link.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
