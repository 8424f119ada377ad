"""Operator overrides, kept apart from config.toml: `<state_dir>/overrides.toml`.

What an operator changes at run time — drain / undrain, a weight, a real server added or
removed (the tutorial's `ipvsadm -a` / `-d`) — is written here, never into config.toml
(which lvstui never rewrites). The engine loads the file on start and re-applies it after a
restart and after every reload. An override that no longer matches any service of the
running config is *kept* (the service may come back with the next reload) and reported.

The file is written atomically: a temporary file in the same directory, fsync, rename, then
fsync of the directory, so a crash leaves either the old or the new file, never half of one.

A broken file never keeps the director from serving (`StateFile.load_tolerant`, what the
engine uses): an invalid entry is skipped and reported, the rest applies; a file that
cannot be read as TOML at all is moved aside to `overrides.toml.bad-<UTC time>` (kept for
the operator, never deleted) and the engine starts with no override. `StateFile.load` is
the strict form (first problem raised as a ConfigError).

Format (version 1)::

    version = 1
    [[drain]]
    service = "TCP 192.168.10.9:80"
    real = "192.168.10.98:80"
    timeout = 120.0            # optional: expire remaining connections after this
    [[weight]]
    service = "TCP 192.168.10.9:80"
    real = "192.168.10.99:80"
    weight = 5
    [[add]]
    service = "TCP 192.168.10.9:80"
    real = "192.168.10.44:80"
    weight = 1
    lb_kind = "NAT"            # optional
    [[remove]]
    service = "TCP 192.168.10.9:80"
    real = "192.168.10.97:80"
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from lvstui.config.limits import parse_toml, read_limited
from lvstui.config.schema import Config, VirtualServer
from lvstui.errors import ConfigError
from lvstui.model import LbKind, RealKey, ServiceKey
from lvstui.netutil import ip_family

__all__ = [
    "OVERRIDES_FILE",
    "OWNED_FILE",
    "AddedReal",
    "LoadReport",
    "Overrides",
    "StateFile",
    "check_weight",
    "parse_service",
    "service_key_of",
    "service_text",
    "unmatched_overrides",
    "write_atomic",
]

OVERRIDES_FILE = "overrides.toml"
OWNED_FILE = "owned.toml"  # the virtual services this director created (see StateFile)
_VERSION = 1

Pair = tuple[ServiceKey, RealKey]


def service_key_of(vs: VirtualServer) -> ServiceKey:
    """The ServiceKey of a `VirtualServer` (config) — the one identity used everywhere."""
    if vs.fwmark is not None:
        return ServiceKey(vs.protocol, "", 0, fwmark=vs.fwmark, family=vs.family)
    addr = str(vs.ip)
    return ServiceKey(vs.protocol, addr, vs.port, family=ip_family(addr))


def service_text(key: ServiceKey) -> str:
    """The state file's (and the group's) text for a service: `TCP 1.2.3.4:80`, `FWM 3`."""
    if key.fwmark:
        return f"FWM {key.fwmark}" + (" ipv6" if key.family == 6 else "")
    return str(key)


def parse_service(text: str) -> ServiceKey:
    t = text.strip()
    if t.upper().startswith("FWM"):
        fam = 6 if t.endswith(" ipv6") else 4
        base = ServiceKey.parse(t.removesuffix(" ipv6"))
        return replace(base, family=fam)
    return ServiceKey.parse(t)


@dataclass(frozen=True, slots=True)
class AddedReal:
    """A real server added at run time (`ctl add`): no health check, like `ipvsadm -a`."""

    weight: int = 1
    lb_kind: LbKind | None = None


@dataclass(frozen=True, slots=True)
class Overrides:
    """Immutable: every change returns a new Overrides (the engine swaps it in, then saves)."""

    drained: Mapping[Pair, float | None] = field(default_factory=dict)  # → drain timeout
    weights: Mapping[Pair, int] = field(default_factory=dict)
    added: Mapping[Pair, AddedReal] = field(default_factory=dict)
    removed: frozenset[Pair] = frozenset()

    def is_empty(self) -> bool:
        return not (self.drained or self.weights or self.added or self.removed)

    def drain(self, pair: Pair, timeout: float | None) -> Overrides:
        return replace(self, drained={**self.drained, pair: timeout})

    def undrain(self, pair: Pair) -> Overrides:
        return replace(self, drained={k: v for k, v in self.drained.items() if k != pair})

    def set_weight(self, pair: Pair, weight: int | None) -> Overrides:
        weights = {k: v for k, v in self.weights.items() if k != pair}
        if weight is not None:
            weights[pair] = weight
        return replace(self, weights=weights)

    def add(self, pair: Pair, real: AddedReal) -> Overrides:
        return replace(self, added={**self.added, pair: real}, removed=self.removed - {pair})

    def restore(self, pair: Pair) -> Overrides:
        """Undo a `remove` of a configured real server."""
        return replace(self, removed=self.removed - {pair})

    def remove(self, pair: Pair, *, configured: bool) -> Overrides:
        """Forget every override of `pair`; a configured real server is marked removed."""
        return Overrides(
            drained={k: v for k, v in self.drained.items() if k != pair},
            weights={k: v for k, v in self.weights.items() if k != pair},
            added={k: v for k, v in self.added.items() if k != pair},
            removed=(self.removed | {pair}) if configured else (self.removed - {pair}),
        )

    def pairs(self) -> set[Pair]:
        return set(self.drained) | set(self.weights) | set(self.added) | set(self.removed)

    # --- TOML -----------------------------------------------------------------------------

    def to_toml(self) -> dict[str, Any]:
        def base(p: Pair) -> dict[str, Any]:
            return {"service": service_text(p[0]), "real": str(p[1])}

        doc: dict[str, Any] = {"version": _VERSION}
        order = sorted  # stable file content: diffs of the state file stay readable
        if self.drained:
            doc["drain"] = [
                {**base(p), **({"timeout": t} if t is not None else {})}
                for p, t in order(self.drained.items(), key=lambda i: _pair_sort(i[0]))
            ]
        if self.weights:
            doc["weight"] = [
                {**base(p), "weight": w}
                for p, w in order(self.weights.items(), key=lambda i: _pair_sort(i[0]))
            ]
        if self.added:
            doc["add"] = [
                {
                    **base(p),
                    "weight": a.weight,
                    **({"lb_kind": a.lb_kind.value} if a.lb_kind else {}),
                }
                for p, a in order(self.added.items(), key=lambda i: _pair_sort(i[0]))
            ]
        if self.removed:
            doc["remove"] = [base(p) for p in order(self.removed, key=_pair_sort)]
        return doc

    @classmethod
    def from_toml(
        cls, doc: Mapping[str, Any], *, file: str = "", skipped: list[str] | None = None
    ) -> Overrides:
        """Parse a version-1 document. A bad entry raises a ConfigError, unless `skipped`
        is given: then it is left out and described there ("add[0]: invalid entry: ...")."""

        def bad(err: ConfigError) -> None:
            if skipped is None:
                raise err
            skipped.append(f"{err.key}: {err.detail}")

        version = doc.get("version", _VERSION)
        if version != _VERSION:
            raise ConfigError(
                f"unsupported state file version {version!r}",
                file=file,
                key="version",
                hint=f"this lvstui writes version {_VERSION}; move the file away to start clean",
            )
        drained: dict[Pair, float | None] = {}
        weights: dict[Pair, int] = {}
        added: dict[Pair, AddedReal] = {}
        removed: set[Pair] = set()
        for table, rows in doc.items():
            if table == "version":
                continue
            if table not in ("drain", "weight", "add", "remove") or not isinstance(rows, list):
                bad(ConfigError(f"unknown entry {table!r}", file=file, key=table))
                continue
            for i, row in enumerate(rows):
                where = f"{table}[{i}]"
                try:
                    if not isinstance(row, Mapping):
                        raise TypeError(f"a table was expected, got {row!r}")
                    pair = (parse_service(str(row["service"])), RealKey.parse(str(row["real"])))
                    if table == "drain":
                        t = row.get("timeout")
                        drained[pair] = None if t is None else float(t)
                    elif table == "weight":
                        weights[pair] = check_weight(row["weight"])
                    elif table == "add":
                        kind = row.get("lb_kind")
                        added[pair] = AddedReal(
                            weight=check_weight(row.get("weight", 1)),
                            lb_kind=LbKind(kind) if kind else None,
                        )
                    else:
                        removed.add(pair)
                except (KeyError, ValueError, TypeError) as e:
                    what = f"missing key {e}" if isinstance(e, KeyError) else str(e)
                    bad(ConfigError(f"invalid entry: {what}", file=file, key=where))
        return cls(drained, weights, added, frozenset(removed))


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What `StateFile.load_tolerant` found: the overrides to apply and what went wrong."""

    overrides: Overrides
    skipped: tuple[str, ...] = ()  # entries left out: "add[0]: invalid entry: port ..."
    error: str = ""  # why the whole file was unusable ("" when it was fine or absent)
    moved_to: Path | None = None  # where the unusable file (or a copy, see below) went


