"""What the engine says about the health watchdog's news (lvstui.health.probe): log lines
and alert mails for the checks that went stale or run again since the last tick.

A few changes are reported one by one; more than STALE_DETAIL at once (a stalled host,
every check late together) become one summary line and one mail, so an incident never
floods the log or the mailbox. Pure: the engine does the logging and the sending.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lvstui.model import RealKey, ServiceKey

__all__ = ["STALE_DETAIL", "StaleNews", "stale_report"]

STALE_DETAIL = 5  # changes in one tick reported one by one; more: one summary
MAIL_LIST = 50  # servers listed at most in a summary mail

StaleNews = tuple[ServiceKey, RealKey, bool, str]  # service, real, stale?, reason


def stale_report(
    news: Sequence[StaleNews], alerted: Callable[[ServiceKey, RealKey], bool]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """([(level, log line)], [(subject, body)]) for this tick's watchdog news; `alerted`
    says whether a real server's changes are mailed (its smtp_alert, inherited)."""
    logs: list[tuple[str, str]] = []
    mails: list[tuple[str, str]] = []
    for svc, real, stale, reason in news:
        state = "STALE" if stale else "running again"
        if len(news) <= STALE_DETAIL:
            logs.append(
                ("warning" if stale else "info", f"check of {real} ({svc}) {state}: {reason}")
            )
        if alerted(svc, real):
            mails.append(
                (
                    f"Realserver {real} of virtual server {svc} - check {state}",
                    f"=> check {state} <=\n\n{reason}",
                )
            )
    if len(news) > STALE_DETAIL:
        went = sum(1 for n in news if n[2])
        svc, real, _, reason = news[0]
        logs.append(
            (
                "warning" if went else "info",
                f"health watchdog: {went} check(s) went stale, {len(news) - went} run again "
                f"(e.g. {real} ({svc}): {reason})",
            )
        )
    if len(mails) > STALE_DETAIL:
        body = "\n\n".join(f"{s}\n{b}" for s, b in mails[:MAIL_LIST])
        mails = [(f"Health watchdog - {len(mails)} checks changed", body)]
    return logs, mails
