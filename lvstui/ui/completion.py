"""Tab completion and the prefilled line of the `:` command line (pure, no Textual).

`complete(line, services, themes)` completes the word being typed: a command, a service
(by address or by name: `web<Tab>` gives `192.0.2.1:80`), a real server of the service
already typed, `reset`, a forwarding method, a theme. One match is taken whole (and a space
added); several are cut to their common start and listed. Tab again, once the line is cut as
far as it goes, walks through those candidates one by one (`Cycle`; Shift+Tab walks back), as
a shell's menu completion does. `prefill(target)` is the line the palette opens with on the row
under the cursor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from lvstui.model import LbKind, Protocol, RealKey, ServiceKey, ServiceView

__all__ = ["VERBS", "Completion", "Cycle", "complete", "prefill", "service_arg"]

VERBS = (
    "drain",
    "undrain",
    "weight",
    "add",
    "remove",
    "reload",
    "filter",
    "theme",
    "help",
    "quit",
)
_ON_SERVERS = frozenset({"drain", "undrain", "weight", "add", "remove", "rm", "del"})
_PROTOS = frozenset({p.value for p in Protocol} | {"FWM"})


@dataclass(frozen=True, slots=True)
class Completion:
    line: str  # the line completed as far as it is unambiguous
    options: tuple[str, ...] = ()  # what may follow when there are several (shown)
    head: str = ""  # the line before the word completed (what a chosen option follows)


@dataclass(frozen=True, slots=True)
class Cycle:
    """Repeated Tab over one completion's options: `line` is `head` + the option at `index`
    (no space after it: typing one accepts it, Tab then completes the next word)."""

    head: str
    options: tuple[str, ...]
    index: int

    @classmethod
    def start(cls, done: Completion, step: int) -> Cycle | None:
        """The first step (`step` 1: the first option, -1: the last) once `done` can go no
        further by itself; None when there is nothing to walk through."""
        if len(done.options) < 2:
            return None
        return cls(done.head, done.options, 0 if step > 0 else len(done.options) - 1)

    @property
    def line(self) -> str:
        return self.head + self.options[self.index]

    def step(self, by: int) -> Cycle:
        return replace(self, index=(self.index + by) % len(self.options))


def service_arg(key: ServiceKey) -> str:
    """A service as the command line takes it: `192.0.2.1:80` for TCP (the default),
    `UDP 192.0.2.1:53`, `FWM 3`."""
    return key.hostport if key.protocol is Protocol.TCP and not key.fwmark else str(key)


def prefill(service: ServiceKey, real: RealKey | None) -> tuple[str, int]:
    """The line the palette opens with on a row, and the length of its verb (selected, so
    typing another verb replaces it): `drain SVC REAL` on a server, `add SVC ` on a service."""
    if real is None:
        return f"add {service_arg(service)} ", 3
    return f"drain {service_arg(service)} {real}", 5


def complete(line: str, services: Sequence[ServiceView], themes: Iterable[str] = ()) -> Completion:
    cut = len(line) - len(line.split()[-1]) if line and not line[-1].isspace() else len(line)
    head, word = line[:cut], line[cut:]
    done = head.split()
    if len(done) == 2 and done[0].lower() in _ON_SERVERS and done[1].upper() in _PROTOS:
        # the second half of `UDP 1.2.3.4:53`: complete the pair as one service
        word = f"{done[1]} {word}"
        head = head[: head.rindex(done[1])]
        done = done[:1]
    candidates = _candidates(done, services, themes)
    low = word.lower()
    matches = sorted({c for c, also in candidates if c.lower().startswith(low) or also == low})
    if not matches and low:  # a service's name (`web`) or a part of an address
        matches = sorted({c for c, also in candidates if low in also or low in c.lower()})
    if not matches:
        return Completion(line)
    if len(matches) == 1:
        return Completion(head + matches[0] + " ")
    common = _common_start(matches)
    return Completion(head + common if len(common) > len(word) else line, tuple(matches), head)


def _common_start(words: Sequence[str]) -> str:
    first, last = min(words), max(words)  # the sorted extremes differ where any two do
    n = 0
    while n < len(first) and first[n] == last[n]:
        n += 1
    return first[:n]


def _candidates(
    done: list[str], services: Sequence[ServiceView], themes: Iterable[str]
) -> list[tuple[str, str]]:
    """(candidate, another text it is known by) for the word after `done`."""
    if not done:
        return [(v, "") for v in VERBS]
    verb, args = done[0].lower(), done[1:]
    if verb == "theme" and not args:
        return [(t, "") for t in themes]
    if verb == "reload" and not args:
        return [("--dry-run", "")]
    if verb not in _ON_SERVERS:
        return []
    if not args:
        return [(service_arg(sv.key), sv.name.lower()) for sv in services]
    n = 2 if args[0].upper() in _PROTOS else 1
    typed, rest = " ".join(args[:n]), args[n:]
    try:
        key = ServiceKey.parse(typed)
    except ValueError:
        return []
    sv = next((s for s in services if s.key == key), None)
    if sv is None:
        return []
    if not rest:
        return [(str(r.key), "") for r in sv.real_servers if not r.is_sorry]
    if len(rest) == 1 and verb == "weight":
        return [("reset", "")]
    if verb == "add":
        return [(k.value.lower(), "") for k in LbKind]
    return []
