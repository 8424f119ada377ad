"""The nftables edge: batches of JSON commands, run by libnftables (`nft -j -f -`), and an
in-memory twin that keeps the same tables.

A feature never edits rules one by one: it describes its whole table (`TableSpec`) and
`replace_table` makes the one batch that swaps it in (nftables applies a batch atomically:
no moment without rules), `delete_table` the batch that removes it (absent is fine). Tables
of other programs and of other lvstui features are never touched.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lvstui.errors import DataplaneError

__all__ = [
    "Chain",
    "MemoryNft",
    "Nft",
    "NftCommand",
    "NftSet",
    "TableSpec",
    "delete_table",
    "replace_table",
]

Command = dict[str, Any]  # one element of the JSON "nftables" array: {"add": {"table": ...}}
TIMEOUT = 10.0  # s: nft answers in milliseconds; a hung one must not hang the daemon


@dataclass(frozen=True, slots=True)
class Chain:
    """A base chain: `type` nat|filter, `hook` prerouting|postrouting|input|..., priority."""

    name: str
    type: str
    hook: str
    prio: int
    policy: str = "accept"


@dataclass(frozen=True, slots=True)
class NftSet:
    """A named set; `type` is one nft type or a concatenation (a tuple of several)."""

    name: str
    type: tuple[str, ...]
    elements: tuple[Any, ...] = ()  # JSON element values ({"concat": [...]} for several)


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A whole table as one feature wants it. `rules` are (chain, expr list) in order."""

    family: str  # "ip", "ip6", "inet"
    name: str
    chains: tuple[Chain, ...] = ()
    sets: tuple[NftSet, ...] = ()
    rules: tuple[tuple[str, tuple[Mapping[str, Any], ...]], ...] = ()


def _table(family: str, name: str) -> Command:
    return {"table": {"family": family, "name": name}}


def delete_table(family: str, name: str) -> list[Command]:
    """The batch that removes a table and all it holds; absent already is no error (the
    `add` first makes the `delete` always find it, in the same atomic batch)."""
    return [{"add": _table(family, name)}, {"delete": _table(family, name)}]


def replace_table(spec: TableSpec) -> list[Command]:
    """The batch that makes `spec` the table's whole content, atomically."""
    fam, tab = spec.family, spec.name
    out = [*delete_table(fam, tab), {"add": _table(fam, tab)}]
    for c in spec.chains:
        chain: Command = {"family": fam, "table": tab, "name": c.name, "type": c.type}
        chain |= {"hook": c.hook}
        chain |= {"prio": c.prio, "policy": c.policy}
        out.append({"add": {"chain": chain}})
    for s in spec.sets:
        typ: str | list[str] = s.type[0] if len(s.type) == 1 else list(s.type)
        body: dict[str, Any] = {"family": fam, "table": tab, "name": s.name, "type": typ}
        if s.elements:
            body["elem"] = list(s.elements)
        out.append({"add": {"set": body}})
    for chain_name, expr in spec.rules:
        rule = {"family": fam, "table": tab, "chain": chain_name, "expr": list(expr)}
        out.append({"add": {"rule": rule}})
    return out


class Nft(Protocol):
    """Runs a batch atomically (all or nothing) and reads a table back."""

    async def run(self, batch: Sequence[Command]) -> None:
        """Apply; DataplaneError (nft's own message) when refused — then nothing changed."""
        ...

    async def table(self, family: str, name: str) -> list[Command] | None:
        """The table's objects as `nft -j list table` gives them; None when absent."""
        ...


