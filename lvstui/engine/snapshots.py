"""The engine's published snapshot: rebuilt once a second, and after every change.

Building the views is pure (`views.py`); this keeps the sequence number and the last
snapshot published, which the metrics endpoint reads from its own thread and control
clients get without a rebuild. A change to a few services rebuilds only their views.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet

from lvstui.clock import Clock
from lvstui.config.schema import Config
from lvstui.dataplane.base import Dataplane
from lvstui.engine.desired import ServicePlan
from lvstui.engine.edges import GroupEdge
from lvstui.engine.ha import Ha
from lvstui.engine.runtime import RuntimeTable, ServiceRuntime
from lvstui.engine.slowstart import SlowStart
from lvstui.engine.stats import StatsHistory
from lvstui.engine.views import CheckViews, Identity, service_view, snapshot, updated_snapshot
from lvstui.model import AnnounceView, RealKey, ServiceKey, ServiceView, Snapshot

__all__ = ["Snapshots"]


class Snapshots:
    def __init__(
        self,
        runtime: RuntimeTable,
        history: StatsHistory,
        ha: Ha,
        checks: CheckViews,
        dataplane: Dataplane,
        dataplane_reason: str,
        clock: Clock,
        slow: SlowStart,
        group: GroupEdge | None,
        announce: Callable[[], AnnounceView | None] | None = None,
    ) -> None:
        self._rt = runtime
        self._history = history
        self._ha = ha
        self._checks = checks
        self._dp = dataplane
        self._dp_reason = dataplane_reason
        self._clock = clock
        self._slow = slow
        self._group = group
        self._announce = announce
        self._seq = 0
        self._published: Snapshot | None = None
        self.check_lag = 0.0  # the health scheduler's worst lateness over the last tick

    def make(self, config: Config) -> Snapshot:
        """A fresh snapshot (not published)."""
        self._seq += 1
        views = (self._view(rec, plan) for rec, plan in self._rt.planned())
        vrrp = self._ha.views()
        group = self._group.view() if self._group is not None else None
        now = self._clock.wall()
        return snapshot(
            self._seq,
            now,
            config,
            self._identity(),
            views,
            vrrp,
            self.check_lag,
            group,
            self._announce() if self._announce is not None else None,
        )

    def published(self, config: Config) -> Snapshot:
        """The last snapshot published; safe to read from another thread (metrics)."""
        snap = self._published
        return snap if snap is not None else self.make(config)

    def publish(self, config: Config, only: AbstractSet[ServiceKey] | None = None) -> None:
        """Refresh the published snapshot; `only`: rebuild just those services' views."""
        last = self._published
        if only is None or last is None:
            self._published = self.make(config)
            return
        self._seq += 1
        self._published = updated_snapshot(
            last,
            self._seq,
            self._clock.wall(),
            self._rt.planned(),
            only,
            self._view,
            self._ha.views(),
        )

    def _identity(self) -> Identity:
        caps = self._dp.capabilities
        return Identity(caps.name, self._dp_reason or caps.reason)

    def _view(self, rec: ServiceRuntime, plan: ServicePlan) -> ServiceView:
        return service_view(rec, plan, self._checks, self._history, self._ramp_until)

    def _ramp_until(self, plan: ServicePlan, real: RealKey) -> float | None:
        until = self._slow.until(plan.key, real, plan)
        if until is None:
            return None
        return self._clock.wall() + (until - self._clock.now())
