"""SMTP alerts: one mail per VRRP transition and per real-server up/down (where smtp_alert).

keepalived's global_defs: `notification_email` (the recipients), `notification_email_from`,
`smtp_server` (host, `host:port` or `[v6]:port`; else `smtp_port`, 25) and
`smtp_connect_timeout` (30 s). Subjects start with `[router_id]` like keepalived's.

Rules:
- never block the engine: `send` only queues; one worker task delivers, talking SMTP with
  the standard library's smtplib in a worker thread;
- strictly in order: one queue, one message at a time — a message that cannot be delivered
  holds the ones after it back while it is retried, so alerts never arrive shuffled;
- retried with backoff (1 s, 2 s, 4 s … up to 60 s), `max_attempts` times, then given up
  with an error result (and the next message goes);
- every delivery or give-up is reported as a `NotifyResult` ("mail ...").
"""

from __future__ import annotations

import asyncio
import email.policy
import email.utils
import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from lvstui.clock import Clock, SystemClock
from lvstui.config.schema import DEFAULT_SMTP_PORT, GlobalDefs
from lvstui.model import NotifyResult

__all__ = ["Mail", "Mailer", "parse_smtp_server"]

log = logging.getLogger("lvstui.notify")

# CRLF line ends; headers folded only past RFC 5322's hard limit, so a long subject stays on
# one line (some mail tools show a folded one with a stray leading space)
_POLICY = email.policy.SMTP.clone(max_line_length=998)


def parse_smtp_server(text: str, default_port: int = DEFAULT_SMTP_PORT) -> tuple[str, int]:
    """`host`, `host:port`, `[2001:db8::1]:25`, `2001:db8::1` → (host, port)."""
    t = text.strip()
    if t.startswith("["):
        host, _, rest = t[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if t.count(":") == 1:
        host, _, port = t.partition(":")
        return host, int(port)
    return t, default_port


@dataclass(frozen=True, slots=True)
class Mail:
    subject: str
    body: str


class Mailer:
    def __init__(
        self,
        *,
        server: str,
        port: int = DEFAULT_SMTP_PORT,
        sender: str,
        recipients: tuple[str, ...],
        router_id: str = "",
        connect_timeout: float = 30.0,
        clock: Clock | None = None,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        on_result: Callable[[NotifyResult], None] | None = None,
    ) -> None:
        self.server = server
        self.port = port
        self.sender = sender
        self.recipients = recipients
        self.router_id = router_id
        self.connect_timeout = connect_timeout
        self._clock = clock or SystemClock()
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.on_result = on_result
        self._queue: asyncio.Queue[Mail] = asyncio.Queue()
        self.sent = 0
        self.failed = 0
        self.attempts = 0

    @classmethod
    def from_config(
        cls,
        gd: GlobalDefs,
        *,
        clock: Clock | None = None,
        on_result: Callable[[NotifyResult], None] | None = None,
    ) -> Mailer:
        host, port = parse_smtp_server(gd.smtp_server, gd.smtp_port)
        return cls(
            server=host,
            port=port,
            sender=gd.notification_email_from or f"lvstui@{gd.router_id or 'localhost'}",
            recipients=gd.notification_email,
            router_id=gd.router_id,
            connect_timeout=gd.smtp_connect_timeout,
            clock=clock,
            on_result=on_result,
        )

    def reconfigure(self, gd: GlobalDefs) -> None:
        """A reload changed global_defs: later mails use the new server and recipients."""
        fresh = Mailer.from_config(gd)
        self.server, self.port = fresh.server, fresh.port
        self.sender, self.recipients = fresh.sender, fresh.recipients
        self.router_id, self.connect_timeout = fresh.router_id, fresh.connect_timeout

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def send(self, subject: str, body: str) -> None:
        """Queue one alert (returns at once)."""
        self._queue.put_nowait(Mail(subject, body))

    async def flush(self) -> None:
        """Wait until every queued mail was delivered or given up."""
        await self._queue.join()

    async def run(self) -> None:
        """The delivery worker (runs until cancelled)."""
        while True:
            mail = await self._queue.get()
            try:
                await self._deliver(mail)
            finally:
                self._queue.task_done()

    async def _deliver(self, mail: Mail) -> None:
        delay = self.backoff
        error = ""
        for attempt in range(1, self.max_attempts + 1):
            self.attempts += 1
            try:
                await asyncio.to_thread(self._send_sync, self._message(mail))
            except (OSError, smtplib.SMTPException) as e:
                error = f"{type(e).__name__}: {e}"
                log.warning(
                    "mail %r to %s:%d, attempt %d/%d failed: %s",
                    mail.subject,
                    self.server,
                    self.port,
                    attempt,
                    self.max_attempts,
                    error,
                )
                if attempt < self.max_attempts:
                    await self._clock.sleep(delay)
                    delay = min(self.max_backoff, delay * 2)
                continue
            self.sent += 1
            self._report(mail, True, f"sent to {', '.join(self.recipients)}")
            return
        self.failed += 1
        self._report(mail, False, f"given up after {self.max_attempts} attempts: {error}")

    def _message(self, mail: Mail) -> EmailMessage:
        msg = EmailMessage(policy=_POLICY)
        prefix = f"[{self.router_id}] " if self.router_id else ""
        msg["Subject"] = prefix + mail.subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = email.utils.formatdate(self._clock.wall(), localtime=True)
        msg["Message-ID"] = email.utils.make_msgid(domain="lvstui")
        msg.set_content(mail.body + "\n")
        return msg

    def _send_sync(self, msg: EmailMessage) -> None:
        with smtplib.SMTP(self.server, self.port, timeout=self.connect_timeout) as smtp:
            smtp.send_message(msg, self.sender, list(self.recipients))

    def _report(self, mail: Mail, ok: bool, detail: str) -> None:
        if self.on_result is None:
            return
        try:
            self.on_result(NotifyResult(self._clock.wall(), f"mail {mail.subject}", ok, detail))
        except Exception:
            log.exception("mail result callback failed")