class NftCommand:
    """libnftables through the `nft` command with JSON in and out (the Python binding is a
    Debian package for the system interpreter; `nft -j` is the same library)."""

    def __init__(self, binary: str = "nft", prefix: Sequence[str] = ()) -> None:
        self._binary = binary
        self._prefix = tuple(prefix)  # e.g. ("ip", "netns", "exec", NAME): nft in a namespace

    async def _nft(self, args: Sequence[str], stdin: bytes | None) -> tuple[int, str, str]:
        path = shutil.which(self._binary)
        if path is None:
            raise DataplaneError(
                f"{self._binary}: not found", hint="install nftables (apt-get install nftables)"
            )
        proc = await asyncio.create_subprocess_exec(
            *self._prefix,
            path,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise DataplaneError(f"nft did not answer in {TIMEOUT:.0f} s") from None
        return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")

    async def run(self, batch: Sequence[Command]) -> None:
        data = json.dumps({"nftables": list(batch)}).encode()
        code, _, err = await self._nft(["-j", "-f", "-"], data)
        if code != 0:
            raise DataplaneError(f"nftables refused the batch: {err.strip() or f'exit {code}'}")

    async def table(self, family: str, name: str) -> list[Command] | None:
        code, out, err = await self._nft(["-j", "list", "table", family, name], None)
        if code != 0:
            if "No such file or directory" in err:
                return None
            raise DataplaneError(f"nft list table {family} {name}: {err.strip()}")
        items = json.loads(out).get("nftables", [])
        return [i for i in items if "metainfo" not in i]


@dataclass(slots=True)
class _Table:
    chains: dict[str, Command] = field(default_factory=dict)
    sets: dict[str, Command] = field(default_factory=dict)
    rules: list[Command] = field(default_factory=list)


class MemoryNft:
    """The twin: tables in memory, batches all or nothing, the errors nft gives for a
    missing table, chain or set. `batches` counts what ran (tests read it)."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], _Table] = {}
        self.batches = 0
        self.refuse: str | None = None  # set: the next batch fails with this message

    async def run(self, batch: Sequence[Command]) -> None:
        if self.refuse is not None:
            msg, self.refuse = self.refuse, None
            raise DataplaneError(f"nftables refused the batch: {msg}")
        work = {
            k: _Table(dict(t.chains), dict(t.sets), list(t.rules)) for k, t in self.tables.items()
        }
        for cmd in batch:
            ((verb, obj),) = cmd.items()
            ((kind, body),) = obj.items()
            _apply(work, verb, kind, body)
        self.tables = work
        self.batches += 1

    async def table(self, family: str, name: str) -> list[Command] | None:
        t = self.tables.get((family, name))
        if t is None:
            return None
        out: list[Command] = [{"table": {"family": family, "name": name}}]
        out += [{"chain": c} for c in t.chains.values()]
        out += [{"set": s} for s in t.sets.values()]
        out += [{"rule": r} for r in t.rules]
        return out


def _apply(work: dict[tuple[str, str], _Table], verb: str, kind: str, body: Command) -> None:
    if verb not in ("add", "delete"):
        raise DataplaneError(f"nftables twin: verb {verb!r} not modelled")
    if kind == "table":
        key = (body["family"], body["name"])
        if verb == "add":
            work.setdefault(key, _Table())
        elif work.pop(key, None) is None:
            raise DataplaneError("nftables refused the batch: No such file or directory")
        return
    if verb != "add":
        raise DataplaneError(f"nftables twin: delete {kind} not modelled")
    t = work.get((body["family"], body["table"]))
    if t is None:
        raise DataplaneError("nftables refused the batch: No such file or directory")
    if kind == "chain":
        t.chains[body["name"]] = dict(body)
    elif kind == "set":
        t.sets[body["name"]] = dict(body)
    elif kind == "rule":
        if body["chain"] not in t.chains:
            raise DataplaneError("nftables refused the batch: No such file or directory")
        for ref in _set_refs(body["expr"]):
            if ref not in t.sets:
                raise DataplaneError(f"nftables refused the batch: set {ref!r} not found")
        t.rules.append(dict(body))
    else:
        raise DataplaneError(f"nftables twin: object {kind!r} not modelled")


def _set_refs(expr: Any) -> list[str]:
    """Names of the sets an expression refers to ("@name" strings)."""
    if isinstance(expr, str):
        return [expr[1:]] if expr.startswith("@") else []
    if isinstance(expr, Mapping):
        return [r for v in expr.values() for r in _set_refs(v)]
    if isinstance(expr, list):
        return [r for v in expr for r in _set_refs(v)]
    return []
