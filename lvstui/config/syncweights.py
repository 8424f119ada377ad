"""keepalived's rule for tracking weights inside a vrrp_sync_group: the members change state
together, so a priority that moves on one member only would split the group. Unless the
group sets `sync_group_tracking_weight`, keepalived (vrrp.c, vrrp_complete_instance) makes
every weighted `track_interface` of a member unweighted (down is FAULT, which the group
shares) and stops tracking every weighted `track_script` ("ignoring tracked script ... with
weights due to SYNC group") and every weighted `track_file` alike. lvstui runs the same rule
(`as_run`), and check-config names each weight it drops (`ignored_weights`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from lvstui.config.schema import Config, TrackFile, TrackWeight, VrrpInstance, VrrpScript

__all__ = ["as_run", "ignored_weights"]

_Def = VrrpScript | TrackFile


def _weight(overrides: tuple[TrackWeight, ...], defs: Sequence[_Def], name: str) -> int:
    """The weight an instance gives a tracked script or file: its own entry's, else the
    definition's."""
    for w in overrides:
        if w.name == name:
            return w.weight
    for d in defs:
        if d.name == name:
            return d.weight
    return 0


def _script_weight(config: Config, inst: VrrpInstance, name: str) -> int:
    return _weight(inst.track_script_weight, config.vrrp_scripts, name)


def _file_weight(config: Config, inst: VrrpInstance, name: str) -> int:
    return _weight(inst.track_file_weight, config.track_files, name)


def _ruled(config: Config) -> dict[str, str]:
    """Member instance -> its sync group, for the groups whose members lose their weights."""
    return {
        m: g.name
        for g in config.vrrp_sync_groups
        if not g.sync_group_tracking_weight
        for m in g.group
    }


def ignored_weights(config: Config) -> list[tuple[str, str, str, str]]:
    """(instance, "track_interface" | "track_script" | "track_file", tracked name, sync group)
    for each weight keepalived ignores."""
    ruled = _ruled(config)
    out = []
    for inst in config.vrrp_instances:
        group = ruled.get(inst.name)
        if group is None:
            continue
        for w in inst.track_interface_weight:
            if w.weight and w.name != inst.interface:
                out.append((inst.name, "track_interface", w.name, group))
        for name in inst.track_script:
            if _script_weight(config, inst, name):
                out.append((inst.name, "track_script", name, group))
        for name in inst.track_file:
            if _file_weight(config, inst, name):
                out.append((inst.name, "track_file", name, group))
    return out


def as_run(config: Config) -> Config:
    """The config with keepalived's sync group rule applied to its instances."""
    ruled = _ruled(config)
    out = []
    for inst in config.vrrp_instances:
        if inst.name not in ruled:
            out.append(inst)
            continue
        links = tuple(TrackWeight(w.name, 0, w.reverse) for w in inst.track_interface_weight)
        scripts = tuple(n for n in inst.track_script if not _script_weight(config, inst, n))
        files = tuple(n for n in inst.track_file if not _file_weight(config, inst, n))
        out.append(
            dataclasses.replace(
                inst,
                track_interface_weight=links,
                track_script=scripts,
                track_script_weight=tuple(w for w in inst.track_script_weight if w.name in scripts),
                track_file=files,
                track_file_weight=tuple(w for w in inst.track_file_weight if w.name in files),
            )
        )
    return dataclasses.replace(config, vrrp_instances=tuple(out))