def check_weight(v: Any) -> int:
    """A weight from a file or a peer: an integer 0-65535 (ValueError otherwise)."""
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 65535:
        raise ValueError(f"weight must be an integer 0-65535, got {v!r}")
    return v


def _pair_sort(p: Pair) -> tuple[str, str]:
    return (service_text(p[0]), str(p[1]))


def unmatched_overrides(overrides: Overrides, config: Config) -> list[str]:
    """Overrides that name a service (or configured real server) the config does not have."""
    services: dict[ServiceKey, set[RealKey]] = {}
    for vs in config.virtual_servers:
        services[service_key_of(vs)] = {RealKey(r.ip, r.port) for r in vs.real_servers}
    out: list[str] = []
    for kind, pairs in (
        ("drain", overrides.drained),
        ("weight", overrides.weights),
        ("add", overrides.added),
        ("remove", overrides.removed),
    ):
        for svc, real in sorted(pairs, key=_pair_sort):
            if svc not in services:
                out.append(f"{kind} {real} on {svc}: no such service in the config (kept)")
            elif kind == "remove" and real not in services[svc]:
                out.append(f"remove {real} on {svc}: not a configured real server (kept)")
            elif kind in ("drain", "weight") and (
                real not in services[svc] and (svc, real) not in overrides.added
            ):
                out.append(f"{kind} {real} on {svc}: no such real server (kept)")
    return out


