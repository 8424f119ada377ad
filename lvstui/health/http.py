"""HTTP_GET and SSL_GET, with httpx.

Every `url` block must pass: its status code within one of its ranges (default 200-299) and,
when a `digest` is set, the MD5 of the body equal to it. The connection goes to
connect_ip:connect_port (default: the real server), while the Host header names the
virtualhost (url-level, else check-level, else the service's; without one, ip:port).

Defences against a misbehaving server, all inside the check's time budget:
- each url gets an overall deadline of connect_timeout (asyncio.timeout around the whole
  exchange: connect, TLS, headers and body), so a server that trickles one byte a second
  fails as surely as one that says nothing — httpx's own timeouts are per read;
- the body is streamed and counted: past `body_limit` bytes the check fails (memory stays
  bounded whatever the server sends);
- garbage instead of TLS fails at the handshake.

SSL_GET does not verify certificates unless `verify` is set (keepalived's behaviour: a
real server's certificate names the public site, not its own address). SNI: `sni`, else the
virtualhost's name (without port), else none (an IP address is never sent as SNI).
No proxy from the environment is ever used (trust_env off): checks go to the real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import ipaddress
import ssl
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import httpcore
import httpx

from lvstui.config.schema import DEFAULT_BODY_LIMIT, HttpCheck, HttpUrl
from lvstui.health.base import CheckResult, CheckSpec, CheckTarget, is_local_failure

__all__ = [
    "USER_AGENT",
    "FetchResult",
    "HttpChecker",
    "fetch",
    "make_ssl_context",
    "sni_name",
]

USER_AGENT = "lvstui-check"


class BodyTooLarge(Exception):
    pass


@dataclass(frozen=True, slots=True)
class FetchResult:
    status: int
    http_version: str
    reason_phrase: str
    headers: tuple[tuple[bytes, bytes], ...]
    md5: str  # hex digest of the (decoded transfer, identity content) body
    size: int
    body: bytes | None  # only when asked for (genhash -v)


@functools.cache
def make_ssl_context(verify: bool) -> ssl.SSLContext:
    """One shared client context per `verify` value (loading the system's CA store costs
    milliseconds: not once per check). Never modified after creation."""
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


_NO_VERIFY = make_ssl_context(False)


def sni_name(sni: str | None, virtualhost: str | None) -> str | None:
    """The name sent in the TLS handshake: explicit `sni`, else the virtualhost's host part,
    never an IP address."""
    name = sni or virtualhost
    if not name:
        return None
    host = name
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return None


def _url(tls: bool, target: CheckTarget, path: str) -> str:
    if not path.startswith("/"):
        path = "/" + path
    return f"{'https' if tls else 'http'}://{target.hostport}{path}"


class _TrackingBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, remembering every stream it opens so the check can close
    them all at the end. httpcore closes a socket whose TLS handshake fails, but not one
    whose handshake is *cancelled* (our overall deadline): without this, a server that
    accepts and never answers the ClientHello would leak one socket per check."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()
        self.streams: list[httpcore.AsyncNetworkStream] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        self.streams.append(stream)
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - checks never use unix sockets
        raise OSError("unix sockets are not used by health checks")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)

    async def aclose_all(self) -> None:
        for stream in self.streams:
            with contextlib.suppress(Exception):
                await stream.aclose()
        self.streams.clear()


class _CheckTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a tracking backend; one connection per url, like keepalived
    (a kept-alive socket would hide a server that no longer accepts connections)."""

    def __init__(self, ssl_context: ssl.SSLContext | None, bindto: str | None) -> None:
        super().__init__(verify=False, trust_env=False, retries=0)
        self.backend = _TrackingBackend()
        # httpx has no public way to pass a network backend: replace the pool it built
        # (same arguments, plus the backend). httpx is pinned >=0.27 where `_pool` exists.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context if ssl_context is not None else _NO_VERIFY,
            max_connections=1,
            max_keepalive_connections=0,
            http1=True,
            http2=False,
            retries=0,
            local_address=bindto,
            network_backend=self.backend,
        )

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            await self.backend.aclose_all()


