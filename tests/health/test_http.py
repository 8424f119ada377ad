"""HTTP_GET / SSL_GET against real servers on loopback, well-behaved and not."""

from __future__ import annotations

import hashlib
import ssl
import time
from collections.abc import Iterator

import pytest
import trustme

from lvstui.config.schema import (
    CheckCommon,
    HttpCheck,
    HttpUrl,
    RealServer,
    StatusRange,
    VirtualServer,
)
from lvstui.health.base import CheckResult, resolve_spec
from lvstui.health.build import build_checker
from lvstui.health.http import HttpChecker, sni_name

from .servers import Server, http_server, raw_server

NAME = "www.example.test"


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


async def run(
    port: int,
    *urls: HttpUrl,
    timeout: float = 2.0,
    vs_virtualhost: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    **kw: object,
) -> CheckResult:
    check = HttpCheck(urls, common=CheckCommon(connect_timeout=timeout), **kw)  # type: ignore[arg-type]
    real = RealServer("127.0.0.1", port)
    vs = VirtualServer("192.0.2.9", 80, virtualhost=vs_virtualhost)
    if ssl_context is not None:
        return await HttpChecker(
            resolve_spec(check, real, vs), check, ssl_context=ssl_context
        ).run()
    return await build_checker(check, real, vs).run()


@pytest.fixture(scope="module")
def srv() -> Iterator[Server]:
    with http_server() as s:
        yield s


async def test_status_ok_and_digest(srv: Server) -> None:
    r = await run(srv.port, HttpUrl("/ok"))
    assert r.ok and r.reason == "1 url ok" and 0 < r.latency < 2
    assert (await run(srv.port, HttpUrl("/ok", digest=md5(b"OK\n")))).ok
    bad = await run(srv.port, HttpUrl("/ok", digest=md5(b"KO\n")))
    assert not bad.ok and "digest" in bad.reason and md5(b"OK\n") in bad.reason


async def test_status_codes(srv: Server) -> None:
    r = await run(srv.port, HttpUrl("/500"))
    assert not r.ok and "status 500 not in 200-299" in r.reason
    assert (await run(srv.port, HttpUrl("/500", status_code=(StatusRange(500, 500),)))).ok
    # redirects are not followed: 302 is its own status
    assert not (await run(srv.port, HttpUrl("/redirect"))).ok
    ok302 = HttpUrl("/redirect", status_code=(StatusRange(200, 200), StatusRange(300, 399)))
    assert (await run(srv.port, ok302)).ok
    assert not (await run(srv.port, HttpUrl("/missing"))).ok


async def test_every_url_must_pass(srv: Server) -> None:
    r = await run(srv.port, HttpUrl("/ok"), HttpUrl("/500"), HttpUrl("/ok"))
    assert not r.ok and r.reason.startswith("/500:")
    assert (await run(srv.port, HttpUrl("/ok"), HttpUrl("/host"))).reason == "2 urls ok"


async def test_host_header_from_virtualhost(srv: Server) -> None:
    # no virtualhost: ip:port; service-level; check-level beats it; url-level beats both
    assert (await run(srv.port, HttpUrl("/host", digest=md5(f"127.0.0.1:{srv.port}".encode())))).ok
    assert (
        await run(srv.port, HttpUrl("/host", digest=md5(b"svc.test")), vs_virtualhost="svc.test")
    ).ok
    r = await run(
        srv.port,
        HttpUrl("/host", digest=md5(b"chk.test")),
        vs_virtualhost="svc.test",
        virtualhost="chk.test",
    )
    assert r.ok
    r = await run(
        srv.port,
        HttpUrl("/host", digest=md5(b"url.test"), virtualhost="url.test"),
        virtualhost="chk.test",
    )
    assert r.ok
    path, headers = srv.requests[-1]
    assert path == "/host" and headers["Host"] == "url.test"
    assert headers["Accept-Encoding"] == "identity"


