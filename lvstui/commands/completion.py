"""`lvstui completion bash|zsh`: a completion script generated from the argument parser.

    source <(lvstui completion bash)          # or save it to
    lvstui completion bash > /etc/bash_completion.d/lvstui
    lvstui completion zsh > "${fpath[1]}/_lvstui"

shtab writes the script from `lvstui.cli.build_parser()` (sub-commands, options, choices), so
it never falls behind the parser. The words after `lvstui ctl VERB` (services, then real
servers) come from the running daemon: the script calls the hidden `lvstui __complete ctl
WORDS...`, which reads one snapshot over the control socket and prints one candidate a line
(nothing when no daemon answers: completion must never print an error into the prompt).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
from collections.abc import Sequence

from lvstui.model import ServiceKey, Snapshot

__all__ = ["HELPER", "add_arguments", "candidates", "helper_main", "run", "service_word"]

HELPER = "__complete"  # argv[1] of the hidden helper; not a sub-command in --help

SHELLS = ("bash", "zsh")

# The bash completer gets the line typed so far (COMP_LINE, not COMP_WORDS: bash splits words
# at ':', which every VIP:PORT has), asks the helper, and returns what follows the last ':'
# of the word, because bash replaces only the part after it.
_BASH_PREAMBLE = r"""
_lvstui_ctl_targets() {
  local line="${COMP_LINE:0:COMP_POINT}"
  local -a words
  read -r -a words <<< "$line"
  [[ "$line" == *" " ]] && words+=("")
  local cur="${words[${#words[@]}-1]}"
  local item
  while IFS= read -r item; do
    [[ "$item" == "$cur"* ]] || continue
    if [[ "$cur" == *:* && "$COMP_WORDBREAKS" == *:* ]]; then
      echo "${item#"${cur%"${cur##*:}"}"}"
    else
      echo "$item"
    fi
  done < <(lvstui __complete ctl "${words[@]:2}" 2>/dev/null)
}
"""

# The zsh completer reads the line typed so far too ($LBUFFER, split as the shell would): by
# the time it runs, _arguments has narrowed $words to the sub-command's own words. It asks
# the helper with the words after `ctl`; an empty answer offers nothing (not an empty match).
_ZSH_PREAMBLE = r"""
_lvstui_ctl_targets() {
  local -a line items
  line=(${(z)LBUFFER})
  [[ $LBUFFER == *[[:space:]] ]] && line+=('')
  local at=${line[(i)ctl]}
  items=(${(f)"$(lvstui __complete ctl "${(@)line[at+1,-1]}" 2>/dev/null)"})
  (( ${#items} )) && compadd -- "${items[@]}"
}
"""

_SERVICE_OPTIONS = {
    "-t": "TCP",
    "--tcp-service": "TCP",
    "-u": "UDP",
    "--udp-service": "UDP",
    "--sctp-service": "SCTP",
    "--fwmark-service": "FWM",
}
_REAL_OPTIONS = ("-r", "--real-server")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to write the script for")


def service_word(key: ServiceKey) -> str:
    """How `lvstui ctl` reads the service back in one word (no space to quote)."""
    if key.fwmark:
        return f"fwm:{key.fwmark}"
    if key.protocol.value == "TCP":
        return key.hostport
    return f"{key.protocol.value.lower()}:{key.hostport}"


def candidates(snap: Snapshot, words: Sequence[str]) -> list[str]:
    """What may be typed as the last of `words` (the words after `ctl`: the verb, options,
    targets, the word being completed). Services first, then that service's real servers."""
    *before, _current = words or [""]
    if not before or before[0] not in ("drain", "undrain", "weight", "add", "remove"):
        return []
    services = {service_word(s.key): s for s in snap.services}
    prev = before[-1]
    if prev in _SERVICE_OPTIONS:
        kind = _SERVICE_OPTIONS[prev]
        return [
            s.key.hostport if kind != "FWM" else str(s.key.fwmark)
            for s in snap.services
            if (s.key.fwmark and kind == "FWM")
            or (not s.key.fwmark and s.key.protocol.value == kind)
        ]
    chosen: ServiceKey | None = None
    positional: list[str] = []
    i = 1
    while i < len(before):
        w = before[i]
        if w in _SERVICE_OPTIONS and i + 1 < len(before):
            with contextlib.suppress(ValueError):
                text = before[i + 1]
                kind = _SERVICE_OPTIONS[w]
                chosen = ServiceKey.parse(f"FWM {text}" if kind == "FWM" else f"{kind} {text}")
            i += 2
            continue
        if w.startswith("-"):
            i += 1 + (w in (*_REAL_OPTIONS, "--socket", "--timeout", "--wait-timeout"))
            continue
        positional.append(w)
        i += 1
    if chosen is None and positional:
        with contextlib.suppress(ValueError):
            chosen = ServiceKey.parse(positional.pop(0))
    wants_real = prev in _REAL_OPTIONS or (chosen is not None and not positional)
    if chosen is None:
        return [] if prev in _REAL_OPTIONS else sorted(services)
    if not wants_real:
        return []
    for s in snap.services:
        if s.key == chosen:
            return [str(r.key) for r in s.real_servers]
    return []


def helper_main(argv: Sequence[str]) -> int:
    """`lvstui __complete ctl WORDS...`: print the candidates, one a line; silent on errors."""
    if not argv or argv[0] != "ctl":
        return 0
    words = list(argv[1:])
    socket = None
    for i, w in enumerate(words[:-1]):
        if w == "--socket":
            socket = words[i + 1]
    from lvstui.commands._client import resolve_socket
    from lvstui.control.client import SocketClient

    async def fetch() -> Snapshot:
        client = SocketClient(resolve_socket(socket), timeout=2.0)
        try:
            await client.connect()
            return await client.snapshot()
        finally:
            await client.close()

    try:
        snap = asyncio.run(asyncio.wait_for(fetch(), 3.0))
    except Exception:  # no daemon, no permission: nothing to offer, and no noise
        return 0
    for word in candidates(snap, words):
        sys.stdout.write(word + "\n")
    return 0


def _mark_dynamic(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Give `ctl`'s service and real-server arguments the daemon-backed completer; returns
    the options among them (the positionals are left out)."""
    spec = {"bash": "_lvstui_ctl_targets", "zsh": "_lvstui_ctl_targets"}
    marked: list[argparse.Action] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                if name == "ctl":
                    for verb in child._actions:
                        if isinstance(verb, argparse._SubParsersAction):
                            for p in verb.choices.values():
                                for a in p._actions:
                                    if a.dest in ("targets", "real_server") or (
                                        a.dest.endswith("_service")
                                    ):
                                        a.complete = spec
                                        if a.option_strings:
                                            marked.append(a)
    return marked


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    import shtab

    for action in _mark_dynamic(parser):
        if shell == "zsh" and isinstance(action.metavar, str):
            # _arguments splits an option's spec at ':' (message:action): VIP:PORT must
            # reach it as VIP\:PORT, or the completer is lost (shtab escapes positionals only)
            action.metavar = action.metavar.replace(":", "\\:")
    preamble = {"bash": _BASH_PREAMBLE, "zsh": _ZSH_PREAMBLE}
    text = str(shtab.complete(parser, shell=shell, preamble=preamble[shell]))
    if shell == "zsh":
        # shtab writes a nargs="*" positional as "(*)::…", one optional argument: zsh then
        # offers options, not real servers, after the service. "*:…" is every argument.
        text = _ZSH_TARGETS.sub(r'"*:\1"', text)
    return text


_ZSH_TARGETS = re.compile(r'"\(\*\)::([^"]*:_lvstui_ctl_targets)"')


def run(args: argparse.Namespace) -> int:
    # the whole parser, handed over by lvstui.cli (importing it here would be a cycle)
    sys.stdout.write(script(args._parser, args.shell))
    return 0
