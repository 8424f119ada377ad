"""The netlink channel to the kernel's IPVS: pyroute2's own request path for rare, small
requests, and batched requests and grouped dumps (packed by `fast`) for the hot paths."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Sequence
from typing import Any

from pyroute2.netlink import NLM_F_ACK
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.nlsocket import NetlinkRequest

from lvstui.dataplane import ipvs_wire as wire
from lvstui.dataplane.base import Op
from lvstui.dataplane.ipvs.encode import message
from lvstui.dataplane.ipvs.errors import dump_error
from lvstui.dataplane.ipvs.fast import first_error, op_wire, request_flags
from lvstui.dataplane.ipvs.pyroute import IpvsMsg, IpvsSocket
from lvstui.dataplane.ipvs.uapi import DUMP, DUMP_GROUP, SEQ_BASE, SEQ_END
from lvstui.errors import DataplaneError


class Channel:
    """The netlink socket to the kernel's IPVS and the request/answer exchange over it.
    `sock` is None until the dataplane opens it."""

    def __init__(self, timeout: float) -> None:
        self.sock: IpvsSocket | None = None
        self.timeout = timeout
        self.seq = SEQ_BASE
        self.dump_retries = 0  # dumps asked again one at a time (EBUSY behind a long one)

    def need(self) -> IpvsSocket:
        if self.sock is None:
            raise DataplaneError("the IPVS dataplane is not started", hint="call start() first")
        return self.sock

    # --- pyroute2's own request path (the sync daemon: rare, small) --------------------------

    async def dump(self, cmd: int, attrs: list[tuple[str, Any]]) -> list[Any]:
        sock = self.need()
        msg = message(cmd, attrs)
        return [m async for m in await sock.nlm_request(msg, msg_type=sock.prid, msg_flags=DUMP)]

    async def send_batch(self, msgs: Sequence[tuple[IpvsMsg, int]]) -> list[int]:
        """Send requests in one datagram; the error code of each (0 = done), in order."""
        sock = self.need()
        requests = []
        data = b""
        for msg, flags in msgs:
            msg["header"]["type"] = sock.prid
            msg["header"]["flags"] = flags
            req = NetlinkRequest(sock, msg)
            await req.prepare()
            data += req.msg.data
            requests.append(req)
        sock.send(data)
        codes = []
        for req in requests:
            code = 0
            try:
                async for _ in req.response():
                    pass
            except NetlinkError as e:
                code = e.code
            codes.append(code)
        return codes

    # --- the fast path ---------------------------------------------------------------------

    def seqs(self, n: int) -> list[int]:
        """Sequence numbers of our own, above pyroute2's pool (which stays below 2**24):
        its allocator scans a ban list on every call, quadratic over 11,000 requests."""
        if self.seq + n >= SEQ_END:
            self.seq = SEQ_BASE
        first = self.seq
        self.seq += n
        return list(range(first, first + n))

    async def exchange(self, ops: Sequence[Op]) -> list[int]:
        """Send `ops` in one datagram; the errno of each (0 = done), in order.

        Only the last request asks for an acknowledgement: the kernel answers every failed
        request anyway, in order, so once the last answer is here every earlier error is
        already queued under its own sequence number (pyroute2's receive queue).
        """
        sock = self.need()
        queue = sock.msg_queue
        seqs = self.seqs(len(ops))
        for seq in seqs:
            queue.ensure_tag(seq)
        try:
            last = len(ops) - 1
            data = b"".join(
                op_wire(op, sock.prid, request_flags(op) | (NLM_F_ACK if n == last else 0), seq)
                for n, (op, seq) in enumerate(zip(ops, seqs, strict=True))
            )
            sock.send(data)
            codes = [0] * len(ops)
            async with asyncio.timeout(self.timeout):
                reply = await queue.get(seqs[-1])
            codes[-1] = first_error(reply)
            for n, seq in enumerate(seqs[:-1]):
                q = queue.queues.get(seq)
                if q is not None and not q.empty():
                    codes[n] = first_error(q.get_nowait())
            return codes
        finally:
            for seq in seqs:
                queue.free_tag(seq)

    async def collect(self, seq: int) -> tuple[list[dict[int, bytes]], int]:
        """The answers of one dump (top-level attributes of each), and its errno (0: ok)."""
        queue = self.need().msg_queue
        out: list[dict[int, bytes]] = []
        while True:
            # asyncio.timeout, not wait_for: no task per call on this hot path (observe
            # runs once a second and dumps every service's real servers)
            async with asyncio.timeout(self.timeout):
                data = await queue.get(seq)
            for kind, _, payload in wire.messages(data):
                if kind == wire.NLMSG_DONE:
                    return out, 0
                if kind == wire.NLMSG_ERROR:
                    return out, wire.error_code(payload)
                out.append(wire.attrs(payload, 4))  # after the genetlink header

    async def dump_many(
        self, cmd: int, requests: Sequence[tuple[tuple[int, bytes], ...]]
    ) -> list[list[dict[int, bytes]]]:
        """Several dumps, `DUMP_GROUP` per datagram.

        The kernel runs one dump at a time per socket, but a small dump (one service's real
        servers) finishes inside the send, so the next one in the datagram can start; a dump
        that did not fit answers EBUSY to the ones behind it, which are then asked again one
        at a time. The group stays small so that the first answers of every dump in it fit
        in the receive buffer together.
        """
        sock = self.need()
        queue = sock.msg_queue
        results: list[list[dict[int, bytes]] | None] = [None] * len(requests)
        try:
            for start in range(0, len(requests), DUMP_GROUP):
                idx = range(start, min(len(requests), start + DUMP_GROUP))
                seqs = self.seqs(len(idx))
                for seq in seqs:
                    queue.ensure_tag(seq)
                try:
                    sock.send(
                        b"".join(
                            wire.message(sock.prid, DUMP, seq, cmd, *requests[i])
                            for i, seq in zip(idx, seqs, strict=True)
                        )
                    )
                    for i, seq in zip(idx, seqs, strict=True):
                        out, code = await self.collect(seq)
                        if code == 0:
                            results[i] = out
                        elif code not in (errno.EBUSY, errno.ENOBUFS):
                            raise dump_error(code)
                finally:
                    for seq in seqs:
                        queue.free_tag(seq)
            for i, res in enumerate(results):
                if res is None:
                    self.dump_retries += 1
                    results[i] = await self.dump_wire(cmd, *requests[i])
        except TimeoutError as e:
            raise DataplaneError("the kernel did not answer an IPVS dump in time") from e
        return [r or [] for r in results]

    async def dump_wire(self, cmd: int, *nested: tuple[int, bytes]) -> list[dict[int, bytes]]:
        """One dump request; the top-level attributes of each answer."""
        sock = self.need()
        queue = sock.msg_queue
        for attempt in range(5):
            (seq,) = self.seqs(1)
            queue.ensure_tag(seq)
            try:
                sock.send(wire.message(sock.prid, DUMP, seq, cmd, *nested))
                out, code = await self.collect(seq)
            except TimeoutError as e:
                raise DataplaneError("the kernel did not answer an IPVS dump in time") from e
            finally:
                queue.free_tag(seq)
            if code == 0:
                return out
            if code != errno.EBUSY or attempt == 4:
                raise dump_error(code)
            await asyncio.sleep(0.01 * (attempt + 1))  # a dump of ours still draining
        raise AssertionError("unreachable")  # pragma: no cover