class StateFile:
    """`<state_dir>/overrides.toml`: load on start, save after every change.

    Also `<state_dir>/owned.toml`: the services this director created and has not removed
    yet. A restart that keeps the kernel table (`stop(release=False)`) would otherwise
    forget a service that was taken out of config.toml meanwhile, and leave it in the
    kernel for ever; services someone else created are never listed, so never touched.
    """

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / OVERRIDES_FILE
        self.owned_path = self.dir / OWNED_FILE

    def load_owned(self) -> set[ServiceKey]:
        """Services recorded as ours; empty when the file is missing or unreadable
        (ownership is a convenience: losing it only means a stale service stays)."""
        try:
            doc = parse_toml(read_limited(self.owned_path).decode("utf-8"), str(self.owned_path))
            return {parse_service(str(t)) for t in doc.get("services", [])}
        except (OSError, ConfigError, tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError):
            return set()

    def save_owned(self, owned: set[ServiceKey]) -> None:
        doc = {"version": _VERSION, "services": sorted(service_text(k) for k in owned)}
        self._write(self.owned_path, tomli_w.dumps(doc).encode("utf-8"))

    def load(self) -> Overrides:
        """Overrides from disk; empty when the file does not exist. ConfigError when broken."""
        try:
            data = read_limited(self.path)
        except FileNotFoundError:
            return Overrides()
        try:
            doc = parse_toml(data.decode("utf-8"), str(self.path))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(
                f"cannot parse: {e}",
                file=str(self.path),
                hint="fix or move the file away; lvstui never edits it by hand-merging",
            ) from e
        return Overrides.from_toml(doc, file=str(self.path))

    def load_tolerant(self, wall: float | None = None) -> LoadReport:
        """Overrides from disk, never raising for the file's content.

        Invalid entries are skipped (listed in `skipped`); the file stays and a copy is
        kept as `overrides.toml.bad-<time>`, since the next save rewrites it without them.
        A file that cannot be read or parsed, or of another version, is moved aside to
        `overrides.toml.bad-<time>` and no override applies. `wall`: the time for the
        name (default: now)."""
        try:
            data = read_limited(self.path)  # a link to /dev/zero: refused, set aside
        except FileNotFoundError:
            return LoadReport(Overrides())
        except OSError as e:
            return self._set_aside(f"cannot read: {e.strerror or e}", wall, move=True)
        except ConfigError as e:
            return self._set_aside(e.detail, wall, move=True)
        try:
            doc = parse_toml(data.decode("utf-8"), str(self.path))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            return self._set_aside(f"cannot parse: {e}", wall, move=True)
        except ConfigError as e:
            return self._set_aside(e.detail, wall, move=True)
        skipped: list[str] = []
        try:
            overrides = Overrides.from_toml(doc, file=str(self.path), skipped=skipped)
        except ConfigError as e:  # another version: not ours to read
            return self._set_aside(e.detail, wall, move=True)
        if not skipped:
            return LoadReport(overrides)
        report = self._set_aside("", wall, move=False)
        return replace(report, overrides=overrides, skipped=tuple(skipped))

    def _set_aside(self, error: str, wall: float | None, *, move: bool) -> LoadReport:
        """Move (or copy) the file to a free `overrides.toml.bad-<UTC time>` name."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if wall is None else wall))
        target = self.path.with_name(f"{self.path.name}.bad-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.bad-{stamp}.{n}")
        try:
            if move:
                os.rename(self.path, target)
            else:
                shutil.copy2(self.path, target)
        except OSError as e:
            where = f"could not be {'moved' if move else 'copied'} aside: {e.strerror or e}"
            return LoadReport(Overrides(), error=f"{error}; {where}" if error else where)
        return LoadReport(Overrides(), error=error, moved_to=target)

    def save(self, overrides: Overrides) -> None:
        """Write atomically (temp file + fsync + rename + directory fsync). Blocking: small."""
        self._write(self.path, tomli_w.dumps(overrides.to_toml()).encode("utf-8"))

    def _write(self, path: Path, payload: bytes) -> None:
        write_atomic(path, payload)


def write_atomic(path: Path, payload: bytes) -> None:
    """Temp file in the same directory + fsync + rename + directory fsync: a crash leaves
    the old file or the new one, never half of one. Blocking: for small files."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
