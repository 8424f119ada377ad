"""A million random and mutated VRRP adverts through the decoder and the state machine.

    .venv/bin/python bench/vrrp_fuzz.py [COUNT] [SEED]

Prints the outcome of every case by reason (decode errors, receive-rule drops, accepted)
and the rate. Any exception other than a counted PacketError fails the run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.vrrp.fuzzcore import run


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    t0 = time.perf_counter()
    counts = run(n, seed)
    dt = time.perf_counter() - t0
    print(f"{n} adverts in {dt:.1f} s ({n / dt:,.0f}/s), seed {seed}, no crash")
    for reason, c in counts.most_common():
        print(f"  {reason:20} {c:9d}")
    assert sum(counts.values()) == n
    return 0


if __name__ == "__main__":
    sys.exit(main())
