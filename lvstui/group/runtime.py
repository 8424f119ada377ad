"""The director group at run time: the member, its listener and dialers, its state file,
and the glue to the engine.

    runtime = GroupRuntime.create(settings, state_dir)      # reads the key and group.toml
    await runtime.start()                                    # listen, dial the peers
    learned = await runtime.wait()                           # bounded: startup_wait
    await engine.start(); runtime.attach(engine)             # then VRRP and the dataplane
    ...
    await runtime.stop()

For the engine it is a `GroupEdge` (every local change of the overrides goes out to the
peers); changes from peers come back through `GroupHost.apply_group`, with one audit-log
line each naming the origin director and the operator.

`<state_dir>/group.toml` holds the store with its clocks (tombstones included), written
atomically after every change; `overrides.toml` stays what the engine applies. A director
joining a group for the first time seeds the store from its overrides.toml.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
import tomllib
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import tomli_w

from lvstui.clock import Clock, SystemClock
from lvstui.config.schema import Config, GroupSettings
from lvstui.config.state import Overrides, StateFile, write_atomic
from lvstui.control.audit import AuditError, AuditLog, audit_time
from lvstui.control.delta import decode_snapshot_json, encode_snapshot_json
from lvstui.control.protocol import ProtocolError, decode_command
from lvstui.errors import CommandError, ConfigError
from lvstui.group import keys
from lvstui.group.agree import Status, status_of
from lvstui.group.channel import Dialer, Listener
from lvstui.group.clock import Hlc
from lvstui.group.member import Member
from lvstui.group.resolve import resolve_peers
from lvstui.group.store import Entry, Store, entries_from_overrides
from lvstui.model import (
    Command,
    CommandResult,
    DrainDirector,
    GroupView,
    Snapshot,
    UndrainDirector,
)

__all__ = ["GROUP_FILE", "GroupHost", "GroupRuntime", "GroupStateFile"]

log = logging.getLogger("lvstui.group")

GROUP_FILE = "group.toml"
_VERSION = 1
# The command a peer's `list --director` sends: no operator command has this kind.
_READ = "group-snapshot"


class GroupHost(Protocol):
    """The engine, as the group runtime needs it (lvstui.engine.engine.Engine fits)."""

    @property
    def config(self) -> Config: ...

    @property
    def overrides(self) -> Overrides: ...

    def published_snapshot(self) -> Snapshot: ...

    async def apply_group(self, new: Overrides, actions: Sequence[tuple[str, str]]) -> None: ...

    async def call(self, command: Command, who: str = "local") -> CommandResult: ...

    def group_alert(self, level: str, message: str) -> None: ...


class GroupStateFile:
    """`<state_dir>/group.toml`: the replicated store with its clocks."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.path = Path(state_dir) / GROUP_FILE

    def load(self) -> tuple[Store | None, list[str]]:
        """The store (None when there is no file yet) and what was wrong with it. A file
        that cannot be read is reported and ignored: the peers hold the same entries."""
        try:
            doc = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None, []
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            return Store(), [f"{self.path}: cannot read ({e}); starting from the peers"]
        if doc.get("version") != _VERSION:
            return Store(), [f"{self.path}: unsupported version {doc.get('version')!r}"]
        skipped: list[str] = []
        rows = doc.get("entry", [])
        store = Store.from_doc(rows if isinstance(rows, list) else [], skipped)
        return store, [f"{self.path}: {s}: skipped" for s in skipped]

    def save(self, store: Store) -> None:
        doc = {"version": _VERSION, "entry": store.to_doc()}
        write_atomic(self.path, tomli_w.dumps(doc).encode("utf-8"))


