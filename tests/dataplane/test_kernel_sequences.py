"""The userspace schedulers pick exactly what the kernel's IPVS picks (User-Mode-Linux guest).

One guest boot runs `kernel_sequences.py`: real connections through real IPVS (Linux 6.1) to
real servers, for rr, wrr, lc, wlc, sed, nq, sh and mh; the same connections are then
scheduled by lvstui's userspace schedulers, and the sequences must be identical — including
sh's hash_32 buckets and mh's SipHash-keyed Maglev table for 60 client addresses.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from lvstui.dataplane.userspace.sched import RealServer, addr_fold, make_scheduler
from tests.helpers import REPO, require_root, require_shared_tool

REALS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
UML_WRAPPER = REPO / "tests" / "vm" / "uml-kernel"


@pytest.fixture(scope="module")
def kernel() -> dict[str, list[str]]:
    require_root("the User-Mode-Linux guest")
    tool = require_shared_tool("run-in-ipvs-vm.sh")
    env = dict(os.environ)
    if UML_WRAPPER.exists():
        env.setdefault("IPVSVM_KERNEL", str(UML_WRAPPER))
    env.setdefault("IPVSVM_TIMEOUT", "240")
    proc = subprocess.run(
        [str(tool), "/usr/bin/python3", "tests/dataplane/kernel_sequences.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data: dict[str, list[str]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def ours(
    sched: str, weights: list[int], n: int, *, hold: bool = False, srcs: list[str] | None = None
) -> list[str]:
    dests: list[RealServer] = []
    s = make_scheduler(sched, dests)
    for addr, w in zip(REALS, weights, strict=False):  # added in this order, like ipvsadm -a
        d = RealServer(addr, 8080, w)
        dests.insert(0, d)
        s.add_dest(d)
    out = []
    for i in range(n):
        d = s.schedule(addr_fold(srcs[i] if srcs else "127.0.0.1"), 0)
        assert d is not None
        out.append(d.addr)
        if hold:
            d.active += 1
    return out


CASES = {
    "rr": ("rr", [1, 1, 1], 7, False),
    "wrr": ("wrr", [1, 2, 3], 15, False),
    "wrr_gcd": ("wrr", [4, 2], 9, False),
    "wlc_held": ("wlc", [1, 2, 3], 8, True),
    "lc_held": ("lc", [1, 5, 1], 6, True),
    "sed_held": ("sed", [1, 3], 5, True),
    "nq_held": ("nq", [1, 3], 3, True),
}


@pytest.mark.ipvs_vm
@pytest.mark.root
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_sequence_as_the_kernel(kernel: dict[str, list[str]], case: str) -> None:
    sched, weights, n, hold = CASES[case]
    assert ours(sched, weights, n, hold=hold) == kernel[case]


@pytest.mark.ipvs_vm
@pytest.mark.root
@pytest.mark.parametrize("sched", ["sh", "mh"])
def test_hashing_same_server_per_client_as_the_kernel(
    kernel: dict[str, list[str]], sched: str
) -> None:
    srcs = kernel["srcs"]
    got = ours(sched, [1, 2, 1], len(srcs), srcs=srcs)
    assert got == kernel[sched]
    assert len(set(got)) == 3  # the clients really spread: the check is not vacuous
