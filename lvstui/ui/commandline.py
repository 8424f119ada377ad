"""The `:` command palette's language, parsed without Textual (pure, unit-tested).

    drain   SERVICE REAL [TIMEOUT]     drain TCP 1.2.3.4:80 10.0.0.1:80
    undrain SERVICE REAL
    weight  SERVICE REAL N|reset       weight 1.2.3.4:80 10.0.0.1:80 5
    add     SERVICE REAL [WEIGHT] [nat|dr|tun]
    remove  SERVICE REAL               (also rm, del)
    reload  [--dry-run]
    theme   NAME
    filter  TEXT
    help | quit

SERVICE is `TCP 1.2.3.4:80`, `udp 1.2.3.4:53`, `1.2.3.4:80` (TCP), `[2001:db8::1]:80` or `FWM 3`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lvstui.errors import CommandError
from lvstui.model import (
    AddReal,
    Command,
    Drain,
    LbKind,
    Protocol,
    RealKey,
    Reload,
    RemoveReal,
    ServiceKey,
    SetWeight,
    Undrain,
)

__all__ = ["MAX_WEIGHT", "UiCommand", "parse_command", "parse_weight"]

MAX_WEIGHT = 65535
_PROTOS = {p.value for p in Protocol} | {"FWM"}


@dataclass(frozen=True, slots=True)
class UiCommand:
    """A palette command the console handles itself (not sent to the engine)."""

    name: str  # "theme", "filter", "help", "quit"
    arg: str = ""


def parse_weight(text: str) -> int:
    """A weight typed by the operator: an integer 0..65535 (CommandError otherwise)."""
    t = text.strip()
    try:
        w = int(t, 10)
    except ValueError:
        raise CommandError(f"weight must be a whole number, got {t!r}") from None
    if not 0 <= w <= MAX_WEIGHT:
        raise CommandError(f"weight {w} out of range 0-{MAX_WEIGHT}")
    return w


def _service(tokens: list[str]) -> tuple[ServiceKey, list[str]]:
    if not tokens:
        raise CommandError("missing SERVICE (e.g. TCP 1.2.3.4:80)")
    if tokens[0].upper() in _PROTOS and len(tokens) > 1:
        text, rest = f"{tokens[0]} {tokens[1]}", tokens[2:]
    else:
        text, rest = tokens[0], tokens[1:]
    try:
        return ServiceKey.parse(text), rest
    except ValueError as exc:
        raise CommandError(f"bad service {text!r}: {exc}") from None


def _real(tokens: list[str]) -> tuple[RealKey, list[str]]:
    if not tokens:
        raise CommandError("missing REAL server (e.g. 10.0.0.1:80)")
    try:
        return RealKey.parse(tokens[0]), tokens[1:]
    except ValueError as exc:
        raise CommandError(f"bad real server {tokens[0]!r}: {exc}") from None


def _no_more(verb: str, rest: list[str]) -> None:
    if rest:
        raise CommandError(f"{verb}: unexpected {' '.join(rest)!r}")


def parse_command(text: str) -> Command | UiCommand:
    tokens = text.split()
    if not tokens:
        raise CommandError("empty command", hint="try: drain TCP 1.2.3.4:80 10.0.0.1:80")
    verb, args = tokens[0].lower(), tokens[1:]
    if verb in ("help", "quit", "q"):
        return UiCommand("quit" if verb == "q" else verb)
    if verb in ("theme", "filter"):
        return UiCommand(verb, " ".join(args))
    if verb == "reload":
        if args and args != ["--dry-run"]:
            raise CommandError(f"reload: unexpected {' '.join(args)!r}")
        return Reload(dry_run=bool(args))
    if verb not in ("drain", "undrain", "weight", "add", "remove", "rm", "del"):
        raise CommandError(
            f"unknown command {verb!r}",
            hint="commands: drain undrain weight add remove reload theme filter help quit",
        )
    svc, rest = _service(args)
    real, rest = _real(rest)
    if verb == "drain":
        timeout: float | None = None
        if rest:
            try:
                timeout = float(rest.pop(0))
            except ValueError:
                raise CommandError("drain: TIMEOUT must be seconds") from None
        _no_more(verb, rest)
        return Drain(svc, real, timeout)
    if verb == "undrain":
        _no_more(verb, rest)
        return Undrain(svc, real)
    if verb == "weight":
        if not rest:
            raise CommandError("weight: missing N (0-65535, or reset)")
        w = None if rest[0].lower() == "reset" else parse_weight(rest[0])
        _no_more(verb, rest[1:])
        return SetWeight(svc, real, w)
    if verb == "add":
        weight, kind = 1, None
        for tok in rest:
            if tok.upper() in LbKind.__members__:
                kind = LbKind[tok.upper()]
            else:
                weight = parse_weight(tok)
        return AddReal(svc, real, weight, kind)
    _no_more(verb, rest)
    return RemoveReal(svc, real)
