"""Hostile control-socket input (issue 10 items 5 and 7) while traffic flows through the VIP:
each line gets an error reply, nothing is applied, no traceback is logged, descriptors come
back, and no request fails."""

from __future__ import annotations

import json
import socket

from tests.faults.harness import FaultLab, eventually, raw_control


def drain(id_: int, port: int, real: int, extra: str) -> bytes:
    service = {"protocol": "TCP", "addr": "127.0.0.1", "port": port}
    command = json.dumps(
        {"kind": "drain", "service": service, "real": {"addr": "127.0.0.1", "port": real}}
    )
    return f'{{"v":1,"type":"call","id":{id_},"command":{command[:-1]}{extra}}}}}\n'.encode()


def test_hostile_control_lines_under_traffic() -> None:
    with FaultLab("control") as lab:
        lab.wait_serving()
        rs0 = lab.servers.port("rs0")
        before = lab.stats()
        with lab.traffic() as t:
            replies = raw_control(
                lab.socket,
                [
                    drain(1, lab.vip_port, rs0, ',"timeout":NaN'),
                    drain(2, lab.vip_port, rs0, ',"timeout":1e999'),
                    b'{"v":1,"type":"call","id":3,"command":' + b"[" * 60_000 + b"\n",
                    b'{"v":1,"type":"hello","id":4}\n',
                ],
            )
            overlong = raw_control(lab.socket, [b"x" * (100 * 1024) + b"\n", b"{}\n"])
            # 300 connections opened and dropped without a word
            for _ in range(300):
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(str(lab.socket))
            t.wait_requests(100)
        after_burst = lab.stats()
        errors = [json.loads(r) for r in replies[:3]]
        assert [(e["type"], e["code"]) for e in errors] == [("error", "bad_json")] * 3
        assert json.loads(replies[3])["type"] == "hello"  # the same connection still serves
        # refused, then closed (the reply may be lost to the reset of the unread rest)
        assert overlong[-1] == b"" and (
            overlong[0] == b"" or json.loads(overlong[0])["code"] == "too_long"
        )
        # nothing was drained: both real servers keep answering new requests
        with lab.traffic() as t2:
            t2.wait_requests(40)
        assert set(t2.answered_by) == set(lab.names), t2.answered_by
        # the dropped connections' descriptors come back
        eventually(lambda: lab.stats().fds <= before.fds + 2)
        lab.report("hostile control lines and 300 dropped connections", t, before, after_burst)
        assert t.failed == 0 and t2.failed == 0, (t.errors, t2.errors)
        log = lab.log()
        assert "Traceback" not in log and "RecursionError" not in log
        assert lab.daemon.stop() == 0
