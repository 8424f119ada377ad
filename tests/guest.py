"""Run a script inside the User-Mode-Linux IPVS guest and read its checks back.

A guest script (tests/vm/guest_*.py, tests/engine/guest_engine.py, tests/cli/guest_cli.py, …)
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

__all__ = ["GuestRun", "assert_check", "own_kernel", "run_guest"]

# Debian 12's UML kernel panics on hosts with a large XSAVE area (AVX-512/AMX); this wrapper
# makes it fall back to FXSAVE (see its docstring). run-in-ipvs-vm.sh honours IPVSVM_KERNEL.
# The wrapper starts IPVSVM_REAL_KERNEL instead of Debian's when that is set: our own build.
UML_WRAPPER = REPO / "tests" / "vm" / "uml-kernel"
# Our UML kernel: Debian's linux-source-6.1 with nftables ip/ip6/inet and the process-events
# connector built in (.ci/run builds it; cached outside the repo).
BUILD_KERNEL = REPO / "tests" / "vm" / "build-uml-kernel"
# In the guest, modprobe of a built-in module reads modules.builtin from
# /lib/modules/RELEASE; run-in-ipvs-vm.sh links that to Debian's module tree, which has no
# entry for our release: point it at our build's before the script starts.
LINK_MODULES = 'ln -sfn "$0/$(uname -r)" "/lib/modules/$(uname -r)" && exec "$@"'

GuestRun = tuple[dict[str, dict[str, Any]], str]  # checks by name, and what the guest printed

# The wrapper keeps glibc off AVX (its FXSAVE fallback does not preserve the upper halves of
# the vector registers across the guest's context switches), but OpenSSL probes the CPU
# itself: in the guest, `cryptography` then made EC keys that do not verify ("Invalid key";
# Python's ssl: EE_KEY_TOO_SMALL), so `lvstui group keygen` and TLS were unreliable there.
# OPENSSL_ia32cap masks AVX, FMA, F16C (CPUID 1) and AVX2, AVX-512, VAES, VPCLMULQDQ
# (CPUID 7) for both OpenSSLs (the system's and cryptography's); SSE and AES-NI stay.
OPENSSL_NO_AVX = "~0x3000100000000000:~0x602d0230020"


def own_kernel() -> Path | None:
    """Our UML kernel's binary when tests/vm/build-uml-kernel has built it, else None."""
    proc = subprocess.run(
        [str(BUILD_KERNEL), "--path"], capture_output=True, text=True, timeout=30, check=False
    )
    return Path(proc.stdout.strip()) if proc.returncode == 0 else None


def run_guest(script: Path, timeout: float = 240.0, *, own: bool = False) -> GuestRun:
    """Skip (with the reason) where the guest cannot run; else run `script` in one guest of
    Debian's UML kernel, or with `own` (or LVSTUI_GUEST_KERNEL=own) of ours when it is built
    (else Debian's: the checks that need ours then skip, saying why)."""
    require_root("the IPVS guest (User-Mode-Linux)")
    if not Path("/usr/bin/linux.uml").exists():
        pytest.skip("needs /usr/bin/linux.uml (apt user-mode-linux; .ci/run installs it)")
    tool = require_shared_tool("run-in-ipvs-vm.sh")
    env = dict(os.environ)
    env.setdefault("IPVSVM_KERNEL", str(UML_WRAPPER))
    env.setdefault("OPENSSL_ia32cap", OPENSSL_NO_AVX)
    env.setdefault("IPVSVM_TIMEOUT", str(int(timeout)))
    argv = [sys.executable, str(script.relative_to(REPO))]
    own = own or os.environ.get("LVSTUI_GUEST_KERNEL") == "own"  # every guest on ours
    kernel = own_kernel() if own else None
    if kernel is not None:
        env["IPVSVM_REAL_KERNEL"] = str(kernel)
        argv = ["/bin/sh", "-c", LINK_MODULES, str(kernel.parent / "modules/lib/modules"), *argv]
    proc = subprocess.run(
        [str(tool), *argv],
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
