"""The side effects of what changed: notify scripts, SMTP alerts, quorum events and log lines.

After every sync the engine hands over the plans before and after; a real server that went
up or down runs its notify_up / notify_down and mails (smtp_alert of the real server, else
of its virtual server, else global_defs'), a quorum that changed runs quorum_up /
quorum_down, mails, and is published as a QuorumChanged event. A VRRP transition mails too
(its notify scripts are the VRRP driver's own). Scripts queue on the engine's ScriptRunner,
mails on the Mailer: nothing here waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from lvstui.config.schema import Config, RealServer, VirtualServer
from lvstui.config.scripts import script_credentials
from lvstui.engine.bus import Journal
from lvstui.engine.desired import ServicePlan
from lvstui.engine.edges import Mailer, Pair
from lvstui.engine.planning import QuorumEvent
from lvstui.engine.stale import StaleNews, stale_report
from lvstui.model import QuorumChanged, RealKey, ServiceKey, VrrpChanged
from lvstui.notify.fifo import NotifyFifos, rs_line, vs_name
from lvstui.notify.scripts import ScriptRunner

__all__ = ["STOP_MAIL_WAIT", "Alerts", "notify_fifos", "smtp_alert"]

STOP_MAIL_WAIT = 10.0  # seconds a stop waits for queued alert mails


class Alerts:
    def __init__(
        self,
        notifier: ScriptRunner,
        mailer: Mailer | None,
        journal: Journal,
    ) -> None:
        self.notifier = notifier
        self.mailer = mailer
        self._journal = journal
        self._stale_news: list[StaleNews] = []  # the watchdog's, since the last tick

    def reconfigure(self, new: Config, global_defs_changed: bool) -> None:
        """A reload: the scripts' timeout and user, and the mail server and recipients."""
        self.notifier.timeout = new.lvstui.notify_timeout
        if global_defs_changed:  # script_user (the loader refused an unknown one)
            self.notifier.credentials = script_credentials(new)
        if self.mailer is not None and global_defs_changed:
            self.mailer.reconfigure(new.global_defs)

    def counters(self) -> dict[str, int]:
        """Scripts run and mails sent, for the metrics."""
        out = {"notify_ok": self.notifier.ok, "notify_failed": self.notifier.failed}
        if self.mailer is not None:
            out["mail_sent"], out["mail_failed"] = self.mailer.sent, self.mailer.failed
        return out

    def mail(self, subject: str, body: str) -> None:
        if self.mailer is None:
            return
        try:
            self.mailer.send(subject, body)
        except Exception as e:  # a mail that cannot be queued must not stop the engine
            self._journal.log("error", f"cannot queue mail alert: {e}")

    def after_sync(
        self,
        config: Config,
        old: Mapping[ServiceKey, ServicePlan],
        new: Mapping[ServiceKey, ServicePlan],
        quorum_events: list[QuorumEvent],
        initial: bool,
    ) -> None:
        for key, plan in new.items():
            before = old.get(key)
            if before is not None:
                self._reals_changed(config, key, before, plan)
        for ev in quorum_events:
            self._quorum_changed(config, ev, initial)

    def _reals_changed(
        self, config: Config, key: ServiceKey, before: ServicePlan, plan: ServicePlan
    ) -> None:
        """Real server up/down: notify_up / notify_down, smtp alerts (transitions only)."""
        prev = {r.key: r for r in before.reals}
        cfg = {(r.ip, r.port): r for r in plan.vs.real_servers}
        for r in plan.reals:
            p = prev.get(r.key)
            if p is None or p.alive == r.alive:
                continue
            rs = cfg.get((r.key.addr, r.key.port))
            state = "UP" if r.alive else "DOWN"
            # the HealthChanged event tells the consoles: the process log only
            self._journal.note("info", f"real server {r.key} of {key} is {state}")
            if self.notifier.fifos is not None:
                self.notifier.fifos.lvs(rs_line(r.key, key, r.alive))
            if rs is None:
                continue
            script = rs.notify_up if r.alive else rs.notify_down
            if script:
                user = rs.notify_up_user if r.alive else rs.notify_down_user
                self.notifier.submit(f"notify_{state.lower()} {r.key} ({key})", script, user=user)
            if smtp_alert(config, plan.vs, rs):
                self.mail(
                    f"Realserver {r.key} of virtual server {key} - {state}",
                    f"=> {'CHECK succeed' if r.alive else 'CHECK failed'} on service "
                    f"<=\n\nreal server {r.key} of {key} is {state}",
                )

    def _quorum_changed(self, config: Config, ev: QuorumEvent, initial: bool) -> None:
        plan, up, thr = ev.plan, ev.up, ev.threshold
        vs = plan.vs
        self._journal.publish(
            QuorumChanged(
                time=self._journal.wall(),
                service=plan.key,
                up=up,
                live_weight=plan.live_weight,
                quorum=vs.quorum,
                sorry_active=plan.sorry_active,
            )
        )
        if initial:
            verb = "Starting with quorum " + ("up" if up else "down")
        else:
            verb = "Gained quorum" if up else "Lost quorum"
        self._journal.note(  # the QuorumChanged above tells the consoles
            "warning" if not up else "info",
            f"{verb} for {plan.key}: live weight {plan.live_weight}, quorum {vs.quorum} "
            f"± hysteresis {vs.hysteresis} (threshold {thr})"
            + (", sorry server in" if plan.sorry_active else ""),
        )
        if self.notifier.fifos is not None:
            self.notifier.fifos.lvs(f"VS {vs_name(plan.key)} {'UP' if up else 'DOWN'}")
        script = vs.quorum_up if up else vs.quorum_down
        if script:
            self.notifier.submit(f"quorum_{'up' if up else 'down'} {plan.key}", script)
        alert = vs.smtp_alert if vs.smtp_alert is not None else config.global_defs.smtp_alert
        if alert:
            self.mail(
                f"Virtual Server {plan.key} - {'UP' if up else 'DOWN'}",
                f"=> {verb} {vs.quorum}+{vs.hysteresis}={thr} <= {plan.live_weight} <=",
            )

    def check_stale(self, key: Pair, stale: bool, reason: str) -> None:
        """The health watchdog: a check of this real server has not completed a run in
        2 x (period + run budget), or runs again. Logged (an event every client sees) and
        mailed where smtp_alert is set at the next tick (`report_stale`), in one summary
        when many change together (a stalled host must not send a mail per server)."""
        self._stale_news.append((*key, stale, reason))

    def report_stale(self, config: Config, plans: Mapping[ServiceKey, ServicePlan]) -> None:
        """Say this tick's watchdog news (`stale.py` decides how)."""
        news, self._stale_news = self._stale_news, []
        if not news:
            return

        def alerted(svc: ServiceKey, real: RealKey) -> bool:
            plan = plans.get(svc)
            rs = _configured(plan, real) if plan is not None else None
            return plan is not None and rs is not None and smtp_alert(config, plan.vs, rs)

        logs, mails = stale_report(news, alerted)
        for level, line in logs:
            self._journal.log(level, line)
        for subject, body in mails:
            self.mail(subject, body)

    async def finish(self) -> None:
        """A stop: let running and queued scripts and mails finish, within bounds."""
        await self.notifier.finish()
        if self.mailer is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.mailer.flush(), STOP_MAIL_WAIT)

    def vrrp_changed(self, config: Config, ev: VrrpChanged) -> None:
        """A VRRP transition mails when its instance (else global_defs) says smtp_alert."""
        inst = next((i for i in config.vrrp_instances if i.name == ev.instance), None)
        if inst is None:
            return
        alert = inst.smtp_alert
        if alert is None:
            alert = config.global_defs.smtp_alert
        if alert:
            self.mail(
                f"VRRP Instance {ev.instance} - Entering {ev.new.value} state",
                f"=> VRRP Instance is now {ev.new.value} (was {ev.old.value}) <=\n\n{ev.reason}",
            )

    def group_alert(self, config: Config, level: str, message: str) -> None:
        """Something the director group saw (split brain, a peer lost): logged, and mailed
        when it is an error and global_defs.smtp_alert is set."""
        self._journal.log(level, message)
        if level == "error" and config.global_defs.smtp_alert:
            name = config.global_defs.router_id or "lvstui"
            self.mail(f"[{name}] {message}", message)

    def omega(self, vs: VirtualServer, key: ServiceKey, quorum_up: bool) -> None:
        """keepalived's omega: the quorum_down of a service that was up runs on stop."""
        if vs.omega and vs.quorum_down and quorum_up:
            self.notifier.submit(f"quorum_down {key}", vs.quorum_down)


def notify_fifos(runner: ScriptRunner, config: Config) -> NotifyFifos | None:
    """global_defs' notify FIFOs, on the runner the VRRP nodes share, so they write there
    too; its `run` (an engine task) creates them and starts their scripts."""
    fifos = NotifyFifos.from_config(config.global_defs, script_credentials(config))
    runner.fifos = fifos
    return fifos


def _configured(plan: ServicePlan, real: RealKey) -> RealServer | None:
    hostport = (real.addr, real.port)
    return next((r for r in plan.vs.real_servers if (r.ip, r.port) == hostport), None)


def smtp_alert(config: Config, vs: VirtualServer, rs: RealServer) -> bool:
    """smtp_alert of a real server: its own, else its service's, else global_defs'."""
    alert = rs.smtp_alert
    if alert is None:
        alert = vs.smtp_alert
    if alert is None:
        alert = config.global_defs.smtp_alert
    return bool(alert)
