"""SMTP_CHECK: the server greets with 220, answers `HELO helo_name` with 250; then QUIT.

keepalived's exchange, through aiosmtplib (no STARTTLS, no login: it tests that the MTA
answers, not that mail can be sent). The whole exchange shares one budget,
connect_timeout: a server that accepts and never greets, or greets and never answers HELO,
is down when the budget runs out. A QUIT that fails after a good HELO is still up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiosmtplib

from lvstui.config.schema import SmtpCheck
from lvstui.health.base import CheckResult, SpecChecker, fail, passed

__all__ = ["SmtpChecker"]


class SmtpChecker(SpecChecker[SmtpCheck]):
    __slots__ = ()

    async def run(self) -> CheckResult:
        spec, t = self._spec, self._spec.target
        started = time.monotonic()
        source = (t.bindto or "", t.bind_port or 0) if (t.bindto or t.bind_port) else None
        client = aiosmtplib.SMTP(
            hostname=t.ip,
            port=t.port,
            local_hostname=self._check.helo_name,
            source_address=source,
            timeout=spec.timeout,
            use_tls=False,
            start_tls=False,
        )
        try:
            async with asyncio.timeout(spec.timeout):
                greeting = await client.connect()
                helo = await client.helo()
                with contextlib.suppress(aiosmtplib.SMTPException):
                    await client.quit()
        except TimeoutError:
            return fail(started, f"no complete exchange within {spec.timeout:g}s")
        except aiosmtplib.SMTPConnectResponseError as exc:
            return fail(started, f"greeting {exc.code} {exc.message[:120]}")
        except aiosmtplib.SMTPHeloError as exc:
            return fail(started, f"HELO answered {exc.code} {exc.message[:120]}")
        except aiosmtplib.SMTPException as exc:
            return fail(started, f"SMTP failed: {exc}")
        except OSError as exc:
            return fail(started, f"connect failed: {exc.strerror or exc}")
        finally:
            client.close()
        return passed(started, f"greeting {greeting.code}, HELO {helo.code}")
