"""The engine and the health watchdog: a hung check is an event, a mail where smtp_alert is
set, a flag in the snapshot, and the scheduler's lag is in the snapshot too."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Sequence
from typing import Any

from aiosmtpd.smtp import SMTP

from lvstui.clock import SystemClock
from lvstui.config.schema import (
    CheckCommon,
    Config,
    GlobalDefs,
    RealServer,
    TcpCheck,
    VirtualServer,
)
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.engine.stale import stale_report
from lvstui.health.base import Checker, ScriptedChecker, resolve_spec
from lvstui.health.scheduler import HealthMonitor
from lvstui.model import CheckView, LogEvent, RealKey, ServiceKey
from lvstui.notify.mail import Mailer
from tests.helpers import async_wait_until


class _Inbox:
    """aiosmtpd handler: the subjects of the mails received."""

    def __init__(self) -> None:
        self.subjects: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.subjects.append(str(msg["Subject"]))
        return "250 OK"


async def test_a_hung_check_is_stale_everywhere_then_clears() -> None:
    check = TcpCheck(CheckCommon(connect_timeout=0.1, retry=0, warmup=0.0, delay_loop=0.1))
    vs = VirtualServer(
        "203.0.113.1",
        80,
        real_servers=(RealServer("198.51.100.1", 80, smtp_alert=True, checks=(check,)),),
    )
    gate = asyncio.Event()

    def factory(rs: RealServer, v: VirtualServer) -> Sequence[Checker]:
        hung = ScriptedChecker(resolve_spec(check, rs, v), [True])
        hung.gate = gate  # each run waits for the gate: a checker hung past its timeout
        return [hung]

    inbox = _Inbox()
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(lambda: SMTP(inbox, hostname="mx"), "127.0.0.1", 0)
    gd = GlobalDefs(
        router_id="lb1",
        notification_email=("ops@example.org",),
        notification_email_from="lb1@example.org",
        smtp_server=f"127.0.0.1:{smtp.sockets[0].getsockname()[1]}",
        smtp_connect_timeout=5,
    )
    clock = SystemClock()
    e = Engine(
        Config(global_defs=gd, virtual_servers=(vs,)),
        dataplane=MemoryDataplane(),
        clock=clock,
        health=HealthMonitor(clock),
        checkers=factory,
        mailer=Mailer.from_config(gd),
    )
    events = e.subscribe()
    logs: list[str] = []

    async def collect() -> None:
        async for ev in events:
            if isinstance(ev, LogEvent):
                logs.append(ev.message)

    reader = asyncio.create_task(collect())
    await e.start()
    try:

        def check_view() -> CheckView:
            return e.snapshot().services[0].real_servers[0].checks[0]

        await async_wait_until(lambda: check_view().stale, timeout=5)
        await async_wait_until(lambda: any("check STALE" in s for s in inbox.subjects))
        gate.set()
        await async_wait_until(lambda: not check_view().stale, timeout=5)
        await async_wait_until(lambda: any("running again" in s for s in inbox.subjects))
        assert inbox.subjects[0] == (
            "[lb1] Realserver 198.51.100.1:80 of virtual server TCP 203.0.113.1:80 - check STALE"
        )
        await e.tick()
        assert e.snapshot().check_lag >= 0.0
        assert any("STALE" in m for m in logs), logs  # an event every client sees
        assert any("running again" in m for m in logs), logs
    finally:
        events.close()
        await e.stop()
        await asyncio.wait_for(reader, 5)
        smtp.close()
        await smtp.wait_closed()


def test_many_stale_checks_make_one_line_and_one_mail() -> None:
    sk = ServiceKey.parse("TCP 203.0.113.1:80")
    news = [(sk, RealKey("198.51.100.1", 1000 + i), True, "no completed run") for i in range(100)]
    logs, mails = stale_report(news, lambda s, r: True)
    assert len(logs) == 1 and "100 check(s) went stale" in logs[0][1]
    assert len(mails) == 1 and mails[0][0] == "Health watchdog - 100 checks changed"
    few_logs, few_mails = stale_report(news[:2], lambda s, r: r.port == 1000)
    assert len(few_logs) == 2 and len(few_mails) == 1  # one by one; only the alerted one mailed
