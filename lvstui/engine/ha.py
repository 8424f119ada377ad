"""High availability: what the VRRP instances' states mean for the rest of the director.

- the state of every instance, as the VRRP driver reports it;
- ha_suspend: the checks of a virtual server whose VIP no MASTER instance here carries
  pause, and resume when it comes back (the decision is `hasuspend.ha_suspended`, pure);
- the IPVS connection-sync daemon follows the instance named in `lvs_sync_daemon`: master
  while it is MASTER, backup otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib

from lvstui.config.schema import Config, SyncDaemon
from lvstui.config.state import service_key_of
from lvstui.dataplane.base import Dataplane, SyncOptions, SyncRole
from lvstui.engine.bus import Journal
from lvstui.engine.edges import HealthSource, Pair, VrrpDriver
from lvstui.engine.hasuspend import Carrier, ha_suspended
from lvstui.engine.runtime import RuntimeTable
from lvstui.errors import LvstuiError
from lvstui.model import RealKey, ServiceKey, VrrpChanged, VrrpRunState, VrrpView

__all__ = ["Ha"]


def _loop_lacks_netlink() -> bool:
    """uvloop refuses pyroute2's netlink endpoints (AF_NETLINK datagrams): the daemon runs on
    it only while it needs no netlink (see daemon.uvloop_fits)."""
    return type(asyncio.get_running_loop()).__module__.split(".")[0] == "uvloop"


SyncSettings = tuple[str, int, int | None, str | None, int | None, int | None]


def sync_settings(sd: SyncDaemon) -> SyncSettings:
    """What the kernel's sync daemon is started with (the instance only decides the role)."""
    return (sd.interface, sd.syncid, sd.maxlen, sd.group, sd.port, sd.ttl)


def describe_sync(s: SyncSettings) -> str:
    names = ("interface", "syncid", "maxlen", "group", "port", "ttl")
    return ", ".join(f"{n} {v}" for n, v in zip(names, s, strict=True) if v is not None)


