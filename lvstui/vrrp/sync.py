"""vrrp_sync_group: instances that fail over together (keepalived's semantics).

- a member that is FAULT for its own reason (link, script) puts every other member in
  FAULT too, until no member is faulty any more;
- a member that becomes MASTER pulls the others to MASTER;
- a member that drops from MASTER to BACKUP pushes the others to BACKUP.

Group notify scripts run on a change of the group's state: `notify` gets
`GROUP NAME STATE 0` (a group has no priority of its own; keepalived passes 0 too), and
`notify_master/backup/fault/stop` run without arguments.
"""

from __future__ import annotations

from lvstui.config.schema import VrrpSyncGroup
from lvstui.model import VrrpRunState
from lvstui.notify.fifo import vrrp_line
from lvstui.notify.scripts import ScriptRunner, notify_command
from lvstui.vrrp import fsm
from lvstui.vrrp.node import VrrpNode

__all__ = ["SyncGroup"]

S = VrrpRunState


class SyncGroup:
    def __init__(
        self, cfg: VrrpSyncGroup, members: list[VrrpNode], runner: ScriptRunner | None
    ) -> None:
        self.cfg = cfg
        self.members = members
        self.runner = runner
        self.state: VrrpRunState | None = None
        for m in members:
            m.listeners.append(self._on_transition)

    @property
    def name(self) -> str:
        return self.cfg.name

    def detach(self) -> None:
        """Stop following the members (a reload replaces this group)."""
        for m in self.members:
            if self._on_transition in m.listeners:
                m.listeners.remove(self._on_transition)

    def resync(self) -> None:
        """Apply the members' current faults (a reload built this group)."""
        self._sync_faults()

    def _on_transition(self, node: VrrpNode, old: VrrpRunState, new: VrrpRunState) -> None:
        self._sync_faults()
        why = f"sync group {self.name}: {node.name} became {new.value}"
        for other in self.members:
            if other is node:
                continue
            if new == S.MASTER and other.state.state == S.BACKUP:
                other.post(fsm.ForceState(S.MASTER, why))
            elif new == S.BACKUP and old == S.MASTER and other.state.state == S.MASTER:
                other.post(fsm.ForceState(S.BACKUP, why))
        self._group_notify(new)

    def _sync_faults(self) -> None:
        key = f"sync:{self.name}"
        for m in self.members:
            culprits = [o.name for o in self.members if o is not m and o.own_faulted]
            m.set_fault(key, bool(culprits), f"sync group {self.name}: {', '.join(culprits)} FAULT")

    def _group_notify(self, new: VrrpRunState) -> None:
        if new == self.state or new == S.INIT:
            return
        self.state = new
        if self.runner is None:
            return
        if self.runner.fifos is not None:
            self.runner.fifos.vrrp(vrrp_line("GROUP", self.name, new.value, 0))
        g = self.cfg
        specific, user = notify_command(g, new)
        if specific:
            self.runner.submit(f"notify_{new.value.lower()} group {self.name}", specific, user=user)
        if g.notify:
            self.runner.submit(
                f"notify group {self.name}",
                g.notify,
                ("GROUP", self.name, new.value, "0"),
                user=g.notify_user,
            )
