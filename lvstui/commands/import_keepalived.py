"""`lvstui import-keepalived FILE [-o OUT]`: convert a keepalived.conf to lvstui TOML.

The TOML goes to stdout (or OUT); directives lvstui does not support, and values it had to
change, are listed on stderr with their file and line, so nothing is dropped silently.
Exit status: 0 converted, 2 the file has errors (each printed as `file:line: ...`).
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="keepalived.conf to convert")
    parser.add_argument(
        "-o", "--output", metavar="OUT", help="write the TOML to OUT instead of stdout"
    )
    parser.add_argument(
        "-i",
        "--config-id",
        metavar="ID",
        help="keepalived's -i: keep the `@ID` lines of a file shared by several directors "
        "(default: the host name up to its first dot, like keepalived)",
    )


def run(args: argparse.Namespace) -> int:
    import os
    import tempfile
    from pathlib import Path

    import tomli_w

    from lvstui.config.dump import to_toml_dict
    from lvstui.config.keepalived import import_keepalived
    from lvstui.config.load import ConfigErrors
    from lvstui.errors import ConfigError

    try:
        result = import_keepalived(args.file, args.config_id)
    except ConfigError as exc:
        errors = exc.errors if isinstance(exc, ConfigErrors) else (exc,)
        for e in errors:
            print(str(e), file=sys.stderr)
        return 2
    header = (
        f"# lvstui configuration imported from {args.file} by `lvstui import-keepalived`.\n"
        "# Keys follow keepalived's directive names; defaults are left out.\n"
        "# Check it with `lvstui check-config -f FILE`; see config.toml.example for every key.\n"
    )
    if result.notes:
        header += (
            f"# {len(result.notes)} note(s) on directives left out or changed: see the "
            "importer's stderr.\n"
        )
    text = header + "\n" + tomli_w.dumps(to_toml_dict(result.config))
    for note in result.notes:
        print(f"{note}", file=sys.stderr)
    if args.output:
        out = Path(args.output)
        # write-then-rename: a failed import never leaves half a config behind
        fd, tmp = tempfile.mkstemp(dir=out.parent or ".", prefix=f".{out.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, out)
    else:
        sys.stdout.write(text)
    return 0
