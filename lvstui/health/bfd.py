"""BFD_CHECK: the state of a BFD session run by FRR's bfdd (we run no BFD of our own).

Each run asks bfdd through `vtysh -c 'show bfd peers json'` and finds the peer whose label
or address is the check's `name`: status "up" is up; any other status (down, init,
shutdown), no such peer, or vtysh failing or hanging past connect_timeout is down.

keepalived's BFD_CHECK follows its own bfd process's events; bfdd's state is polled here,
every second unless delay_loop is set (`lvstui.health.base.LOCAL_POLL`), and checks of one
peer from many services share one poll (one probe per target). `vtysh` is the command run,
e.g. ("vtysh", "-N", "ns1") for a bfdd started with a pathspace.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence

from lvstui.config.schema import BfdCheck
from lvstui.health.base import CheckResult, CheckSpec, SpecChecker, fail, passed

__all__ = ["DEFAULT_VTYSH", "BfdChecker", "peer_status"]

DEFAULT_VTYSH: tuple[str, ...] = ("vtysh",)
_OUTPUT_CAP = 1 << 20  # bytes of vtysh output read at most


def peer_status(doc: object, name: str) -> str | None:
    """The status of peer `name` (by label, then by address) in `show bfd peers json`'s
    document, None when there is no such peer."""
    peers = doc if isinstance(doc, list) else []
    for key in ("label", "peer"):
        for p in peers:
            if isinstance(p, dict) and p.get(key) == name:
                status = p.get("status")
                return str(status) if status is not None else "unknown"
    return None


class BfdChecker(SpecChecker[BfdCheck]):
    __slots__ = ("_vtysh",)

    def __init__(
        self, spec: CheckSpec, check: BfdCheck, vtysh: Sequence[str] = DEFAULT_VTYSH
    ) -> None:
        super().__init__(spec, check)
        self._vtysh = tuple(vtysh)

    async def run(self) -> CheckResult:
        started = time.monotonic()
        timeout = self._spec.timeout
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._vtysh,
                "-c",
                "show bfd peers json",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            return fail(started, f"cannot run {self._vtysh[0]}: {exc.strerror or exc}")
        try:
            async with asyncio.timeout(timeout):
                assert proc.stdout is not None
                out = bytearray()
                while len(out) < _OUTPUT_CAP and (chunk := await proc.stdout.read(65536)):
                    out += chunk
                if len(out) >= _OUTPUT_CAP:
                    return fail(started, f"vtysh wrote more than {_OUTPUT_CAP} bytes")
                rc = await proc.wait()
        except TimeoutError:
            return fail(started, f"vtysh did not answer within {timeout:g}s")
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if rc != 0:
            return fail(started, f"vtysh exited {rc} (is bfdd running?)")
        try:
            doc = json.loads(out)
        except ValueError:
            return fail(started, "vtysh's output is not JSON")
        status = peer_status(doc, self._check.name)
        if status is None:
            return fail(started, f"bfdd has no peer {self._check.name}")
        if status != "up":
            return fail(started, f"peer {self._check.name} is {status}")
        return passed(started, f"peer {self._check.name} is up")
