"""`lvstui group`: the director group.

lvstui group keygen > /etc/lvstui/group.pem    the credential every member holds (mode 600)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="group_command", metavar="ACTION", required=True)
    sub.add_parser(
        "keygen",
        help="write a new group credential (certificate + key, PEM) to standard output",
        description="Write a new group credential to standard output: copy it to every "
        "director of the group and name it in [lvstui.group] key_file. Holding it is "
        "membership: keep it mode 600.",
    )


def run(args: argparse.Namespace) -> int:
    from lvstui.group.keys import generate

    if args.group_command == "keygen":
        pem = generate()
        if sys.stdout.isatty():
            print(
                "lvstui group keygen: writing a private key to the terminal; "
                "redirect it to a file: lvstui group keygen > group.pem",
                file=sys.stderr,
            )
        else:
            # the redirect created the file with the umask's mode: a key must be private
            with contextlib.suppress(OSError, ValueError):  # not a file (a pipe, a StringIO)
                os.fchmod(sys.stdout.fileno(), 0o600)
        sys.stdout.write(pem)
        sys.stdout.flush()
        return 0
    return 2
