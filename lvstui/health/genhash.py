"""genhash: the MD5 digest of a URL's body, to paste into an HTTP_GET/SSL_GET `digest`.

Same request path as the HTTP checker (`lvstui.health.http.fetch`): same headers, same
Host/SNI rules, same body cap, so the digest printed is the one the checker will compute.

Output matches keepalived's `genhash` (2.x): the hex digest alone on a line; `-v` adds
keepalived's hex dumps of the headers, the body and the hash. `legacy=True` prints the
older `MD5SUM = <hex>` form (keepalived 1.x, and the tutorial).

The page is fetched twice: if the two digests differ the page is dynamic (a clock, a
counter...) and a digest check on it would fail every time: a warning goes to stderr and
the exit status is 3.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TextIO

import httpx

from lvstui.config.schema import DEFAULT_BODY_LIMIT
from lvstui.health.base import CheckTarget
from lvstui.health.http import BodyTooLarge, FetchResult, fetch, make_client, make_ssl_context

__all__ = ["EXIT_DYNAMIC", "GenhashRequest", "genhash", "hexdump"]

EXIT_DYNAMIC = 3
_RULE = "-----------------------[ {} ]-----------------------"


@dataclass(frozen=True, slots=True)
class GenhashRequest:
    server: str
    port: int
    url: str
    tls: bool = False
    virtualhost: str | None = None
    timeout: float = 5.0
    verbose: bool = False
    legacy: bool = False
    fetches: int = 2
    body_limit: int = DEFAULT_BODY_LIMIT


def hexdump(data: bytes) -> str:
    """keepalived's dump: decimal offset, 8 bytes - 8 bytes, then the printable text."""
    lines = []
    for off in range(0, len(data), 16):
        row = data[off : off + 16]
        left = "".join(f"{b:02x} " for b in row[:8]).ljust(24)
        right = "".join(f"{b:02x} " for b in row[8:]).ljust(24)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row).ljust(16)
        lines.append(f"{off:04d}  {left}- {right}  {text}")
    return "".join(line + "\n" for line in lines)


def _header_block(res: FetchResult) -> bytes:
    status = f"{res.http_version} {res.status} {res.reason_phrase}\r\n".encode("latin-1")
    lines = b"".join(k + b": " + v + b"\r\n" for k, v in res.headers)
    return status + lines + b"\r\n"


def _verbose(res: FetchResult, path: str, elapsed: float) -> str:
    header = _header_block(res)
    body = res.body or b""
    digest = bytes.fromhex(res.md5)
    return (
        _RULE.format("   HTTP Header Buffer   ")
        + "\n"
        + hexdump(header)
        + _RULE.format("HTTP Header Ascii Buffer")
        + "\n"
        + header.decode("latin-1")
        + "\n"
        + _RULE.format("       HTML Buffer       ")
        + "\n"
        + hexdump(body)
        + "\n"
        + _RULE.format("   HTML hash resulting   ")
        + "\n"
        + hexdump(digest)
        + _RULE.format("HTML hash final resulting")
        + "\n"
        + res.md5
        + "\n\n"
        + f"Global response time for [{path}] = {int(elapsed * 1_000_000)} usecs\n"
    )


async def _fetch_once(req: GenhashRequest) -> tuple[FetchResult, float]:
    ssl_ctx = make_ssl_context(False) if req.tls else None
    target = CheckTarget(req.server, req.port)
    t0 = time.monotonic()
    async with make_client(req.timeout, ssl_ctx) as client:
        res = await fetch(
            client,
            target,
            req.url,
            tls=req.tls,
            virtualhost=req.virtualhost,
            # the checker's rule (SNI = the virtualhost's name), so the digest is the one the
            # checker will see; keepalived's -I is therefore implied
            sni=None,
            timeout=req.timeout,
            body_limit=req.body_limit,
            keep_body=req.verbose,
        )
    return res, time.monotonic() - t0


async def genhash(req: GenhashRequest, out: TextIO, err: TextIO) -> int:
    """Print the digest (and the dumps with verbose); 0 ok, 1 failure, 3 dynamic page."""
    results: list[FetchResult] = []
    for i in range(max(1, req.fetches)):
        try:
            res, elapsed = await _fetch_once(req)
        except (TimeoutError, httpx.TimeoutException):
            err.write(f"genhash: no complete answer within {req.timeout:g}s\n")
            return 1
        except BodyTooLarge as exc:
            err.write(f"genhash: {exc} (HTTP_GET's body_limit)\n")
            return 1
        except (httpx.HTTPError, OSError) as exc:
            err.write(f"genhash: connection to {req.server}:{req.port} failed: {exc}\n")
            return 1
        if i == 0:
            out.write(_verbose(res, req.url, elapsed) if req.verbose else "")
            if not req.verbose:
                out.write(f"MD5SUM = {res.md5}\n" if req.legacy else f"{res.md5}\n")
            out.flush()
            if not 200 <= res.status <= 299:
                err.write(
                    f"genhash: note: status {res.status}; HTTP_GET expects 200-299 unless "
                    "the url sets status_code\n"
                )
        results.append(res)
    digests = [r.md5 for r in results]
    if len(set(digests)) > 1:
        err.write(
            f"genhash: warning: two fetches of {req.url} gave different digests "
            f"({' then '.join(digests)}): the page is dynamic (a clock, a counter...), "
            "a digest check on it would fail every time; check a static page\n"
        )
        return EXIT_DYNAMIC
    return 0


def run_genhash(req: GenhashRequest, out: TextIO, err: TextIO) -> int:
    return asyncio.run(genhash(req, out, err))
