"""genhash: our output against keepalived's genhash, byte for byte, on the same local pages."""

from __future__ import annotations

import contextlib
import hashlib
import io
import ssl
import subprocess
from collections.abc import Iterator

import pytest
import trustme

from lvstui.cli import main
from lvstui.health.genhash import GenhashRequest, hexdump, run_genhash
from tests.helpers import require_cmd

from .servers import Server, http_server


@pytest.fixture(scope="module")
def srv() -> Iterator[Server]:
    with http_server() as s:
        yield s


@pytest.fixture(scope="module")
def tls_srv() -> Iterator[Server]:
    ca = trustme.CA()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("www.example.test").configure_cert(ctx)
    with http_server(ctx) as s:
        yield s


def ours(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["genhash", *argv])
    return rc, out.getvalue(), err.getvalue()


def keepalived(*argv: str) -> str:
    res = subprocess.run(["genhash", *argv], capture_output=True, timeout=30, check=True)
    return res.stdout.decode()


def test_hexdump_layout() -> None:
    assert hexdump(b"hello\n") == (
        "0000  68 65 6c 6c 6f 0a       -                           hello.          \n"
    )
    full = hexdump(bytes(range(0x41, 0x41 + 18)))
    assert full.splitlines() == [
        "0000  41 42 43 44 45 46 47 48 - 49 4a 4b 4c 4d 4e 4f 50   ABCDEFGHIJKLMNOP",
        "0016  51 52                   -                           QR              ",
    ]


def test_digest_and_legacy_format(srv: Server) -> None:
    digest = hashlib.md5(b"OK\n").hexdigest()
    rc, out, err = ours("-s", "127.0.0.1", "-p", str(srv.port), "-u", "/ok")
    assert (rc, out, err) == (0, digest + "\n", "")
    rc, out, _ = ours("-L", "-s", "127.0.0.1", "-p", str(srv.port), "-u", "/ok")
    assert out == f"MD5SUM = {digest}\n"


def test_dynamic_page_warns(srv: Server) -> None:
    rc, out, err = ours("-s", "127.0.0.1", "-p", str(srv.port), "-u", "/clock")
    assert rc == 3
    assert len(out.strip()) == 32
    assert "different digests" in err and "dynamic" in err
    rc, _, err = ours("--once", "-s", "127.0.0.1", "-p", str(srv.port), "-u", "/clock")
    assert rc == 0 and err == ""


def test_error_status_is_noted(srv: Server) -> None:
    rc, out, err = ours("-s", "127.0.0.1", "-p", str(srv.port), "-u", "/500")
    assert rc == 0 and out.strip() == hashlib.md5(b"database unreachable\n").hexdigest()
    assert "status 500" in err


def test_connection_refused() -> None:
    with http_server() as s:
        port = s.port
    out, err = io.StringIO(), io.StringIO()
    rc = run_genhash(GenhashRequest("127.0.0.1", port, "/ok", timeout=2), out, err)
    assert rc == 1 and out.getvalue() == "" and "failed" in err.getvalue()


@pytest.mark.keepalived
@pytest.mark.parametrize(
    "argv",
    [
        ["-u", "/ok"],
        ["-u", "/host"],
        ["-u", "/host", "-V", "www.example.test"],
        ["-u", "/500"],
        ["-u", "/missing"],
    ],
)
def test_same_output_as_keepalived(srv: Server, argv: list[str]) -> None:
    require_cmd("genhash")
    args = ["-s", "127.0.0.1", "-p", str(srv.port), *argv]
    expected = keepalived(*args)
    rc, out, _ = ours(*args)
    assert rc == 0
    assert out.encode() == expected.encode()


@pytest.mark.keepalived
def test_same_output_as_keepalived_over_tls(tls_srv: Server) -> None:
    require_cmd("genhash")
    for extra in ([], ["-V", "www.example.test"]):
        args = ["-S", "-s", "127.0.0.1", "-p", str(tls_srv.port), "-u", "/host", *extra]
        expected = keepalived(*args)
        rc, out, _ = ours(*args)
        assert rc == 0 and out == expected and len(out) == 33


@pytest.mark.keepalived
def test_verbose_like_keepalived(srv: Server) -> None:
    """Same dumps, except the response time. (Our request is HTTP/1.1 where keepalived's is
    HTTP/1.0; a server that answers 1.1 to us shows that in the status line.)"""
    require_cmd("genhash")
    args = ["-v", "-s", "127.0.0.1", "-p", str(srv.port), "-u", "/ok"]
    expected = keepalived(*args).splitlines()
    rc, out, _ = ours("--once", *args)
    got = out.splitlines()
    assert rc == 0
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        if e.startswith("Global response time"):
            assert g.startswith("Global response time for [/ok] = ") and g.endswith(" usecs")
        else:
            assert g == e
