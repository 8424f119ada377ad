"""Man pages generated from the code: lvstui(8) from the argument parser (lvstui/cli.py),
lvstui.toml(5) from the configuration schema (lvstui/config/reference.py).

python -m lvstui.manpage --write    rewrite man/lvstui.8 and man/lvstui.toml.5
python -m lvstui.manpage --check    exit 1 if the checked-in pages are stale (CI)

    roff.py     escaping and the few man(7) macros the pages use
    commands.py lvstui(8)
    configfile.py lvstui.toml(5)
"""

from __future__ import annotations

from lvstui.manpage.commands import cli_page
from lvstui.manpage.configfile import toml_page

__all__ = ["PAGES", "cli_page", "toml_page"]

# file name under man/ -> its text
PAGES = {"lvstui.8": cli_page, "lvstui.toml.5": toml_page}