async def test_connection_refused() -> None:
    with http_server() as s:
        port = s.port
    r = await run(port, HttpUrl("/ok"))
    assert not r.ok and "ConnectError" in r.reason


async def test_huge_body_fails_with_bounded_memory(srv: Server) -> None:
    t0 = time.monotonic()
    r = await run(srv.port, HttpUrl("/huge"), body_limit=1 << 20)
    assert not r.ok and "body larger than 1048576 bytes" in r.reason
    assert time.monotonic() - t0 < 3.0


@pytest.mark.parametrize("behaviour", ["stall", "trickle"])
async def test_stalling_and_trickling_servers_fail_inside_the_timeout(behaviour: str) -> None:
    async with raw_server(behaviour) as port:
        t0 = time.monotonic()
        r = await run(port, HttpUrl("/ok"), timeout=0.5)
        waited_s = time.monotonic() - t0
    assert not r.ok and "timeout after 0.5s" in r.reason
    assert 0.45 < waited_s < 2.0  # the server would go on for 80 minutes


async def test_garbage_instead_of_tls_fails_fast() -> None:
    async with raw_server("garbage") as port:
        t0 = time.monotonic()
        r = await run(port, HttpUrl("/ok"), timeout=2.0, tls=True)
        waited_s = time.monotonic() - t0
    assert not r.ok and "ConnectError" in r.reason
    assert waited_s < 1.5  # fails at the handshake, not at the 2 s timeout


async def test_tls_silent_server_times_out() -> None:
    async with raw_server("stall") as port:
        r = await run(port, HttpUrl("/ok"), timeout=0.3, tls=True)
    assert not r.ok and "timeout" in r.reason


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_srv(ca: trustme.CA) -> Iterator[tuple[Server, list[str | None]]]:
    cert = ca.issue_cert(NAME)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    seen: list[str | None] = []
    ctx.sni_callback = lambda sock, name, c: seen.append(name)  # type: ignore[assignment]
    with http_server(ctx) as s:
        yield s, seen


async def test_ssl_get_self_signed_not_verified_by_default(
    tls_srv: tuple[Server, list[str | None]],
) -> None:
    srv, seen = tls_srv
    seen.clear()
    r = await run(srv.port, HttpUrl("/ok", digest=md5(b"OK\n")), tls=True)
    assert r.ok, r.reason
    assert seen == [None]  # an IP address is never sent as SNI


async def test_ssl_get_sni_from_virtualhost_and_explicit(
    tls_srv: tuple[Server, list[str | None]],
) -> None:
    srv, seen = tls_srv
    seen.clear()
    assert (
        await run(srv.port, HttpUrl("/host", digest=md5(NAME.encode())), tls=True, virtualhost=NAME)
    ).ok
    assert (await run(srv.port, HttpUrl("/ok"), tls=True, sni="other.test")).ok
    assert seen == [NAME, "other.test"]


async def test_ssl_get_verify(ca: trustme.CA, tls_srv: tuple[Server, list[str | None]]) -> None:
    srv, _ = tls_srv
    # verify against the system trust store: the self-signed certificate is refused
    r = await run(srv.port, HttpUrl("/ok"), tls=True, verify=True, sni=NAME)
    assert not r.ok and "CERTIFICATE_VERIFY_FAILED" in r.reason
    # verify against our CA, with the certificate's name as SNI: accepted
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    assert (
        await run(srv.port, HttpUrl("/ok"), tls=True, verify=True, sni=NAME, ssl_context=ctx)
    ).ok
    # ... but not under another name
    r = await run(
        srv.port, HttpUrl("/ok"), tls=True, verify=True, sni="wrong.test", ssl_context=ctx
    )
    assert not r.ok


def test_sni_name() -> None:
    assert sni_name(None, None) is None
    assert sni_name(None, "www.a.test:8443") == "www.a.test"
    assert sni_name("x.test", "www.a.test") == "x.test"
    assert sni_name(None, "10.0.0.1") is None
    assert sni_name(None, "[2001:db8::1]:443") is None
