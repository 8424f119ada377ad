"""`IpvsDataplane`: the Dataplane protocol on the kernel's IPVS."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.generic import ipvs as genl_ipvs

from lvstui.dataplane import ipvs_wire as wire
from lvstui.dataplane.base import (
    NO_SYNC_OPTIONS,
    AddService,
    Capabilities,
    EditService,
    ObservedService,
    Op,
    SyncOptions,
    SyncRole,
    describe_op,
)
from lvstui.dataplane.ipvs.channel import Channel
from lvstui.dataplane.ipvs.encode import message
from lvstui.dataplane.ipvs.errors import explain
from lvstui.dataplane.ipvs.fast import dest_from_wire, service_from_wire, wire_key
from lvstui.dataplane.ipvs.pyroute import IpvsSocket
from lvstui.dataplane.ipvs.sync_daemon import SyncDaemon, daemon_attrs, daemon_from
from lvstui.dataplane.ipvs.uapi import IPVS_SCHEDULERS, REQ, ROLE_STATE
from lvstui.errors import DataplaneError
from lvstui.model import LbKind, RealKey, ServiceKey


def _module_loaded(name: str) -> bool:
    return os.path.isdir(f"/sys/module/{name}")


class IpvsDataplane:
    """The Linux kernel's IP Virtual Server, programmed over generic netlink."""

    def __init__(
        self, *, batch: int = 512, modprobe: bool = True, timeout: float = 30.0, reason: str = ""
    ) -> None:
        # 512 requests of ~120 bytes stay well under the socket's send buffer
        self._batch = max(1, batch)
        self._chan = Channel(timeout)
        self._modprobe = modprobe
        self._loaded: set[str] = set()
        self._caps = Capabilities(
            name="ipvs",
            lb_kinds=frozenset(LbKind),
            schedulers=IPVS_SCHEDULERS,
            protocols=frozenset({"TCP", "UDP", "SCTP"}),
            fwmark=True,
            sync_daemon=True,
            reason=reason,
            timeouts=True,
            source_nat=True,
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    @property
    def dump_retries(self) -> int:
        """Dumps asked again one at a time (EBUSY behind a long one)."""
        return self._chan.dump_retries

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the netlink socket (loading ip_vs if needed). Changes nothing in the table."""
        if self._chan.sock is not None:
            return
        await self._ensure_module("ip_vs")
        sock = IpvsSocket()
        try:
            await sock.setup_endpoint()
        except NetlinkError as e:
            sock.close()
            raise DataplaneError(
                f"IPVS is not available: {os.strerror(e.code)}",
                hint="load the ip_vs kernel module (modprobe ip_vs) and run with CAP_NET_ADMIN",
            ) from e
        except OSError as e:
            sock.close()
            raise DataplaneError(
                f"cannot open the IPVS netlink socket: {e}",
                hint="run with CAP_NET_ADMIN on a kernel with ip_vs",
            ) from e
        self._chan.sock = sock

    async def close(self) -> None:
        """Close the socket. The kernel table stays as it is (a restart drops nothing)."""
        sock, self._chan.sock = self._chan.sock, None
        if sock is not None:
            sock.close()

    async def _ensure_module(self, name: str) -> None:
        """modprobe NAME unless loaded; the kernel's own autoload is not always wired up."""
        if name in self._loaded:
            return
        # a stat of sysfs never blocks for long; it runs once per module name
        if not self._modprobe or _module_loaded(name):
            self._loaded.add(name)
            return
        try:
            proc = await asyncio.create_subprocess_exec(
                "modprobe",
                "-q",
                name,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError:
            self._loaded.add(name)  # no modprobe: the kernel's answer will say what is missing
            return
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        self._loaded.add(name)

    # --- Dataplane ---------------------------------------------------------------------------

    async def observe(self) -> Sequence[ObservedService]:
        services = [
            service_from_wire(wire.attrs(top.get(wire.CMD_ATTR_SERVICE, b"")))
            for top in await self._chan.dump_wire(genl_ipvs.IPVS_CMD_GET_SERVICE)
        ]
        dumps = await self._chan.dump_many(
            genl_ipvs.IPVS_CMD_GET_DEST,
            [((wire.CMD_ATTR_SERVICE, wire_key(svc.key)),) for svc in services],
        )
        return [
            replace(
                svc,
                dests=tuple(
                    dest_from_wire(wire.attrs(d.get(wire.CMD_ATTR_DEST, b""))) for d in dests
                ),
            )
            for svc, dests in zip(services, dumps, strict=True)
        ]

    async def apply(self, ops: Sequence[Op]) -> None:
        """Apply in order, `batch` requests per datagram.

        On the first failing operation, raise `DataplaneError` naming it and its service;
        the operations before it are applied. The kernel goes on with the rest of the same
        datagram, so some operations after it (at most `batch - 1`) may be applied as well:
        the engine re-observes after an error and reconciles again.
        """
        if not ops:
            return
        self._chan.need()
        for op in ops:
            if isinstance(op, AddService | EditService):
                await self._ensure_module(f"ip_vs_{op.service.scheduler.lower()}")
        for start in range(0, len(ops), self._batch):
            chunk = ops[start : start + self._batch]
            try:
                codes = await self._chan.exchange(chunk)
            except (OSError, TimeoutError) as e:
                raise DataplaneError(
                    f"{describe_op(chunk[0])}: netlink request failed: {e!r}",
                    hint="the IPVS dataplane needs CAP_NET_ADMIN",
                ) from e
            failed = [(op, code) for op, code in zip(chunk, codes, strict=True) if code]
            if failed:
                op, code = failed[0]
                what, hint = explain(op, code)
                more = f" (and {len(failed) - 1} more in the same batch)" if len(failed) > 1 else ""
                raise DataplaneError(f"{describe_op(op)}: {what}{more}", hint=hint)

    # --- connection-sync daemon -----------------------------------------------------------

    async def daemons(self) -> list[SyncDaemon]:
        """The running sync daemons (what `ipvsadm -L --daemon` prints)."""
        out = []
        try:
            msgs = await self._chan.dump(genl_ipvs.IPVS_CMD_GET_DAEMON, [])
        except NetlinkError as e:
            raise DataplaneError(f"reading the sync daemons failed: {os.strerror(e.code)}") from e
        for m in msgs:
            d = m.get("IPVS_CMD_ATTR_DAEMON")
            if d is not None:
                out.append(daemon_from(d))
        return out

    async def _daemon_request(self, cmd: int, attrs: list[tuple[str, Any]], what: str) -> None:
        msg = message(cmd, [("IPVS_CMD_ATTR_DAEMON", {"attrs": attrs})])
        (code,) = await self._chan.send_batch([(msg, REQ)])
        if code:
            hint = (
                "the sync interface must exist and be up"
                if code in (errno.ENODEV, errno.EINVAL)
                else "see the kernel log (dmesg)"
            )
            raise DataplaneError(f"{what}: {os.strerror(code)}", hint=hint)

    async def set_timeouts(self, tcp: int | None, tcpfin: int | None, udp: int | None) -> None:
        """ipvsadm --set TCP TCPFIN UDP: IPVS_CMD_SET_CONFIG, an attribute left out (or 0)
        keeps the kernel's value."""
        attrs = [
            (f"IPVS_CMD_ATTR_TIMEOUT_{name}", value)
            for name, value in (("TCP", tcp), ("TCP_FIN", tcpfin), ("UDP", udp))
            if value
        ]
        if not attrs:
            return
        msg = message(genl_ipvs.IPVS_CMD_SET_CONFIG, attrs)
        (code,) = await self._chan.send_batch([(msg, REQ)])
        if code:
            raise DataplaneError(
                f"setting the IPVS timeouts (lvs_timeouts): {os.strerror(code)}",
                hint="see the kernel log (dmesg)",
            )

    async def expire_connections(self, service: ServiceKey, real: RealKey) -> None:
        """Not on the kernel (`capabilities.expire_connections` is False): a drain's timeout
        deletes the destination instead, which makes its connections unusable at once."""
        raise DataplaneError(
            f"expire connections {service} -> {real}: the kernel cannot end one real "
            "server's connections; delete the destination instead"
        )

    async def set_sync_role(
        self,
        role: SyncRole,
        interface: str = "",
        syncid: int = 0,
        options: SyncOptions = NO_SYNC_OPTIONS,
    ) -> None:
        """Run exactly the daemon for `role` (ipvsadm --start-daemon / --stop-daemon).

        MASTER sends this director's connection table to backups, BACKUP receives it (so
        connections survive a failover); NONE stops both. Idempotent: a daemon already
        running as asked is left alone, one with other settings is stopped and started anew
        (the kernel cannot change a running daemon). `options` are keepalived's
        lvs_sync_daemon options (maxlen, group, port, ttl).
        """
        self._chan.need()
        if role is not SyncRole.NONE and not interface:
            raise DataplaneError(
                f"sync daemon {role.value}: no interface given",
                hint="set the interface that carries sync multicast (lvs_sync_daemon)",
            )
        running = await self.daemons()
        keep = [
            d
            for d in running
            if role is not SyncRole.NONE and d.matches(role, interface, syncid, options)
        ]
        for d in running:
            if d not in keep:
                await self._daemon_request(
                    genl_ipvs.IPVS_CMD_DEL_DAEMON,
                    [("IPVS_DAEMON_ATTR_STATE", ROLE_STATE[d.role])],
                    f"stopping the {d.role.value} sync daemon",
                )
        if role is SyncRole.NONE or keep:
            return
        attrs = daemon_attrs(role, interface, syncid, options)
        await self._daemon_request(
            genl_ipvs.IPVS_CMD_NEW_DAEMON,
            attrs,
            f"starting the {role.value} sync daemon on {interface} (syncid {syncid})",
        )
