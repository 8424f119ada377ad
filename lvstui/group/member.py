"""One director's membership: its store, its links to the peers, what it knows of them.

The engine talks to the group through `Member`:

- `local(cmd, operator, configured)` — an operator's change typed here: stamped, merged,
  saved, pushed to every reachable peer (and remembered as pending for the others);
- the `GroupSink` it is given receives every change that came from a peer (the entries that
  won the merge, with their origin and operator for the audit log) and answers commands a
  peer forwards (`ctl --director`);
- `wait_synced(timeout)` — at start, before claiming MASTER or serving: returns once every
  configured peer has exchanged digests with us, or when the wait runs out;
- `peers()` — what `lvstui status` and the console show.

Links come from channel.py (TLS) or MemoryLink (tests); the protocol on a link is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lvstui.clock import Clock
from lvstui.config.schema import DEFAULT_TOMBSTONE_RETENTION
from lvstui.config.state import Overrides
from lvstui.group.agree import SplitBrain, Status, drift, hash_drift, split_brain
from lvstui.group.channel import Link
from lvstui.group.clock import HlcClock
from lvstui.group.protocol import (
    CommandMsg,
    Entries,
    Hello,
    Message,
    Ping,
    ResultMsg,
    StatusMsg,
    SummaryMsg,
    Versions,
)
from lvstui.group.store import Entry, EntryKey, Store, entries_between
from lvstui.group.sync import differing_buckets, plan, summary, versions
from lvstui.model import PENDING_SHOWN, CommandResult, GroupPeerView

__all__ = ["GroupSink", "Member"]

log = logging.getLogger("lvstui.group")

PING_EVERY = 0.3  # seconds between keep-alives on a quiet link
DEAD_AFTER = 1.5  # nothing heard for this long: the link is dropped and redialled
SUMMARY_EVERY = 5.0  # periodic anti-entropy on top of the one at connect
STATUS_EVERY = 1.0
SPLIT_BRAIN_AFTER = 2.0  # seconds two MASTERs for one VRID must last to be split brain


class GroupSink(Protocol):
    """The engine, as the group sees it."""

    def group_applied(self, won: Sequence[Entry]) -> None:
        """Entries from a peer won the merge: apply `Member.store.overrides()` and write
        one audit line per entry (origin director and operator)."""
        ...

    async def group_command(
        self, command: Mapping[str, Any], operator: str, origin: str
    ) -> CommandResult:
        """The director `origin` forwards `operator`'s command to run here (`ctl --director
        NAME`); audited here naming both."""
        ...

    def group_event(self, level: str, message: str) -> None:
        """Something the operator should see (split brain, a peer lost / back)."""
        ...


@dataclass(slots=True)
class _Peer:
    address: str  # configured "ADDR:PORT", or the address an unlisted peer came from
    name: str = ""
    configured: bool = True
    links: list[Link] = field(default_factory=list)
    outgoing: Link | None = None
    since: float | None = None  # wall time reachability last changed
    synced: bool = False  # one full exchange of digests done since the link came up
    pending: set[EntryKey] = field(default_factory=set)


class Member:
    def __init__(
        self,
        name: str,
        peers: Iterable[str],
        clock: Clock,
        store: Store | None = None,
        *,
        save: Callable[[Store], None] | None = None,
        status: Callable[[], Status | None] | None = None,
        retention: float = DEFAULT_TOMBSTONE_RETENTION,
    ) -> None:
        self.name = name
        self.store = store or Store()
        self._clock = clock
        self._hlc = HlcClock(self.store.latest())
        self._save = save
        self._retention_ms = int(retention * 1000)
        self._status = status
        self._peers: dict[str, _Peer] = {a: _Peer(a) for a in peers}  # configured, by address
        # links from peers, by name: a configured peer's name is learned on our own dial to
        # it, which may come after its dial to us (and a member may not list us at all)
        self._incoming: dict[str, _Peer] = {}
        self._statuses: dict[str, Status] = {}  # by director name: arrives on its dial
        self._sink: GroupSink | None = None
        self._changed = asyncio.Event()
        self._next_id = 0
        self._calls: dict[int, asyncio.Future[CommandResult]] = {}
        self._split: list[SplitBrain] = []
        self._split_seen: dict[SplitBrain, float] = {}
        self._dirty = False  # the store changed since the last write began
        self._writer: asyncio.Task[None] | None = None

    def attach(self, sink: GroupSink) -> None:
        self._sink = sink

    def _ms(self) -> int:
        return int(self._clock.wall() * 1000)

    # --- local changes ---------------------------------------------------------------------

    async def local_change(self, old: Overrides, new: Overrides, operator: str) -> list[Entry]:
        """An operator's change made here: into the store, out to the peers."""
        self._hlc, stamp = self._hlc.tick(self._ms())
        entries = entries_between(old, new, stamp, self.name, operator)
        self.store, won = self.store.apply(entries)
        if won:
            await self._push(won)  # first: the peers need not wait for our disk
            self._persist()
        return won

    async def _push(self, entries: Sequence[Entry]) -> None:
        for peer in self._all_peers():
            link = self._link_to(peer.name) if peer.name else None
            if link is None:
                # delivered by the anti-entropy exchange when the peer is back
                peer.pending.update(e.key for e in entries)
                continue
            with contextlib.suppress(ConnectionError, OSError):
                await link.send(Entries(tuple(entries), kind="delta"))

    def _persist(self) -> None:
        """Write the store soon, off the event loop; changes that arrive while a write is
        under way are written together by the next one (the latest store). A change is
        applied and pushed before it is on disk: the peers hold it too, and a director that
        restarts learns it again from them (see `wait_synced`)."""
        if self._save is None:
            return
        self.store = self.store.purge(self._ms(), self._retention_ms)
        self._dirty = True
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        assert self._save is not None
        while self._dirty:
            self._dirty = False
            await asyncio.to_thread(self._save, self.store)  # the Store is immutable

    async def flush(self) -> None:
        """Wait for the store to be written (stop: nothing left unwritten)."""
        while self._writer is not None and not self._writer.done():
            with contextlib.suppress(Exception):  # a failed write was logged by `save`
                await asyncio.shield(self._writer)

    # --- links -----------------------------------------------------------------------------

    def _peer_for(self, link: Link, name: str, outgoing: bool) -> _Peer:
        if outgoing and link.address in self._peers:
            peer = self._peers[link.address]
            peer.name = name
            return peer
        known = next((p for p in self._peers.values() if p.name == name), None)
        if known is not None:
            return known
        return self._incoming.setdefault(name, _Peer(link.address, name, configured=False))

    def _all_peers(self) -> list[_Peer]:
        """Configured peers, then the ones only known by their dial to us."""
        named = {p.name for p in self._peers.values()}
        extra = [p for n, p in self._incoming.items() if n not in named and p.links]
        return [*self._peers.values(), *extra]

    def _link_to(self, name: str) -> Link | None:
        for p in (*self._peers.values(), *self._incoming.values()):
            if p.name == name and (p.outgoing or p.links):
                return p.outgoing or p.links[0]
        return None

    async def run_link(self, link: Link, outgoing: bool) -> None:
        """Serve one authenticated link until it ends (channel.py's OnLink)."""
        try:
            await link.send(Hello(self.name))
            hello = await asyncio.wait_for(link.recv(), DEAD_AFTER * 2)
        except (EOFError, ConnectionError, OSError, TimeoutError, ValueError) as e:
            log.warning("group: peer %s: no greeting (%s)", link.address, e)
            return
        if not isinstance(hello, Hello) or hello.name == self.name:
            why = "its name is ours" if isinstance(hello, Hello) else "it did not greet first"
            log.warning("group: refused peer %s: %s", link.address, why)
            return
        peer = self._peer_for(link, hello.name, outgoing)
        peer.links.append(link)
        if outgoing:
            peer.outgoing = link
            peer.synced = False
            peer.since = self._clock.wall()
            log.info("group: peer %s (%s) reachable", peer.name, peer.address)
        tasks = [asyncio.create_task(self._keepalive(link, outgoing))]
        try:
            if outgoing:
                await link.send(SummaryMsg(summary(self.store)))
            await self._receive(link, peer)
        except (EOFError, ConnectionError, OSError, TimeoutError) as e:
            if outgoing:
                log.warning("group: peer %s (%s) lost: %s", peer.name, peer.address, e or "timeout")
        except ValueError as e:
            log.warning("group: dropped peer %s (%s): bad message: %s", peer.name, link.address, e)
        finally:
            for t in tasks:
                t.cancel()
            peer.links.remove(link)
            if peer.outgoing is link:
                peer.outgoing = None
                peer.synced = False
                peer.since = self._clock.wall()
                if self._sink is not None:
                    self._sink.group_event("warning", f"group: peer {peer.name} unreachable")
            link.close()

    async def _keepalive(self, link: Link, outgoing: bool) -> None:
        """Pings on every link; on outgoing ones also our status and periodic summaries."""
        last_status = last_summary = self._clock.now()
        with contextlib.suppress(ConnectionError, OSError):
            if outgoing:
                await self._send_status(link)
            while True:
                await self._clock.sleep(PING_EVERY)
                now = self._clock.now()
                if outgoing and now - last_summary >= SUMMARY_EVERY:
                    last_summary = now
                    await link.send(SummaryMsg(summary(self.store)))
                if outgoing and now - last_status >= STATUS_EVERY:
                    last_status = now
                    await self._send_status(link)
                    self._check_split_brain()
                else:
                    await link.send(Ping())

    async def _send_status(self, link: Link) -> None:
        mine = self._status() if self._status is not None else None
        if mine is not None:  # None: not running yet (nothing to compare)
            await link.send(StatusMsg(mine.to_doc()))

    async def _receive(self, link: Link, peer: _Peer) -> None:
        while True:
            msg = await asyncio.wait_for(link.recv(), DEAD_AFTER)
            await self._handle(link, peer, msg)

    async def _handle(self, link: Link, peer: _Peer, msg: Message) -> None:
        match msg:
            case Ping() | Hello():
                pass
            case SummaryMsg(theirs):
                diff = differing_buckets(summary(self.store), theirs)
                await link.send(Versions(diff, versions(self.store, diff)))
            case Versions(buckets, theirs):
                if not buckets:
                    self._synced(peer)
                    return
                send, want = plan(self.store, theirs, buckets)
                await link.send(Entries(tuple(send), tuple(want), kind="push"))
            case Entries(entries, want, kind):
                self._merge(peer, entries)
                if kind == "push":
                    back = tuple(e for k in want if (e := self.store.get(k)) is not None)
                    await link.send(Entries(back, kind="reply"))
                elif kind == "reply":
                    self._synced(peer)
            case StatusMsg(doc):
                self._statuses[peer.name] = Status.from_doc(doc)
                self._check_split_brain()
            case CommandMsg(id_, command, operator):
                await link.send(await self._run_command(id_, command, operator, peer))
            case ResultMsg(id_, ok, message, detail):
                fut = self._calls.pop(id_, None)
                if fut is not None and not fut.done():
                    fut.set_result(CommandResult(ok, message, detail))

    def _synced(self, peer: _Peer) -> None:
        if not peer.synced:
            log.info("group: in step with %s (%d overrides)", peer.name, len(self.store))
        peer.synced = True
        peer.pending.clear()
        self._changed.set()

    def _merge(self, peer: _Peer, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        ms = self._ms()
        for e in entries:
            self._hlc, far = self._hlc.observe(e.stamp, ms)
            if far:
                log.warning(
                    "group: %s's clock is ahead of ours by more than a minute (entry %s)",
                    peer.name,
                    e.key,
                )
        self.store, won = self.store.apply(entries)
        if won:
            if self._sink is not None:  # applied first, written after (see `_persist`)
                self._sink.group_applied(won)
            self._persist()

    async def _run_command(
        self, id_: int, command: Mapping[str, Any], operator: str, peer: _Peer
    ) -> ResultMsg:
        if self._sink is None:
            return ResultMsg(id_, False, f"{self.name} is not ready")
        res = await self._sink.group_command(command, operator, peer.name)
        return ResultMsg(id_, res.ok, res.message, res.detail)

    # --- acting through a peer (`ctl --director NAME`) ------------------------------------

    async def call(self, director: str, command: Mapping[str, Any], operator: str) -> CommandResult:
        link = self._link_to(director)
        if link is None:
            known = ", ".join(sorted(p.name for p in self._all_peers() if p.name)) or "none"
            return CommandResult(False, f"director {director!r} is not reachable (known: {known})")
        self._next_id += 1
        fut: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        self._calls[self._next_id] = fut
        await link.send(CommandMsg(self._next_id, command, operator))
        try:
            return await asyncio.wait_for(fut, 10.0)
        except TimeoutError:
            return CommandResult(False, f"director {director!r} did not answer")
        finally:
            self._calls.pop(self._next_id, None)

    # --- start-up and views ----------------------------------------------------------------

    async def wait_synced(self, timeout: float) -> bool:
        """True once every configured peer has exchanged digests with us; False when the
        wait ran out first (the caller goes on with its own state and says so)."""
        deadline = self._clock.now() + timeout
        while not all(p.synced for p in self._peers.values() if p.configured):
            left = deadline - self._clock.now()
            if left <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.1))
        return True

    def unsynced(self) -> list[str]:
        """Configured peers not in step yet (their addresses)."""
        return [p.address for p in self._peers.values() if not p.synced]

    def peers(self, mine: Status | None = None) -> list[GroupPeerView]:
        out = []
        for p in sorted(self._all_peers(), key=lambda p: p.name or p.address):
            st = self._statuses.get(p.name) if p.name else None
            diff = tuple(drift(mine, st)) if mine is not None and st is not None else ()
            out.append(
                GroupPeerView(
                    p.address,
                    p.name,
                    p.outgoing is not None or (not p.configured and bool(p.links)),
                    p.since,
                    p.synced,
                    len(p.pending),
                    None if st is None or mine is None else not diff,
                    diff,
                    None if st is None or mine is None else st.table == mine.table,
                    tuple(f"{r.instance} {r.vrid} {r.state.value} {r.priority}" for r in st.vrrp)
                    if st is not None
                    else (),
                    self._pending_changes(p),
                    tuple(hash_drift(mine, st)) if mine is not None and st is not None else (),
                )
            )
        return out

    def _pending_changes(self, peer: _Peer) -> tuple[str, ...]:
        """What `peer` has yet to receive, in the words of `lvstui ctl` (bounded)."""
        told = sorted(e.describe() for k in peer.pending if (e := self.store.get(k)) is not None)
        return tuple(told[:PENDING_SHOWN])

    def split_brains(self) -> list[SplitBrain]:
        return list(self._split)

    def _check_split_brain(self) -> None:
        live = {p.name for p in self._all_peers() if p.name and (p.outgoing or p.links)}
        statuses = [st for name, st in self._statuses.items() if name in live]
        mine = self._status() if self._status is not None else None
        if mine is not None:
            statuses.append(mine)
        # two MASTERs for a moment is a normal preemption (the old master steps down on
        # the next advert): split brain is when it lasts SPLIT_BRAIN_AFTER
        now = self._clock.now()
        found = split_brain(statuses)
        self._split_seen = {sb: self._split_seen.get(sb, now) for sb in found}
        lasting = [sb for sb in found if now - self._split_seen[sb] >= SPLIT_BRAIN_AFTER]
        for sb in lasting:
            if sb not in self._split and self._sink is not None:
                self._sink.group_event("error", str(sb))
        self._split = lasting
