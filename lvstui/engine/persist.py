"""What the engine keeps in its state directory: the operator's overrides and the services
it owns (so a restart removes, on stop, what an earlier run created — and nothing else).

Without a state directory (tests, a dry run) nothing is read or written. A broken overrides
file never stops the engine: it is set aside and the engine says so; an entry the dataplane
would refuse (a real server of the wrong address family) is skipped with a warning.
"""

from __future__ import annotations

import asyncio
import os

from lvstui.config.fit import family_problem
from lvstui.config.schema import Config
from lvstui.config.state import LoadReport, Overrides, StateFile, service_key_of
from lvstui.engine.bus import Journal
from lvstui.errors import CommandError
from lvstui.model import ServiceKey

__all__ = ["StateDir"]


class StateDir:
    def __init__(self, path: str | os.PathLike[str] | None, journal: Journal) -> None:
        self._file = StateFile(path) if path is not None else None
        self._journal = journal
        self.owned: set[ServiceKey] = set()  # services this engine created (or adopted)
        self._owned_saved: set[ServiceKey] | None = None
        self.save_failures = 0  # operator changes refused: the overrides could not be saved

    async def load(self, config: Config) -> Overrides:
        """The saved overrides (none without a state directory), and the owned services."""
        if self._file is None:
            return Overrides()
        report = await asyncio.to_thread(self._file.load_tolerant)
        return self._checked(report, config)

    async def adopt(self, config: Config, overrides: Overrides) -> None:
        """At start: we own the configured services, those overrides name, and those an
        earlier run recorded (so a stop removes what that run created, too)."""
        owned = {service_key_of(vs) for vs in config.virtual_servers}
        owned |= {sk for sk, _ in overrides.pairs()}
        if self._file is not None:
            owned |= await asyncio.to_thread(self._file.load_owned)
        self.owned = owned

    async def save(self, overrides: Overrides) -> None:
        """Persist the overrides atomically, before they are applied. A save that fails
        (state dir full, read-only) is a CommandError: the change is not applied, the log
        says it, and `save_failures` counts it."""
        if self._file is None:
            return
        try:
            await asyncio.to_thread(self._file.save, overrides)
        except OSError as e:
            self.save_failures += 1
            why = e.strerror or str(e)
            where = self._file.dir
            self._journal.log(
                "error",
                f"cannot save the operator overrides in {where}: {why}; the change is not applied",
            )
            raise CommandError(
                f"not applied: the overrides cannot be saved in {where}: {why}",
                hint="free space in the state directory, or make it writable",
            ) from None

    async def save_tolerant(self, overrides: Overrides) -> None:
        """Persist overrides that apply anyway (the director group's: it holds them and will
        send them again); a failure is logged."""
        if self._file is None:
            return
        try:
            await asyncio.to_thread(self._file.save, overrides)
        except OSError as e:
            self._journal.log("error", f"cannot save {self._file.path}: {e.strerror or e}")

    async def save_owned(self) -> None:
        """Record the services we own (only when that set changed)."""
        if self._file is None or self.owned == self._owned_saved:
            return
        snapshot = set(self.owned)
        try:
            await asyncio.to_thread(self._file.save_owned, snapshot)
            self._owned_saved = snapshot
        except OSError as e:
            self._journal.log("warning", f"cannot record owned services in {self._file.dir}: {e}")

    def _checked(self, report: LoadReport, config: Config) -> Overrides:
        """Say what was wrong with the state file; drop what the dataplane would refuse."""
        path = self._file.path if self._file is not None else "overrides"
        if report.error and report.moved_to is not None:
            self._journal.log(
                "error",
                f"{path}: {report.error}; moved aside to {report.moved_to}; starting with no "
                "operator overrides (the next change writes a fresh file)",
            )
        elif report.error:
            self._journal.log("error", f"{path}: {report.error}")
        for entry in report.skipped:
            self._journal.log("warning", f"{path}: {entry}: entry skipped, the others apply")
        if report.skipped and report.moved_to is not None:
            self._journal.log("warning", f"{path}: the original file is kept as {report.moved_to}")
        ov = report.overrides
        services = {service_key_of(vs): vs for vs in config.virtual_servers}
        for pair, added in list(ov.added.items()):
            vs = services.get(pair[0])
            kind = (added.lb_kind or vs.lb_kind) if vs else None
            problem = family_problem(pair[0].family, pair[1].addr, kind) if kind else ""
            if problem:
                self._journal.log(
                    "warning", f"{path}: add {pair[1]} on {pair[0]}: {problem}: skipped"
                )
                ov = ov.remove(pair, configured=False)
        return ov
