"""Kernel sysctls as an edge (/proc/sys) with an in-memory twin: what source NAT needs
(net.ipv4.vs.conntrack) read, set, and put back as it was."""

from __future__ import annotations

from typing import Protocol

from lvstui.hostsetup import read_sysctl, write_sysctl

__all__ = ["MemorySysctls", "ProcSysctls", "Sysctls"]


class Sysctls(Protocol):
    def read(self, key: str) -> str | None:
        """The value; None where the key does not exist (module not loaded, no permission)."""
        ...

    def write(self, key: str, value: str) -> None:
        """Set it; OSError when the kernel refuses."""
        ...


class ProcSysctls:
    def read(self, key: str) -> str | None:
        return read_sysctl(key)

    def write(self, key: str, value: str) -> None:
        write_sysctl(key, value)


class MemorySysctls:
    """The twin: a dict; a key that is absent cannot be written (as /proc/sys refuses)."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})

    def read(self, key: str) -> str | None:
        return self.values.get(key)

    def write(self, key: str, value: str) -> None:
        if key not in self.values:
            raise FileNotFoundError(f"/proc/sys/{key.replace('.', '/')}")
        self.values[key] = value
