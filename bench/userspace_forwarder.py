"""Run lvstui's userspace forwarder alone: one TCP service on loopback → one real server.

    python bench/userspace_forwarder.py LISTEN_PORT REAL_PORT [scheduler]

Prints "ready" once listening; runs until SIGTERM/SIGINT. Used by proxy_vs_haproxy.sh.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from lvstui.config.schema import Protocol
from lvstui.dataplane.base import DesiredDest, DesiredService
from lvstui.dataplane.reconcile import reconcile
from lvstui.dataplane.userspace import new_event_loop
from lvstui.dataplane.userspace.forwarder import UserspaceDataplane
from lvstui.model import RealKey, ServiceKey


async def main(listen: int, real: int, sched: str) -> None:
    dp = UserspaceDataplane()
    await dp.start()
    key = ServiceKey(Protocol.TCP, "127.0.0.1", listen)
    want = DesiredService(key, sched, dests=(DesiredDest(RealKey("127.0.0.1", real), 1),))
    await dp.apply(reconcile([want], []))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    kind = type(loop).__module__.split(".")[0]
    print(f"ready splice={dp.splice} loop={kind}", flush=True)
    await stop.wait()
    await dp.close()


if __name__ == "__main__":
    sched = sys.argv[3] if len(sys.argv) > 3 else "wlc"
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main(int(sys.argv[1]), int(sys.argv[2]), sched))
