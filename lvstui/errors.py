"""One exception tree for the whole program.

Every error carries a message (what went wrong) and a hint (what to do about it), so a
command line, the daemon's log and the console can all show it the same way::

    LvstuiError
    ├── ConfigError          a config file is wrong (names file, line, key path)
    ├── DataplaneError       the kernel or the userspace forwarder refused an operation
    │   └── UnsupportedError this dataplane cannot do that (DR in userspace, ...)
    ├── CheckError           a health check could not even be run (bad argv, ...)
    ├── VrrpError            VRRP socket, address or packet trouble
    │   └── PacketError      a received byte string is not a valid advert (reason set)
    ├── ControlError         control socket: daemon missing, refused, protocol mismatch
    │   └── PermissionDenied the peer's role may not run that command
    └── CommandError         an operator command names something that does not exist
"""

from __future__ import annotations

__all__ = [
    "CheckError",
    "CommandError",
    "ConfigError",
    "ControlError",
    "DataplaneError",
    "LvstuiError",
    "PacketError",
    "PermissionDenied",
    "UnsupportedError",
    "VrrpError",
]


class LvstuiError(Exception):
    """Base of every error lvstui raises on purpose."""

    title = "lvstui error"

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class ConfigError(LvstuiError):
    """A configuration file is invalid. `file`, `line` and `key` locate the problem."""

    title = "configuration error"

    def __init__(
        self,
        message: str,
        *,
        file: str = "",
        line: int | None = None,
        key: str = "",
        hint: str = "",
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        where = file or "<config>"
        if line is not None:
            where += f":{line}"
        if key:
            where += f": {key}"
        super().__init__(f"{where}: {message}", hint=hint)
        self.detail = message


class DataplaneError(LvstuiError):
    title = "dataplane error"


class UnsupportedError(DataplaneError):
    title = "not supported by this dataplane"


class CheckError(LvstuiError):
    title = "health check error"


class VrrpError(LvstuiError):
    title = "VRRP error"


class PacketError(VrrpError):
    """A received advert was dropped; `reason` is a short stable token used for counters."""

    title = "invalid VRRP packet"

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


class ControlError(LvstuiError):
    title = "control socket error"


class PermissionDenied(ControlError):
    title = "permission denied"


class CommandError(LvstuiError):
    title = "command error"
