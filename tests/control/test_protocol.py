"""The wire codec: every model type round-trips exactly; bad lines become ProtocolErrors."""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any, Union, get_args, get_origin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lvstui import model
from lvstui.control import protocol
from lvstui.control.protocol import ProtocolError, decode, encode

MODEL_TYPES = [
    obj
    for name in model.__all__
    if isinstance(obj := getattr(model, name), type)
    and (dataclasses.is_dataclass(obj) or issubclass(obj, enum.Enum))
]


_IPS = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)
_PORTS = st.integers(min_value=0, max_value=65535)
_WEIGHTS = st.integers(min_value=0, max_value=65535)
# Fields whose values the model validates (keys and operator weights must be valid).
FIELD_STRATEGIES: dict[tuple[type, str], st.SearchStrategy[Any]] = {
    (model.RealKey, "addr"): _IPS,
    (model.RealKey, "port"): _PORTS,
    (model.ServiceKey, "addr"): _IPS,
    (model.ServiceKey, "port"): _PORTS,
    (model.ServiceKey, "fwmark"): st.integers(min_value=0, max_value=2**32 - 1),
    (model.ServiceKey, "family"): st.sampled_from([4, 6]),
    (model.AddReal, "weight"): _WEIGHTS,
    (model.SetWeight, "weight"): st.none() | _WEIGHTS,
}


def strategy_for(tp: Any) -> st.SearchStrategy[Any]:
    """A hypothesis strategy for any type hint over the model's types (all fields filled)."""
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return st.one_of([strategy_for(a) for a in get_args(tp)])
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(strategy_for(args[0]), max_size=3).map(tuple)
        return st.tuples(*(strategy_for(a) for a in args))
    if origin is frozenset:
        return st.frozensets(strategy_for(get_args(tp)[0]), max_size=3)
    if tp is type(None):
        return st.none()
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(min_value=-(2**63), max_value=2**64)
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if tp is str:
        return st.text(max_size=20)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = {
            f.name: (
                FIELD_STRATEGIES[(tp, f.name)]
                if (tp, f.name) in FIELD_STRATEGIES
                else strategy_for(hints[f.name])
            )
            for f in dataclasses.fields(tp)
        }
        return st.fixed_dictionaries(fields).map(lambda kw: tp(**kw))
    raise AssertionError(f"no strategy for {tp!r}")


def test_every_model_type_is_covered() -> None:
    names = {t.__name__ for t in MODEL_TYPES}
    assert {"Snapshot", "ServiceView", "Drain", "HealthChanged", "CommandResult"} <= names


@pytest.mark.parametrize("tp", MODEL_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_round_trip_every_model_type(tp: type, data: st.DataObject) -> None:
    value = data.draw(strategy_for(tp))
    wire = json.dumps(encode(value), allow_nan=False)
    back = decode(tp, json.loads(wire))
    assert back == value
    assert type(back) is type(value)


@settings(max_examples=60, deadline=None)
@given(ev=strategy_for(model.Event))
def test_events_decode_by_kind(ev: model.Event) -> None:
    back = protocol.decode_event(json.loads(json.dumps(encode(ev))))
    assert back == ev and type(back) is type(ev)


@settings(max_examples=60, deadline=None)
@given(cmd=strategy_for(model.Command))
def test_commands_decode_by_kind(cmd: model.Command) -> None:
    back = protocol.decode_command(json.loads(json.dumps(encode(cmd))))
    assert back == cmd and type(back) is type(cmd)


def test_shared_kind_names_do_not_cross_registries() -> None:
    # "drain" is both an event (DrainProgress) and a command (Drain): the expected union decides.
    key = model.ServiceKey.parse("TCP 10.0.0.1:80")
    real = model.RealKey.parse("10.0.0.2:80")
    cmd = protocol.decode_command(encode(model.Drain(key, real, 5.0)))
    assert cmd == model.Drain(key, real, 5.0)
    with pytest.raises(ProtocolError):
        protocol.decode_event(encode(model.Drain(key, real, 5.0)))


def test_encoding_is_readable() -> None:
    key = model.ServiceKey.parse("udp 10.0.0.1:53")
    assert encode(key) == {
        "protocol": "UDP",
        "addr": "10.0.0.1",
        "port": 53,
        "fwmark": 0,
        "family": 4,
    }
    assert encode(model.Reload(dry_run=True)) == {"kind": "reload", "dry_run": True, "force": False}


@pytest.mark.parametrize(
    ("tp", "data", "where"),
    [
        (model.RealKey, {"addr": "1.2.3.4"}, "missing 'port'"),
        (model.RealKey, {"addr": "1.2.3.4", "port": "80"}, "$.port: expected an integer"),
        (model.RealKey, {"addr": "1.2.3.4", "port": True}, "$.port: expected an integer"),
        (model.RealKey, [1, 2], "expected an object"),
        (model.Health, "sideways", "one of"),
        (model.Command, {"kind": "explode"}, "unknown kind 'explode'"),
        (model.Command, "drain", "an object with a kind"),
        (model.Snapshot, {"seq": 1, "time": 0.0, "services": [{"key": 3}]}, "$.services[0]"),
    ],
)
def test_bad_values_name_the_path(tp: Any, data: Any, where: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        decode(tp, data)
    assert where in str(exc.value)


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    assert decode(model.RealKey, {"addr": "::1", "port": 1, "new": 2}) == model.RealKey("::1", 1)


def test_non_finite_floats_are_refused() -> None:
    with pytest.raises(ProtocolError):
        encode(model.LogEvent(float("nan"), "info", "x"))


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"{not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b"[1,2]", "bad_json"),
        (b'{"type":"hello"}', "version"),
        (b'{"v":2,"type":"hello"}', "version"),
        (b'{"v":1,"type":"launch"}', "bad_type"),
        (b'{"v":1,"type":"hello","id":"x"}', "bad_request"),
    ],
)
def test_parse_line_rejects(line: bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        protocol.parse_line(line)
    assert exc.value.code == code


@settings(deadline=None)  # no timing assertion: a loaded CI machine must not fail this
@given(st.binary(max_size=200))
def test_parse_line_never_crashes(line: bytes) -> None:
    try:
        obj = protocol.parse_line(line)
    except ProtocolError:
        return
    assert obj["v"] == 1


def test_message_is_one_line() -> None:
    line = protocol.message("event", None, event=encode(model.LogEvent(1.0, "info", "a\nb")))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    obj = protocol.parse_line(line, expect=protocol.RESPONSE_TYPES)
    assert protocol.decode_event(obj["event"]) == model.LogEvent(1.0, "info", "a\nb")


@pytest.mark.parametrize(
    ("tp", "data", "message"),
    [
        (model.RealKey, {"addr": "127.0.0.1", "port": 70000}, "out of range"),
        (model.RealKey, {"addr": "999.1.1.1", "port": 80}, "not an IP address"),
        (
            model.ServiceKey,
            {"protocol": "TCP", "addr": "example.org", "port": 80},
            "not an IP address",
        ),
        (
            model.AddReal,
            {
                "kind": "add",
                "service": {"protocol": "TCP", "addr": "127.0.0.1", "port": 80},
                "real": {"addr": "127.0.0.1", "port": 81},
                "weight": 70000,
            },
            "weight",
        ),
    ],
)
def test_invalid_keys_and_weights_are_refused_at_decode(
    tp: type, data: dict[str, Any], message: str
) -> None:
    # An invalid key must never reach the engine: it would be persisted as an override.
    with pytest.raises(ProtocolError, match=message):
        decode(tp, data)
