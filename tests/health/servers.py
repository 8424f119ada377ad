"""Real servers on loopback for the checker tests: well-behaved and misbehaving ones."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import ssl
import threading
from collections.abc import AsyncIterator, Iterator, Sequence

BIG_CHUNK = b"x" * 65536


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: Server

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        return "Thu, 01 Jan 2026 00:00:00 GMT"  # byte-stable headers for genhash -v

    def _send(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        # headers and body in one write: keepalived's genhash -v dumps what its first read
        # returned, so a split response would make its output depend on timing
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers.items())))
        if self.path == "/ok":
            self._send(200, b"OK\n")
        elif self.path == "/500":
            self._send(500, b"database unreachable\n")
        elif self.path == "/host":
            self._send(200, self.headers.get("Host", "").encode())
        elif self.path == "/clock":
            self.server.counter += 1
            self._send(200, f"now {self.server.counter}\n".encode())
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/huge":  # 1 GiB announced and sent until the client gives up
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            with contextlib.suppress(OSError):
                for _ in range((1 << 30) // len(BIG_CHUNK)):
                    self.wfile.write(BIG_CHUNK)
        else:
            self._send(404, b"not found\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, addr: tuple[str, int], ssl_ctx: ssl.SSLContext | None = None) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.counter = 0
        self.ssl_ctx = ssl_ctx
        super().__init__(addr, Handler)

    def get_request(self) -> tuple[object, object]:
        sock, addr = super().get_request()
        if self.ssl_ctx is not None:
            sock = self.ssl_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client hanging up on /huge or a failed handshake is expected here

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@contextlib.contextmanager
def http_server(ssl_ctx: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> Iterator[Server]:
    srv = Server((host, 0), ssl_ctx)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


@contextlib.asynccontextmanager
async def raw_server(behaviour: str, lines: Sequence[bytes] = ()) -> AsyncIterator[int]:
    """Misbehaving TCP servers: `stall` (accept, say nothing), `trickle` (headers, then one
    byte every 50 ms forever), `garbage` (bytes that are not TLS nor HTTP, then silence),
    `script` (say lines[0], then answer each line the client sends with the next one)."""
    writers: set[asyncio.StreamWriter] = set()
    tasks: set[asyncio.Task[object]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        me = asyncio.current_task()
        if me is not None:
            tasks.add(me)
        try:
            if behaviour == "trickle":
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 100000\r\n\r\n")
                while True:
                    writer.write(b"x")
                    await writer.drain()
                    await asyncio.sleep(0.05)
            elif behaviour == "script":
                for i, line in enumerate(lines):
                    if i:
                        await reader.readline()
                    writer.write(line)
                    await writer.drain()
            elif behaviour == "garbage":
                writer.write(b"\x00\x01garbage, not TLS at all\r\n" * 4)
                await writer.drain()
            await reader.read()  # until the client leaves
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writers.discard(writer)
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield srv.sockets[0].getsockname()[1]
    finally:
        srv.close()
        for t in list(tasks):
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for w in list(writers):
            w.close()
        await srv.wait_closed()
