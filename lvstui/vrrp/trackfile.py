"""keepalived's `track_file` in a vrrp_instance: the number an external agent writes to a
file moves the instance's priority or puts it in FAULT (keepalived's track_file.c and
vrrp_track.c, 2.2):

- weight 0: a value other than 0 is FAULT, 0 is fine (`reverse`: the other way round);
- a weight W: the priority moves by value × W (× -1 with `reverse`), the move capped at
  +253; a move of -254 or below is FAULT instead (keepalived's fault threshold);
- the instance's `track_file { NAME weight W [reverse] }` replaces the track_file's own
  weight and direction for that instance;
- the value is read as `lvstui.trackfile` says (a missing or emptied file is 0, a number out
  of the 32-bit range is ignored, one that cannot be read is 0); `init_file` writes the file
  before the first read (with `overwrite`, not again on a reload);
- a file whose directory does not exist is not tracked (keepalived: "Track file directory
  ... does not exist - removing"); lvstui warns and leaves it out the same way.

keepalived waits for inotify events; lvstui looks at the file every `FILE_POLL` seconds (a
stat; the content is reread only when the file changed), as FILE_CHECK does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lvstui.clock import Clock
from lvstui.config.schema import TrackFile, VrrpInstance
from lvstui.trackfile import FileReader, dir_exists, init_file
from lvstui.vrrp.pollers import Pollers

__all__ = ["FAULT_MOVE", "FILE_POLL", "FileTracker", "InstanceFiles", "file_move"]

FILE_POLL = 1.0  # seconds between two looks at a tracked file
FAULT_MOVE = -254  # keepalived: a move this low is FAULT
_MOVE_MAX = 253


def file_move(value: int, weight: int, reverse: bool) -> int | None:
    """Pure: the priority move for `value` read from the file, None for FAULT."""
    if weight == 0:
        return None if (value != 0) != reverse else 0
    move = value * weight * (-1 if reverse else 1)
    if move <= FAULT_MOVE:
        return None
    return min(move, _MOVE_MAX)


class FileTracker:
    """Looks at one tracked file every FILE_POLL seconds; `on_change(value)` when the value
    changes. A file that exists but cannot be read gives 0, as in keepalived (`warn` is told
    once)."""

    def __init__(
        self,
        tf: TrackFile,
        clock: Clock,
        on_change: Callable[[int], None],
        warn: Callable[[str], None],
    ) -> None:
        self.tf = tf
        self.clock = clock
        self.on_change = on_change
        self._warn = warn
        self._reader = FileReader(tf.file)
        self._unreadable = False
        self.value = 0

    def look(self) -> int:
        """Read the file now (no callback): the value at start."""
        try:
            self.value = self._reader.read()
            self._unreadable = False
        except OSError as exc:
            if not self._unreadable:
                self._warn(f"track_file {self.tf.name}: cannot read {self.tf.file}: {exc}; 0")
            self._unreadable = True
            self.value = 0  # keepalived: a file it cannot open or read gives 0
        return self.value

    def poll(self) -> None:
        old = self.value
        if self.look() != old:
            self.on_change(self.value)

    async def run(self) -> None:
        while True:
            await self.clock.sleep(FILE_POLL)
            self.poll()


class InstanceFiles:
    """The tracked files of one VRRP instance: their pollers, their values, and what a value
    means for the instance (module docstring)."""

    def __init__(
        self,
        defs: dict[str, TrackFile],
        clock: Clock,
        set_fault: Callable[[str, bool, str], None],
        moved: Callable[[], None],
        warn: Callable[[str], None],
    ) -> None:
        self.defs = defs  # every track_file of the config (the group updates it)
        self.clock = clock
        self._set_fault = set_fault
        self._moved = moved
        self._warn = warn
        self.value: dict[str, int] = {}
        self._pollers: Pollers[TrackFile] = Pollers()
        self._inst: VrrpInstance | None = None
        self._reloaded = False  # init_file's overwrite is for the first start only

    def weight_of(self, name: str) -> tuple[int, bool]:
        tf = self.defs[name]
        inst = self._inst
        over = {w.name: w for w in inst.track_file_weight} if inst else {}
        w = over.get(name)
        return (w.weight, w.reverse) if w is not None else (tf.weight, tf.reverse)

    def _fault(self, name: str) -> str | None:
        """The FAULT reason the file's current value gives, None when it gives none."""
        weight, reverse = self.weight_of(name)
        value = self.value[name]
        if file_move(value, weight, reverse) is None:
            return f"track_file {name} = {value}"
        return None

    def start(self, inst: VrrpInstance) -> dict[str, str]:
        """init_file, a first read, a poller per tracked file not running yet; the faults of
        every tracked file ("file:NAME": why), as the instance starts."""
        self._inst = inst
        for name in inst.track_file:
            tf = self.defs.get(name)
            if tf is None or name in self._pollers:
                continue
            if not dir_exists(tf.file):
                self._warn(
                    f"track_file {name}: the directory of {tf.file} does not exist; "
                    "not tracked (as keepalived)"
                )
                continue
            if tf.init_file is not None:
                try:
                    # keepalived: "Don't overwrite a file on reload"
                    init_file(tf.file, tf.init_file, tf.init_overwrite and not self._reloaded)
                except OSError as exc:
                    self._warn(f"track_file {name}: init_file: cannot write {tf.file}: {exc}")
            tracker = FileTracker(tf, self.clock, self._callback(name), self._warn)
            self.value[name] = tracker.look()
            self._pollers.add(name, tf, tracker.run(), f"vrrp-file-{name}")
        faults = {}
        for name in self.value:
            why = self._fault(name)
            if why is not None:
                faults[f"file:{name}"] = why
        return faults

    async def reconfigure(self, inst: VrrpInstance, faults: dict[str, str]) -> dict[str, str]:
        """After a reload: stop the pollers of files no longer tracked or redefined, start
        the new ones; `faults` with the file ones replaced by the current ones."""
        gone = self._pollers.stale(inst.track_file, self.defs)
        await self.stop(gone)
        self._reloaded = True
        for name in gone:
            self.value.pop(name, None)
        kept = {k: v for k, v in faults.items() if not k.startswith("file:")}
        return kept | self.start(inst)

    async def stop(self, names: Sequence[str] | None = None) -> None:
        await self._pollers.stop(names)

    def weight(self) -> int:
        """The files' share of the priority (a file in FAULT gives nothing: it faults)."""
        total = 0
        for name, value in self.value.items():
            move = file_move(value, *self.weight_of(name))
            total += move or 0
        return total

    def _callback(self, name: str) -> Callable[[int], None]:
        def cb(value: int) -> None:
            self.value[name] = value
            self._set_fault(
                f"file:{name}", self._fault(name) is not None, f"track_file {name} = {value}"
            )
            if self.weight_of(name)[0] != 0:
                self._moved()

        return cb
