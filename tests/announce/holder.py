"""A process that owns a KernelTableAnnouncer (or, with a fourth argument `address`, a
TunAddressAnnouncer) and obeys lines on stdin (`announce VIP`,
`graceful VIP`, `withdraw VIP`, `withdraw_all`, `close`), answering each with the announced
set. The root tests run it inside their namespace, so the tun device is created there, and
kill it with -9 to see the routes go with it."""

from __future__ import annotations

import subprocess
import sys

from lvstui.announce.kernel_table import KernelTableAnnouncer, TableSpec
from lvstui.announce.tun_address import TunAddressAnnouncer


def main() -> None:
    table, protocol, device = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    address = sys.argv[4:] == ["address"]
    spec = TableSpec(table, protocol, device)
    a = TunAddressAnnouncer(spec) if address else KernelTableAnnouncer(spec)
    a.start()
    print("ready", flush=True)
    for line in sys.stdin:
        verb, _, arg = line.strip().partition(" ")
        if verb == "announce":
            a.announce(arg)
        elif verb == "graceful":  # announce less preferred (director drain)
            a.announce(arg, graceful=True)
        elif verb == "withdraw":
            a.withdraw(arg)
        elif verb == "withdraw_all":
            a.withdraw_all()
        elif verb == "spawn":
            # a child like a notify script: close_fds=False, so only O_CLOEXEC keeps the tun
            # descriptor out of it
            child = subprocess.Popen(["sleep", arg], close_fds=False)
            print(child.pid, flush=True)
            continue
        elif verb == "close":
            a.close()
            print("closed", flush=True)
            return
        print(" ".join(sorted(a.announced())), flush=True)


if __name__ == "__main__":
    main()
