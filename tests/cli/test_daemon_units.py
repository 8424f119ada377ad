"""The daemon's small parts: journald-style logging and sd_notify datagrams."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from lvstui.daemon import SdNotify, setup_logging, stream_is_journal
from lvstui.logformat import LogFormat


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """setup_logging configures the "lvstui" logger: leave it as other tests expect it."""
    logger = logging.getLogger("lvstui")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    try:
        yield
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved


def test_plain_log_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    out = io.StringIO()
    handler = setup_logging(out)
    try:
        logging.getLogger("lvstui.test").warning("real server %s is DOWN", "10.0.0.2:80")
    finally:
        logging.getLogger("lvstui").removeHandler(handler)
    line = out.getvalue().rstrip("\n")
    assert line.endswith("Z WARNING lvstui.test: real server 10.0.0.2:80 is DOWN")
    assert line[4] == "-" and line[10] == "T"


def test_json_log_lines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--log-format json: one object a line, extra= fields kept, a traceback in `exception`;
    JSON wins even when stderr is the journal (the operator asked for it)."""
    with open(tmp_path / "journal", "w") as f:
        st = os.fstat(f.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        handler = setup_logging(f, fmt=LogFormat.JSON)  # type: ignore[arg-type]
        try:
            log = logging.getLogger("lvstui.test")
            log.warning("real server %s is DOWN", "10.0.0.2:80", extra={"rip": "10.0.0.2"})
            try:
                raise ValueError("two\nlines")
            except ValueError:
                log.exception("failed")
        finally:
            logging.getLogger("lvstui").removeHandler(handler)
    lines = (tmp_path / "journal").read_text().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "warning" and first["logger"] == "lvstui.test"
    assert first["message"] == "real server 10.0.0.2:80 is DOWN"
    assert first["rip"] == "10.0.0.2"
    assert first["time"].endswith("Z") and first["time"][10] == "T"
    assert "args" not in first and "msg" not in first
    assert second["level"] == "error" and "ValueError: two" in second["exception"]


def test_journal_lines_carry_the_priority(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with open(tmp_path / "journal", "w") as f:
        st = os.fstat(f.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        assert stream_is_journal(f)
        handler = setup_logging(f)  # type: ignore[arg-type]
        try:
            log = logging.getLogger("lvstui.test")
            log.info("ready")
            log.error("two\nlines")
        finally:
            logging.getLogger("lvstui").removeHandler(handler)
    assert (tmp_path / "journal").read_text() == (
        "<6>lvstui.test: ready\n<3>lvstui.test: two\n<3>lines\n"
    )


def test_inherited_journal_stream_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "1:2")
    assert not stream_is_journal(io.StringIO())  # no fileno
    r, w = os.pipe()
    try:
        with os.fdopen(w, "w") as f:
            assert not stream_is_journal(f)
    finally:
        os.close(r)


@pytest.mark.parametrize("abstract", [False, True])
def test_sd_notify_datagram(tmp_path: Path, abstract: bool) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        if abstract:
            name = f"lvt-ctl-notify-{os.getpid()}"
            s.bind("\0" + name)
            address = "@" + name
        else:
            address = str(tmp_path / "notify")
            s.bind(address)
        s.settimeout(5)
        SdNotify(address)("READY=1", "STATUS=serving")
        assert s.recv(100) == b"READY=1\nSTATUS=serving"


def test_sd_notify_is_a_no_op_without_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    SdNotify()("READY=1")  # nothing to send to, nothing raised


def test_uvloop_only_for_a_director_without_netlink(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyroute2's asyncio netlink does not run on uvloop (AF_NETLINK datagram endpoints)."""
    import asyncio
    from dataclasses import replace

    from lvstui.config.schema import Config, DataplaneKind, LvstuiSettings, VrrpInstance
    from lvstui.daemon import loop_name, run_fast, uvloop_fits
    from lvstui.dataplane import select

    def settings(kind: DataplaneKind) -> Config:
        return Config(lvstui=LvstuiSettings(dataplane=kind))

    assert uvloop_fits(settings(DataplaneKind.USERSPACE))
    assert not uvloop_fits(settings(DataplaneKind.IPVS))
    assert uvloop_fits(settings(DataplaneKind.IPVS), "userspace")  # --dataplane wins
    with_vrrp = replace(
        settings(DataplaneKind.USERSPACE), vrrp_instances=(VrrpInstance("VI_1", "lo", 51),)
    )
    assert not uvloop_fits(with_vrrp)
    # auto: uvloop only where auto is bound to pick the userspace forwarder
    monkeypatch.setattr(select, "probe", lambda: select.Probe(True, True, "ip_vs is loaded"))
    assert not uvloop_fits(settings(DataplaneKind.AUTO))
    monkeypatch.setattr(select, "probe", lambda: select.Probe(True, False, "no ip_vs"))
    assert uvloop_fits(settings(DataplaneKind.AUTO))

    async def which() -> str:
        await asyncio.sleep(0)
        return loop_name()

    assert run_fast(which()) == "uvloop"
    assert run_fast(which(), uvloop=False) == "asyncio"
