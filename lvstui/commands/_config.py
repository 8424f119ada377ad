"""What the commands that read a config file share: its option, and its errors printed."""

from __future__ import annotations

import argparse
import sys

from lvstui.config.schema import DEFAULT_CONFIG_PATH
from lvstui.errors import ConfigError

__all__ = ["add_config_argument", "print_config_errors"]


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--config",
        dest="config",
        metavar="FILE",
        default=DEFAULT_CONFIG_PATH,
        help=f"config file (default {DEFAULT_CONFIG_PATH})",
    )


def print_config_errors(exc: ConfigError) -> int:
    """Print each error as `file:line: key: message`; returns how many."""
    from lvstui.config.load import ConfigErrors

    errors = exc.errors if isinstance(exc, ConfigErrors) else (exc,)
    for e in errors:
        print(str(e), file=sys.stderr)
    return len(errors)
