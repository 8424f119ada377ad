"""The operator's overrides: the commands that change them, and the director group's changes.

A command is checked and turned into new overrides (`commands.py`, pure), persisted before
it applies (`persist.py`: a save that fails applies nothing), applied to its service and,
with a director group, sent to the peers, which apply it as if typed there. A peer's change
comes back through `from_group`: persisted (a failed save is logged: the group holds the
change and will send it again), applied, and announced like a command typed here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from lvstui.config.schema import Config
from lvstui.config.state import Overrides
from lvstui.dataplane.base import Capabilities
from lvstui.engine.bus import Journal
from lvstui.engine.commands import AfterCommand, OverrideCommand, plan_command
from lvstui.engine.drainer import Drainer
from lvstui.engine.edges import GroupEdge
from lvstui.engine.persist import StateDir
from lvstui.engine.runtime import RuntimeTable
from lvstui.model import CommandResult, OperatorAction, ServiceKey

__all__ = ["Operator"]

# one pass of the table for these services (None: all), and why
Sync = Callable[[str, set[ServiceKey] | None], Awaitable[None]]


class Operator:
    def __init__(
        self,
        state: StateDir,
        runtime: RuntimeTable,
        drainer: Drainer,
        group: GroupEdge | None,
        journal: Journal,
        sync: Sync,
        refresh: Callable[[set[ServiceKey]], None],
    ) -> None:
        self._state = state
        self._rt = runtime
        self._drainer = drainer
        self._group = group
        self._journal = journal
        self._sync = sync
        self._refresh = refresh  # publish these services' views now
        self.overrides = Overrides()

    async def command(
        self, cmd: OverrideCommand, config: Config, caps: Capabilities, who: str
    ) -> CommandResult:
        """Run one command (CommandError when it cannot be done: nothing changes)."""
        drains = {(rec.key, r): t for rec in self._rt for r, t in rec.drains.items()}
        plan = plan_command(cmd, config, self.overrides, self._rt.plans(), caps, drains)
        before = self.overrides
        if plan.overrides is not None:
            await self._state.save(plan.overrides)  # persisted before it is applied
            self.overrides = plan.overrides
            await self._sync("operator", {plan.service})
        pair = (cmd.service, cmd.real)
        if plan.after is AfterCommand.END and self._drainer.end(self._rt, pair):
            self._refresh({plan.service})  # said now, not at the next tick
        elif plan.after is AfterCommand.FORGET:
            self._drainer.forget(self._rt, pair)
        if self._group is not None and self.overrides is not before:
            # out to the director group: the peers apply it as if typed there
            await self._group.local_change(before, self.overrides, who)
        return CommandResult(True, plan.message)

    async def from_group(
        self, new: Overrides, actions: Sequence[tuple[str, str]], started: bool
    ) -> None:
        """Overrides changed by a peer (`actions`: what and who), applied once started."""
        if new == self.overrides:
            return
        await self._state.save_tolerant(new)
        self.overrides = new
        if started:
            await self._sync("group", None)
        for action, who in actions:
            ev = OperatorAction(self._journal.wall(), who, action, True, "from the director group")
            self._journal.publish(ev)
