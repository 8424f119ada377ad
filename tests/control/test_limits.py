"""Control input at its edge (issue 10 items 5 and 7): NaN/Infinity refused before anything
applies them, deep nesting refused without a RecursionError, the connection kept."""

from __future__ import annotations

import json
import logging

import pytest

from lvstui.control import protocol, strict_json
from lvstui.control.protocol import ProtocolError
from lvstui.control.server import ControlServer
from lvstui.model import Drain
from tests.control.fakes import RS1, SVC, FakeEngine
from tests.control.test_server import audit_lines, raw_exchange, served, sockdir

__all__ = ["served", "sockdir"]  # the fixtures, shared with test_server

DRAIN = '{"v":1,"type":"call","id":%d,"command":{"kind":"drain","service":%s,"real":%s,%s}}\n'


def drain_line(id_: int, extra: str) -> bytes:
    svc = json.dumps(protocol.encode(SVC))
    real = json.dumps(protocol.encode(RS1))
    return (DRAIN % (id_, svc, real, extra)).encode()


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_non_finite_numbers_are_refused(value: str) -> None:
    with pytest.raises(strict_json.StrictJSONError, match="finite numbers only"):
        strict_json.loads(f'{{"timeout": {value}}}')
    with pytest.raises(ProtocolError) as exc:
        protocol.parse_line(drain_line(1, f'"timeout":{value}'))
    assert exc.value.code == "bad_json"


def test_nesting_is_bounded_without_recursion() -> None:
    ok = "[" * strict_json.MAX_DEPTH + "]" * strict_json.MAX_DEPTH
    assert strict_json.loads(ok) is not None
    deep = "[" * (strict_json.MAX_DEPTH + 1) + "]" * (strict_json.MAX_DEPTH + 1)
    with pytest.raises(strict_json.StrictJSONError, match="nested deeper than 32"):
        strict_json.loads(deep)
    # brackets inside strings (escaped quotes too) are text, not nesting
    assert strict_json.loads(json.dumps({"a": "[" * 100 + '\\"{' * 50})) is not None
    # far beyond the interpreter's recursion limit: still a clean refusal
    with pytest.raises(ProtocolError, match="nested deeper"):
        protocol.parse_line(b"[" * 60_000)


def test_big_integers_are_refused_as_floats() -> None:
    data = {"kind": "drain", "service": protocol.encode(SVC), "real": protocol.encode(RS1)}
    with pytest.raises(ProtocolError, match="finite number"):
        protocol.decode_command({**data, "timeout": 10**400})
    assert protocol.decode_command({**data, "timeout": 5}) == Drain(SVC, RS1, 5.0)


async def test_server_refuses_non_finite_and_deep_lines_and_keeps_the_connection(
    served: tuple[ControlServer, FakeEngine], caplog: pytest.LogCaptureFixture
) -> None:
    server, engine = served
    caplog.set_level(logging.DEBUG)
    replies = await raw_exchange(
        server.path,
        [
            drain_line(1, '"timeout":NaN'),
            drain_line(2, '"timeout":1e999'),
            b'{"v":1,"type":"call","id":3,"command":' + b"[" * 50_000 + b"\n",
            drain_line(4, '"timeout":null'),
        ],
    )
    assert [(r["type"], r.get("code")) for r in replies[:3]] == [("error", "bad_json")] * 3
    assert "NaN is not a number JSON allows" in str(replies[0]["error"])
    assert "nested deeper than 32 levels" in str(replies[2]["error"])
    # the same connection still works, and only the valid drain was applied and audited
    assert replies[3]["type"] == "result" and replies[3]["id"] == 4
    assert [call for _, call in engine.calls] == [Drain(SVC, RS1, None)]
    assert [line["result"] for line in audit_lines(server)] == [
        {"ok": True, "message": "drain done"}
    ]
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert tracebacks == [], [r.getMessage() for r in tracebacks]