class Ha:
    def __init__(
        self,
        dataplane: Dataplane,
        monitor: HealthSource | None,
        vrrp: VrrpDriver | None,
        journal: Journal,
    ) -> None:
        self._dp = dataplane
        self._monitor = monitor
        self._vrrp = vrrp
        self._journal = journal
        self.states: dict[str, VrrpRunState] = {}
        self.sync_role = SyncRole.NONE
        self._sync_settings: SyncSettings | None = None  # what the running daemon was given
        self._sync_ignored: SyncSettings | None = None  # warned about (no sync here)
        self._sync_error = ""  # the last refusal, said once while retried every tick

    @property
    def has_driver(self) -> bool:
        """VRRP runs here (a dry run has none)."""
        return self._vrrp is not None

    def views(self) -> tuple[VrrpView, ...]:
        """The instances as the driver shows them (none when it cannot say)."""
        if self._vrrp is None:
            return ()
        try:
            return tuple(self._vrrp.views())
        except Exception:  # a snapshot must not fail for a view
            return ()

    def drops(self) -> dict[str, int]:
        """VRRP adverts dropped since start, by reason (for the metrics)."""
        return self._vrrp.drops() if self._vrrp is not None else {}

    def started(self) -> None:
        """The driver runs: take its instances' states as they are."""
        for v in self.views():
            self.states[v.name] = v.state

    async def transition(
        self, ev: VrrpChanged, config: Config, runtime: RuntimeTable
    ) -> set[ServiceKey]:
        """An instance changed state: ha_suspend follows, and the sync daemon when it follows
        that instance. Returns the services whose checks paused or resumed."""
        self.states[ev.instance] = ev.new
        changed = self.update_suspend(config, runtime)
        sd = config.global_defs.lvs_sync_daemon
        if sd is not None and sd.instance == ev.instance:
            await self.update_sync_role(config)
        return changed

    def _carriers(self, config: Config) -> list[Carrier]:
        """Each VRRP instance's state and the addresses it carries (excluded VIPs too)."""
        excluded = {
            i.name: tuple(v.address for v in i.virtual_ipaddress_excluded)
            for i in config.vrrp_instances
        }
        return [(v.state, (*v.vips, *excluded.get(v.name, ()))) for v in self.views()]

    def update_suspend(self, config: Config, runtime: RuntimeTable) -> set[ServiceKey]:
        """ha_suspend: pause the checks of services whose VIP is on no MASTER instance here,
        resume them when it comes back. Returns the services changed."""
        mon = self._monitor
        if mon is None or self._vrrp is None:
            return set()
        if not config.vrrp_instances:
            return set()  # no VRRP configured: nothing decides where the VIPs are
        carriers: list[Carrier] | None = None
        wanted: set[Pair] = set()
        for vs in config.virtual_servers:
            if not vs.ha_suspend:
                continue
            if carriers is None:
                carriers = self._carriers(config)
            if ha_suspended(True, vs.ip, carriers):
                sk = service_key_of(vs)
                wanted |= {(sk, RealKey(r.ip, r.port)) for r in vs.real_servers if r.checks}
        changed: set[ServiceKey] = set()
        for pair in wanted | runtime.suspended_pairs():
            want = pair in wanted
            try:
                if want == mon.is_suspended(pair):
                    continue
                if want:
                    mon.suspend(pair)
                else:
                    mon.resume(pair)
            except KeyError:  # its checks are gone (reload)
                continue
            changed.add(pair[0])
        runtime.set_suspended(p for p in wanted if mon.is_suspended(p))
        suspended = runtime.suspended_pairs()
        for sk in sorted(changed, key=str):
            now = any(p[0] == sk for p in suspended)
            self._journal.log(
                "info",
                f"health checks of {sk} "
                + (
                    "suspended (ha_suspend: no VRRP instance carrying its VIP is MASTER here)"
                    if now
                    else "resumed (ha_suspend: its VIP is local)"
                ),
            )
        return changed

    async def reload(self, old: Config, new: Config, changed: bool) -> None:
        """A reload's VRRP part (`changed`: instances, sync groups or scripts differ): the
        driver takes the new settings in place."""
        if not changed:
            return
        if self._vrrp is None:
            if new.vrrp_instances:
                self._journal.log(
                    "warning",
                    "vrrp_instance settings changed, but this engine runs without VRRP "
                    "(a dry run): they are not applied",
                )
            return
        if not old.vrrp_instances and new.vrrp_instances and _loop_lacks_netlink():
            self._journal.log(
                "warning",
                "vrrp_instance added, but not started here: this process began without VRRP on "
                "the userspace dataplane and so runs on uvloop, which cannot open the netlink "
                "sockets VRRP needs; the daemon hands over to a new one that runs it (as "
                "`lvstui ctl upgrade`); anywhere else, restart lvstui to run it",
            )
            return
        try:
            for line in await self._vrrp.reload(new):
                self._journal.log("info", f"vrrp reload: {line}")
        except LvstuiError as e:
            self._journal.log("error", f"VRRP reload failed: {e}")

    async def update_sync_role(self, config: Config) -> None:
        """The IPVS sync daemon follows the VRRP instance named in lvs_sync_daemon; a reload
        that changes its settings (interface, syncid, maxlen, group, port, ttl) restarts it
        at once, in the role it has."""
        sd = config.global_defs.lvs_sync_daemon
        if sd is None:
            role = SyncRole.NONE
        else:
            state = self.states.get(sd.instance)
            role = SyncRole.MASTER if state is VrrpRunState.MASTER else SyncRole.BACKUP
        settings = sync_settings(sd) if sd is not None else None
        if (role, settings) == (self.sync_role, self._sync_settings):
            return
        caps = self._dp.capabilities
        if not caps.sync_daemon:
            if settings is not None and settings != self._sync_ignored:
                self._journal.log(
                    "warning",
                    f"lvs_sync_daemon: the {caps.name} dataplane has no IPVS connection "
                    "sync; ignored (a failover drops the connections it relays)",
                )
            self._sync_ignored = settings  # said once per setting
            return
        restart = role is self.sync_role and self._sync_settings is not None
        try:
            if restart:
                # the kernel cannot change a running daemon: stop it, start it anew (the
                # dataplane would keep one whose maxlen only went back to the default)
                await self._dp.set_sync_role(SyncRole.NONE)
            if sd is None or settings is None:
                await self._dp.set_sync_role(SyncRole.NONE)
            else:
                options = SyncOptions(sd.maxlen, sd.group, sd.port, sd.ttl)
                await self._dp.set_sync_role(role, sd.interface, sd.syncid, options)
        except LvstuiError as e:
            # a refusal (the interface not there yet, the kernel busy after a quick role
            # flip) is retried by every engine tick until the kernel takes it: a director
            # must not stay without connection sync until its next VRRP transition
            if str(e) != self._sync_error:
                self._journal.log(
                    "error",
                    f"cannot set the IPVS sync daemon to {role.value}: {e}; retried every tick",
                )
            self._sync_error = str(e)
            if restart:  # stopped, and not started again
                self.sync_role, self._sync_settings = SyncRole.NONE, None
            return
        self._sync_error = ""
        self.sync_role, self._sync_settings = role, settings
        what = f"{role.value} ({describe_sync(settings)})" if settings else role.value
        verb = "restarted with new settings" if restart else "now"
        self._journal.log("info", f"IPVS sync daemon {verb}: {what}")

    async def leave(self) -> None:
        """Stop the sync daemon (engine stop)."""
        if self.sync_role is not SyncRole.NONE:
            with contextlib.suppress(LvstuiError):  # stopping anyway
                await self._dp.set_sync_role(SyncRole.NONE)
            self.sync_role, self._sync_settings = SyncRole.NONE, None
