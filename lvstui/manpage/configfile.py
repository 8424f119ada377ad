"""lvstui.toml(5), read from the configuration schema: every table and key with its type,
default and description (lvstui/config/reference.py), the old spellings the loader accepts,
and the console actions that [lvstui.keys] can remap."""

from __future__ import annotations

from lvstui import __version__
from lvstui.config.reference import KeyRef, TableRef, header, tables
from lvstui.config.schema import DEFAULT_CONFIG_PATH
from lvstui.config.table import ALIASES
from lvstui.manpage.roff import bold, escape, italic, paragraph, section, subsection, tagged, title
from lvstui.ui.bindings import ACTIONS, display_key

__all__ = ["toml_page"]

_DESCRIPTION = (
    "lvstui reads one TOML file, /etc/lvstui/config.toml unless -f FILE names another. Its "
    "keys are keepalived's directive names in lower case, so a keepalived.conf reads across "
    "line by line (lvstui import-keepalived converts one); where keepalived has a default, "
    "it is the default here too. lvstui check-config validates a file and lints it: every "
    "error names its file, line and key, with a hint.",
    "Commands (script, misc_path, notify*, quorum_up, quorum_down) are split into arguments "
    "like a shell would split them, and run without a shell. Times are seconds; a number "
    "may have a fraction where the description allows it.",
    "Below, each table with its keys: the type, the default when there is one, and what "
    "it does. [NAME] tables are named by the operator; [[...]] tables are arrays, repeated "
    "once per entry.",
)

_EXAMPLE = """\
[global_defs]
router_id = "lb1"

[vrrp_instance.VI_1]
interface = "eth0"
virtual_router_id = 51
priority = 150
virtual_ipaddress = ["192.168.10.9/24"]

[[virtual_server]]
ip = "192.168.10.9"
port = 80
lb_algo = "wrr"
lb_kind = "DR"

[[virtual_server.real_server]]
ip = "192.168.10.98"
port = 80
weight = 2
[[virtual_server.real_server.http_get]]
url = [{ path = "/health" }]
"""


def _tag(key: KeyRef) -> str:
    info = italic(key.type)
    if key.required:
        info += ", required"
    elif key.default is not None:
        info += ", default " + bold(key.default)
    return f"{bold(key.name)} ({info})"


def _table(t: TableRef) -> str:
    out = subsection(header(t.path)) + paragraph(t.about)
    out += "".join(tagged(_tag(k), k.description) for k in t.keys)
    if t.path == "lvstui.keys":
        out += paragraph("The actions, with their default keys:")
        out += "".join(
            tagged(f"{bold(a.action)} ({bold(display_key(a.key))})", a.description) for a in ACTIONS
        )
    return out


def toml_page() -> str:
    out = title("lvstui.toml", 5, f"lvstui {__version__}", "File Formats")
    out += section("name") + escape("lvstui.toml - lvstui configuration file") + "\n"
    out += section("synopsis") + paragraph(bold(DEFAULT_CONFIG_PATH))
    out += section("description") + "".join(paragraph(p) for p in _DESCRIPTION)
    out += section("tables") + "".join(_table(t) for t in tables())
    out += section("old spellings")
    out += paragraph("keepalived's older names are accepted for these keys:")
    out += "".join(tagged(bold(old), f"= {new}") for old, new in sorted(ALIASES.items()))
    out += section("example") + ".PP\n.nf\n.RS 4\n"
    out += "".join(escape(line) + "\n" for line in _EXAMPLE.splitlines())
    out += ".RE\n.fi\n"
    out += section("see also")
    out += (
        escape(
            "lvstui(8), keepalived.conf(5), ipvsadm(8); config.toml.example and the "
            "docs/ directory of the source."
        )
        + "\n"
    )
    return out