@contextlib.asynccontextmanager
async def make_client(
    timeout: float, ssl_context: ssl.SSLContext | None, bindto: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    transport = _CheckTransport(ssl_context, bindto)
    client = httpx.AsyncClient(
        transport=transport,
        trust_env=False,
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
    )
    try:
        yield client
    finally:
        try:
            await client.aclose()
        finally:
            await transport.backend.aclose_all()


async def fetch(
    client: httpx.AsyncClient,
    target: CheckTarget,
    path: str,
    *,
    tls: bool,
    virtualhost: str | None,
    sni: str | None,
    timeout: float,
    body_limit: int = DEFAULT_BODY_LIMIT,
    keep_body: bool = False,
    user_agent: str = USER_AGENT,
) -> FetchResult:
    """One GET, bounded by `timeout` overall and `body_limit` bytes. Raises TimeoutError,
    BodyTooLarge or httpx.HTTPError / OSError."""
    headers = {
        "Host": virtualhost or target.hostport,
        "User-Agent": user_agent,
        # the digest is of the body as the server stores it: no compression
        "Accept-Encoding": "identity",
        "Connection": "close",  # one request per connection, like keepalived
    }
    extensions: dict[str, object] = {}
    if tls:
        name = sni_name(sni, virtualhost)
        if name:
            extensions["sni_hostname"] = name
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    parts: list[bytes] = []
    async with asyncio.timeout(timeout):
        async with client.stream(
            "GET", _url(tls, target, path), headers=headers, extensions=extensions
        ) as resp:
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > body_limit:
                    raise BodyTooLarge(f"body larger than {body_limit} bytes")
                md5.update(chunk)
                if keep_body:
                    parts.append(chunk)
            return FetchResult(
                status=resp.status_code,
                http_version=resp.http_version,
                reason_phrase=resp.reason_phrase,
                headers=tuple(resp.headers.raw),
                md5=md5.hexdigest(),
                size=size,
                body=b"".join(parts) if keep_body else None,
            )


def _error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timeout after {timeout:g}s"
    if isinstance(exc, BodyTooLarge):
        return str(exc)
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


class HttpChecker:
    """HTTP_GET / SSL_GET: every url must pass; each url has `spec.timeout` overall."""

    def __init__(
        self, spec: CheckSpec, check: HttpCheck, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._spec = spec
        self._check = check
        self._ssl = ssl_context
        if check.tls and ssl_context is None:
            self._ssl = make_ssl_context(check.verify)

    @property
    def spec(self) -> CheckSpec:
        return self._spec

    async def run(self) -> CheckResult:
        spec, check = self._spec, self._check
        started = time.monotonic()
        async with make_client(spec.timeout, self._ssl, spec.target.bindto) as client:
            for url in check.urls:
                reason = await self._one(client, url)
                if reason is not None:
                    now = time.monotonic()
                    return CheckResult(
                        False, f"{url.path}: {reason}", now - started, None, started, now
                    )
        now = time.monotonic()
        n = len(check.urls)
        what = f"{n} url{'s' if n > 1 else ''} ok"
        return CheckResult(True, what, now - started, None, started, now)

    async def _one(self, client: httpx.AsyncClient, url: HttpUrl) -> str | None:
        spec, check = self._spec, self._check
        try:
            res = await fetch(
                client,
                spec.target,
                url.path,
                tls=check.tls,
                virtualhost=url.virtualhost or spec.target.virtualhost,
                sni=check.sni,
                timeout=spec.timeout,
                body_limit=check.body_limit,
            )
        except (TimeoutError, BodyTooLarge, httpx.HTTPError, OSError, ssl.SSLError) as exc:
            if is_local_failure(exc):
                raise  # this host, not the server: the scheduler counts the run as unknown
            return _error(exc, spec.timeout)
        if not any(res.status in r for r in url.status_code):
            codes = ",".join(str(r) for r in url.status_code)
            return f"status {res.status} not in {codes}"
        if url.digest is not None and res.md5 != url.digest.lower():
            return f"digest {res.md5} != {url.digest.lower()}"
        return None
