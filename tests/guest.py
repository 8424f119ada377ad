"""Run a script inside the User-Mode-Linux IPVS guest and read its checks back.

A guest script (tests/vm/guest_*.py, tests/engine/guest_engine.py, tests/cli/guest_cli.py)
runs as root inside one guest and prints one JSON line per check
(`{"name": ..., "ok": ..., "detail": ...}`); a test module boots ONE guest per script
(module-scoped fixture) and turns each expected check into its own test. A check missing
from the output fails: the guest died or never reached it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO, require_root, require_shared_tool

__all__ = ["GuestRun", "assert_check", "run_guest"]

# Debian 12's UML kernel panics on hosts with a large XSAVE area (AVX-512/AMX); this wrapper
# makes it fall back to FXSAVE (see its docstring). run-in-ipvs-vm.sh honours IPVSVM_KERNEL.
UML_WRAPPER = REPO / "tests" / "vm" / "uml-kernel"

GuestRun = tuple[dict[str, dict[str, Any]], str]  # checks by name, and what the guest printed

# The wrapper keeps glibc off AVX (its FXSAVE fallback does not preserve the upper halves of
# the vector registers across the guest's context switches), but OpenSSL probes the CPU
# itself: in the guest, `cryptography` then made EC keys that do not verify ("Invalid key";
# Python's ssl: EE_KEY_TOO_SMALL), so `lvstui group keygen` and TLS were unreliable there.
# OPENSSL_ia32cap masks AVX, FMA, F16C (CPUID 1) and AVX2, AVX-512, VAES, VPCLMULQDQ
# (CPUID 7) for both OpenSSLs (the system's and cryptography's); SSE and AES-NI stay.
OPENSSL_NO_AVX = "~0x3000100000000000:~0x602d0230020"


def run_guest(script: Path, timeout: float = 240.0) -> GuestRun:
    """Skip (with the reason) where the guest cannot run; else run `script` in one guest."""
    require_root("the IPVS guest (User-Mode-Linux)")
    if not Path("/usr/bin/linux.uml").exists():
        pytest.skip("needs /usr/bin/linux.uml (apt user-mode-linux; .ci/run installs it)")
    tool = require_shared_tool("run-in-ipvs-vm.sh")
    env = dict(os.environ)
    env.setdefault("IPVSVM_KERNEL", str(UML_WRAPPER))
    env.setdefault("OPENSSL_ia32cap", OPENSSL_NO_AVX)
    env.setdefault("IPVSVM_TIMEOUT", str(int(timeout)))
    proc = subprocess.run(
        [str(tool), sys.executable, str(script.relative_to(REPO))],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 30,
        check=False,
    )
    results: dict[str, dict[str, Any]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            results[rec["name"]] = rec
    log = (
        f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n"
        f"--- stderr\n{proc.stderr[-3000:]}"
    )
    return results, log


def assert_check(run: GuestRun, name: str) -> None:
    results, log = run
    rec = results.get(name)
    assert rec is not None, f"check {name!r} missing from the guest's output\n{log}"
    if rec.get("skip"):  # the guest's kernel cannot run this check; it says why
        pytest.skip(rec["skip"])
    assert rec["ok"], f"{name}: {rec['detail']}\n{log}"
