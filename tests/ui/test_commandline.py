from __future__ import annotations

import pytest

from lvstui.config.schema import LbKind, Protocol
from lvstui.errors import CommandError
from lvstui.model import AddReal, Drain, RealKey, Reload, RemoveReal, ServiceKey, SetWeight, Undrain
from lvstui.ui.commandline import UiCommand, parse_command, parse_weight

SVC = ServiceKey(Protocol.TCP, "1.2.3.4", 80)
REAL = RealKey("10.0.0.1", 80)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("drain TCP 1.2.3.4:80 10.0.0.1:80", Drain(SVC, REAL)),
        ("drain 1.2.3.4:80 10.0.0.1:80 30", Drain(SVC, REAL, 30.0)),
        ("undrain tcp 1.2.3.4:80 10.0.0.1:80", Undrain(SVC, REAL)),
        ("weight TCP 1.2.3.4:80 10.0.0.1:80 7", SetWeight(SVC, REAL, 7)),
        ("weight 1.2.3.4:80 10.0.0.1:80 reset", SetWeight(SVC, REAL, None)),
        ("add TCP 1.2.3.4:80 10.0.0.1:80", AddReal(SVC, REAL, 1)),
        ("add TCP 1.2.3.4:80 10.0.0.1:80 4 dr", AddReal(SVC, REAL, 4, LbKind.DR)),
        ("remove TCP 1.2.3.4:80 10.0.0.1:80", RemoveReal(SVC, REAL)),
        ("rm 1.2.3.4:80 10.0.0.1:80", RemoveReal(SVC, REAL)),
        ("reload", Reload()),
        ("reload --dry-run", Reload(dry_run=True)),
        ("theme light", UiCommand("theme", "light")),
        ("filter api", UiCommand("filter", "api")),
        ("help", UiCommand("help")),
        ("q", UiCommand("quit")),
        (
            "drain UDP [2001:db8::1]:53 [2001:db8::2]:53",
            Drain(
                ServiceKey(Protocol.UDP, "2001:db8::1", 53, family=6), RealKey("2001:db8::2", 53)
            ),
        ),
        ("drain FWM 3 10.0.0.1:80", Drain(ServiceKey(Protocol.TCP, "", 0, fwmark=3), REAL)),
    ],
)
def test_parse(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("frobnicate", "unknown command"),
        ("drain", "missing SERVICE"),
        ("drain TCP 1.2.3.4:80", "missing REAL"),
        ("drain TCP 1.2.3.4:99999 10.0.0.1:80", "bad service"),
        ("drain TCP 1.2.3.4:80 nothost:80", "bad real server"),
        ("weight TCP 1.2.3.4:80 10.0.0.1:80", "missing N"),
        ("weight TCP 1.2.3.4:80 10.0.0.1:80 70000", "out of range"),
        ("weight TCP 1.2.3.4:80 10.0.0.1:80 -1", "out of range"),
        ("weight TCP 1.2.3.4:80 10.0.0.1:80 x", "whole number"),
        ("undrain TCP 1.2.3.4:80 10.0.0.1:80 extra", "unexpected"),
        ("reload now", "unexpected"),
    ],
)
def test_parse_errors(text: str, needle: str) -> None:
    with pytest.raises(CommandError, match=needle):
        parse_command(text)


def test_parse_weight_bounds() -> None:
    assert parse_weight("0") == 0
    assert parse_weight(" 65535 ") == 65535
    with pytest.raises(CommandError):
        parse_weight("65536")
