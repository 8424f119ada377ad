"""Notify scripts (serial, no shell, timeout kills the group) and SMTP alerts (real aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP

from lvstui.config.schema import GlobalDefs, VrrpInstance
from lvstui.dataplane.memory import MemoryDataplane
from lvstui.engine.engine import Engine
from lvstui.model import Health, NotifyResult, VrrpChanged, VrrpRunState
from lvstui.notify.mail import Mailer, parse_smtp_server
from lvstui.notify.scripts import ScriptRunner
from tests.engine.builders import SK, FakeVrrp, R, config
from tests.helpers import async_wait_until


async def test_scripts_run_in_order_without_shell(recorder: tuple[Path, Path]) -> None:
    script, log = recorder
    results: list[NotifyResult] = []
    runner = ScriptRunner(timeout=5, on_result=results.append)
    task = asyncio.create_task(runner.run())
    for i in range(5):
        # `;` and `$HOME` reach the script as plain arguments: no shell ever runs; one source
        # (VI_1), so in order
        runner.submit(f"job {i}", f"{script} {i} ';' '$HOME'", source="VI_1")
    await runner.join()
    task.cancel()
    assert log.read_text().splitlines() == [f"{i} ; $HOME" for i in range(5)]
    assert [r.what for r in results] == [f"job {i}" for i in range(5)]
    assert all(r.ok for r in results) and runner.ok == 5


async def test_script_failures_are_reported() -> None:
    runner = ScriptRunner(timeout=5)
    bad = await runner.run_one(runner_job("missing", "/nonexistent/script arg"))
    assert not bad.ok and "cannot run /nonexistent/script" in bad.detail
    unbalanced = await runner.run_one(runner_job("quote", "echo 'oops"))
    assert not unbalanced.ok and "bad command" in unbalanced.detail
    code = await runner.run_one(runner_job("exit", f"{sys.executable} -c 'print(42); exit(3)'"))
    assert not code.ok and code.detail == "exit 3: 42"


def runner_job(what: str, command: str) -> Any:
    from lvstui.notify.scripts import Job

    return Job(what, command)


async def test_script_timeout_kills_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    # the command starts a grandchild that would outlive a plain kill of the command itself
    # (sh is run explicitly: the runner itself never uses a shell)
    command = f"sh -c 'sleep 60 & echo $! > {pidfile}; wait'"
    runner = ScriptRunner(timeout=1.0)
    res = await runner.run_one(runner_job("slow", command))
    assert not res.ok and "timed out" in res.detail
    pid = int(pidfile.read_text())

    def gone() -> bool:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        return stat.split(") ")[1].startswith("Z")  # killed, not yet reaped by init

    await async_wait_until(gone, timeout=5)


@dataclass
class Handler:
    """aiosmtpd handler: records messages; refuses the first `refuse` deliveries (451)."""

    refuse: int = 0
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse > 0:
            self.refuse -= 1
            return "451 try again later"
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[Handler, int]]:
    handler = Handler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="lvstui-test"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield handler, port
    server.close()
    await server.wait_closed()


def test_parse_smtp_server() -> None:
    assert parse_smtp_server("mail.example") == ("mail.example", 25)
    assert parse_smtp_server("127.0.0.1:2525") == ("127.0.0.1", 2525)
    assert parse_smtp_server("[::1]:26") == ("::1", 26)
    assert parse_smtp_server("2001:db8::1", 587) == ("2001:db8::1", 587)


async def test_mail_retried_in_order(smtp: tuple[Handler, int]) -> None:
    handler, port = smtp
    handler.refuse = 2
    results: list[NotifyResult] = []
    m = Mailer(
        server="127.0.0.1",
        port=port,
        sender="lb@example.org",
        recipients=("ops@example.org", "oncall@example.org"),
        router_id="lb1",
        connect_timeout=5,
        backoff=0.01,
        on_result=results.append,
    )
    task = asyncio.create_task(m.run())
    m.send("first", "one")
    m.send("second", "two")
    await m.flush()
    task.cancel()
    assert [msg["Subject"] for msg in handler.messages] == ["[lb1] first", "[lb1] second"]
    assert handler.messages[0]["To"] == "ops@example.org, oncall@example.org"
    assert m.attempts == 4 and m.sent == 2 and m.failed == 0
    assert [r.ok for r in results] == [True, True]


async def test_mail_given_up_after_attempts(smtp: tuple[Handler, int]) -> None:
    handler, port = smtp
    handler.refuse = 10
    m = Mailer(
        server="127.0.0.1",
        port=port,
        sender="a@b",
        recipients=("c@d",),
        max_attempts=2,
        backoff=0.01,
    )
    task = asyncio.create_task(m.run())
    m.send("lost", "x")
    await m.flush()
    task.cancel()
    assert m.failed == 1 and handler.messages == []


async def test_engine_mails_real_server_and_vrrp_transitions(smtp: tuple[Handler, int]) -> None:
    handler, port = smtp
    gd = GlobalDefs(
        router_id="lb1",
        notification_email=("ops@example.org",),
        notification_email_from="lb1@example.org",
        smtp_server=f"127.0.0.1:{port}",
        smtp_connect_timeout=5,
        smtp_alert=True,
    )
    cfg = replace(config(), global_defs=gd, vrrp_instances=(VrrpInstance("vi", "lo", 51),))
    mailer = Mailer.from_config(gd)
    vr = FakeVrrp()
    e = Engine(cfg, dataplane=MemoryDataplane(), vrrp=vr, mailer=mailer)
    events = e.subscribe()
    await e.start()
    e.set_health(SK, R[0], Health.DOWN, reason="connection refused")
    await async_wait_until(lambda: len(handler.messages) >= 1)
    await vr.queue.put(VrrpChanged(1.0, "vi", VrrpRunState.BACKUP, VrrpRunState.MASTER, "x"))
    await async_wait_until(lambda: len(handler.messages) >= 2)
    subjects = [m["Subject"] for m in handler.messages]
    assert subjects == [
        "[lb1] Realserver 192.0.2.1:80 of virtual server TCP 198.51.100.9:80 - DOWN",
        "[lb1] VRRP Instance vi - Entering MASTER state",
    ]
    got = []
    while len([x for x in got if isinstance(x, NotifyResult)]) < 2:
        got.append(await asyncio.wait_for(anext(events), 2))
    assert all(x.ok for x in got if isinstance(x, NotifyResult))
    await e.stop()