class GroupRuntime:
    def __init__(
        self,
        settings: GroupSettings,
        cred: keys.Credential,
        state_dir: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.cred = cred
        self._clock = clock or SystemClock()
        self._file = GroupStateFile(state_dir)
        self._overrides_file = StateFile(state_dir)
        self._audit = AuditLog(Path(state_dir) / "audit.log")
        store, problems = self._file.load()
        for p in problems:
            log.warning("group: %s", p)
        if store is None:  # joining: what this director had on its own becomes the seed
            report = self._overrides_file.load_tolerant()
            seed = entries_from_overrides(
                report.overrides, Hlc(int(self._clock.wall() * 1000)), settings.name
            )
            store = Store().apply(seed)[0]
        self.member = Member(
            settings.name,
            settings.peers,
            self._clock,
            store,
            save=self._save,
            status=self._status,
            retention=settings.tombstone_retention,
        )
        self.member.attach(self)
        self._host: GroupHost | None = None
        self._listener = Listener(settings.listen, cred, self.member.run_link)
        self._dialers = [Dialer(p, cred, self.member.run_link) for p in settings.peers]
        self._apply_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def create(cls, settings: GroupSettings, state_dir: str | os.PathLike[str]) -> GroupRuntime:
        try:
            cred = keys.load(settings.key_file)
        except keys.KeyFileError as e:
            raise ConfigError(
                str(e), key="lvstui.group.key_file", hint="lvstui group keygen > FILE"
            ) from None
        if cred.warning:
            log.warning("group: %s", cred.warning)
        try:
            peers, resolved = resolve_peers(settings.peers)
        except ValueError as e:
            raise ConfigError(
                str(e),
                key="lvstui.group.peers",
                hint="fix the name (or DNS, /etc/hosts), or give the peer's address",
            ) from None
        for line in resolved:
            log.info("group: %s", line)
        return cls(dataclasses.replace(settings, peers=tuple(peers)), cred, state_dir)

    def _save(self, store: Store) -> None:
        try:
            self._file.save(store)
        except OSError as e:  # the peers hold the entries too: keep serving
            log.error("group: cannot save %s: %s", self._file.path, e.strerror or e)

    # --- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        await self._listener.start()
        for d in self._dialers:
            d.start()
        log.info(
            "group: %s listening on %s, peers %s",
            self.settings.name,
            self.settings.listen,
            ", ".join(self.settings.peers) or "none",
        )

    async def wait(self) -> bool:
        """Learn the group's overrides before claiming MASTER or serving (bounded); the
        overrides learned are written to overrides.toml for the engine to start with."""
        wait = self.settings.startup_wait
        if not self.settings.peers:
            return True
        t0 = self._clock.now()
        synced = await self.member.wait_synced(wait)
        took = self._clock.now() - t0
        if synced:
            log.info(
                "group: learned the group's overrides in %.2fs (%d entries)",
                took,
                len(self.member.store),
            )
        else:
            log.warning(
                "group: no answer from %s within startup_wait %gs: going on with this "
                "director's own state (the group's changes apply when they arrive)",
                ", ".join(self.member.unsynced()),
                wait,
            )
        ov = self.member.store.overrides()
        if ov != self._overrides_file.load_tolerant().overrides:
            await asyncio.to_thread(self._overrides_file.save, ov)
        return synced

    def attach(self, host: GroupHost) -> None:
        """The engine is running: from now on peers' changes apply to it at once."""
        self._host = host
        if host.overrides != self.member.store.overrides():  # arrived after `wait`
            self._spawn(self._apply([]))

    async def stop(self) -> None:
        for d in self._dialers:
            await d.close()
        await self._listener.close()
        for t in list(self._tasks):
            t.cancel()
        await self.member.flush()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- GroupEdge (the engine's side) ---------------------------------------------------

    async def local_change(self, old: Overrides, new: Overrides, who: str) -> None:
        await self.member.local_change(old, new, who)

    def _status(self) -> Status | None:
        if self._host is None:
            return None
        return status_of(self.settings.name, self._host.config, self._host.published_snapshot())

    def view(self) -> GroupView:
        mine = self._status()
        return GroupView(
            name=self.settings.name,
            group_id=self.cred.group_id,
            overrides=len(self.member.store),
            peers=tuple(self.member.peers(mine)),
            split_brain=tuple(str(sb) for sb in self.member.split_brains()),
        )

    # --- GroupSink (the member's side) ---------------------------------------------------

    def group_applied(self, won: Sequence[Entry]) -> None:
        self._write_audit(won)
        if self._host is not None:
            self._spawn(self._apply(won))

    async def _apply(self, won: Sequence[Entry]) -> None:
        assert self._host is not None
        async with self._apply_lock:  # in order, and always the store's latest state
            actions = [(e.describe(), _who(e)) for e in won]
            await self._host.apply_group(self.member.store.overrides(), actions)

    async def group_command(
        self, command: Mapping[str, Any], operator: str, origin: str
    ) -> CommandResult:
        if self._host is None:
            return CommandResult(False, f"{self.settings.name} is still starting")
        if command.get("kind") == _READ:  # `list --director`: our table, as JSON text
            text = await asyncio.to_thread(encode_snapshot_json, self._host.published_snapshot())
            return CommandResult(True, "snapshot", text.decode())

        def line(res: CommandResult) -> dict[str, Any]:
            # who typed it on which director, what, and how it went here
            return {
                "time": audit_time(),
                "origin": origin,
                "operator": operator,
                "command": dict(command),
                "result": {"ok": res.ok, "message": res.message, "via": "group"},
            }

        refused: CommandResult | None = None
        try:
            cmd = decode_command(dict(command))
        except ProtocolError as e:
            refused = CommandResult(False, f"bad command from the group: {e}")
        else:  # the announcements' drain is answered by the director's own socket
            if isinstance(cmd, DrainDirector | UndrainDirector):
                refused = CommandResult(False, f"{cmd.kind}: run it on that director's socket")
        if refused is not None:
            res = refused
            with contextlib.suppress(AuditError):  # a refusal: nothing changed
                self._audit.append(line(res))
            return res
        # like the control socket: a command whose line cannot be written is not run
        try:
            await asyncio.to_thread(self._audit.check)
        except AuditError as e:
            return CommandResult(False, f"{self.settings.name}: {e}")
        res = await self._host.call(cmd, f"{operator} via {origin}")
        try:
            self._audit.append(line(res))
        except AuditError as e:  # checked a moment ago; lost since
            return CommandResult(res.ok, f"{res.message} (but on {self.settings.name}: {e})")
        return res

    # --- DirectorRelay (the control socket's side: `ctl|list --director NAME`) -------------

    @property
    def name(self) -> str:
        return self.settings.name

    async def forward(
        self, director: str, command: Mapping[str, Any], operator: str
    ) -> CommandResult:
        """An operator's command, run on the peer named `director`; its answer."""
        self._reachable(director)
        return await self.member.call(director, command, operator)

    async def read(self, director: str) -> Snapshot:
        """The peer's own snapshot (its table, its view of the group)."""
        self._reachable(director)
        res = await self.member.call(director, {"kind": _READ}, "")
        if not res.ok:
            raise CommandError(f"{director}: {res.message}")
        try:
            return decode_snapshot_json(res.detail.encode())
        except ProtocolError as e:
            raise CommandError(
                f"{director} sent a snapshot this director cannot read: {e}"
            ) from None

    def _reachable(self, director: str) -> None:
        """CommandError unless `director` is a peer with a live link now."""
        peers = self.member.peers()
        peer = next((p for p in peers if p.name == director), None)
        if peer is None:
            known = [p.name for p in peers if p.name] + [self.settings.name]
            unheard = [p.address for p in peers if not p.name]
            hint = f"directors known: {', '.join(sorted(known))}"
            if unheard:
                hint += f"; not heard from yet: {', '.join(unheard)}"
            raise CommandError(
                f"no director named {director!r} in group {self.cred.group_id}", hint=hint
            )
        if not peer.reachable:
            since = (
                time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(peer.since))
                if peer.since is not None
                else ""
            )
            raise CommandError(
                f"{director} unreachable{since}",
                hint=f"check the group link to {peer.address} (lvstui status)",
            )

    def group_event(self, level: str, message: str) -> None:
        if self._host is not None:
            self._host.group_alert(level, message)
        else:
            log.log(logging.ERROR if level == "error" else logging.WARNING, "%s", message)

    def _write_audit(self, won: Sequence[Entry]) -> None:
        """One line per change from a peer, in the control socket's audit log."""
        stamp = audit_time()
        for e in won:
            line = {
                "time": stamp,
                "origin": e.origin,
                "operator": e.operator,
                "command": e.describe(),
                "result": {"ok": True, "via": "group"},
            }
            try:
                self._audit.append(line)
            except AuditError:  # logged and counted; the change is applied anyway (the
                return  # peers hold it)


def _who(e: Entry) -> str:
    return f"{e.operator or 'someone'} on {e.origin}"
