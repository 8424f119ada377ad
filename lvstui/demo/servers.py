"""Tiny real HTTP/1.1 servers for the demo: each answers with its own name.

- ``GET /`` → ``Hello from NAME`` (after ``delay`` seconds for the slow one);
- ``GET /health`` → 200 ``ok``, or 500 while failing;
- ``GET /fail`` → toggles failing (also: the file ``fail_file`` exists → failing);
  while failing, ``/`` answers 500 too.

One request per connection (``Connection: close``): enough for curl, browsers and checks.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DemoServer"]

_MAX_HEAD = 16 * 1024


@dataclass
class DemoServer:
    name: str
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port (read `port` after start)
    delay: float = 0.0
    fail_file: Path | None = None
    status: int = 200  # what `/` answers when not failing (the sorry server uses 503)
    failing: bool = False
    requests: int = 0
    _server: asyncio.Server | None = field(default=None, repr=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    @property
    def is_failing(self) -> bool:
        return self.failing or (self.fail_file is not None and self.fail_file.exists())

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await asyncio.wait_for(self._serve(reader, writer), 30)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _MAX_HEAD:
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        path = parts[1] if len(parts) >= 2 else "/"
        self.requests += 1
        if path == "/fail":
            self.failing = not self.failing
            code, body = 200, f"{self.name}: failing={self.is_failing}\n"
        elif path == "/health":
            code, body = (500, "failing\n") if self.is_failing else (200, "ok\n")
        else:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.is_failing:
                code, body = 500, f"{self.name} is failing\n"
            else:
                code, body = self.status, f"Hello from {self.name}\n"
        reason = {200: "OK", 500: "Internal Server Error", 503: "Service Unavailable"}[code]
        data = body.encode()
        writer.write(
            f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(data)}\r\nX-Served-By: {self.name}\r\n"
            f"Connection: close\r\n\r\n".encode()
            + data
        )
        await writer.drain()
