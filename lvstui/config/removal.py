"""A reload that would take most of the site away needs to be asked for by name.

An empty or truncated config.toml is a valid file: without this guard a SIGHUP after an
editor crash (or a bad deployment) removed every service without a word (issue 10, item 6).
Now a reload that removes every service, or more than `[lvstui] reload_max_removal` of them
(a share, 0.5 by default), is refused unless forced (`lvstui ctl reload --force`); SIGHUP
never forces, so it refuses and logs.
"""

from __future__ import annotations

from lvstui.config.schema import Config
from lvstui.config.state import service_key_of
from lvstui.errors import ConfigError

__all__ = ["removal_guard"]


def removal_guard(old: Config, new: Config) -> None:
    """ConfigError when going from `old` to `new` removes too many services. The share is
    the new file's (a file that raises it to 1.0 says so itself); every service is always
    too many."""
    before = {service_key_of(vs) for vs in old.virtual_servers}
    if not before:
        return
    after = {service_key_of(vs) for vs in new.virtual_servers}
    gone = before - after
    share = new.lvstui.reload_max_removal
    if not gone:
        return
    if gone == before:
        why = f"it removes every service ({len(before)})"
    elif len(gone) / len(before) > share:
        why = (
            f"it removes {len(gone)} of {len(before)} services, more than "
            f"reload_max_removal = {share:g}"
        )
    else:
        return
    names = ", ".join(sorted(str(k) for k in gone)[:5]) + (" …" if len(gone) > 5 else "")
    raise ConfigError(
        f"{why}: {names}; not applied",
        file=new.path,
        hint="if that is what you want: `lvstui ctl reload --force` (SIGHUP never forces)",
    )
