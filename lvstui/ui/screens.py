"""Screens: the live main screen, the drill-down, the help."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from lvstui.model import (
    Command,
    Drain,
    DrainState,
    RealServerView,
    RemoveReal,
    SetWeight,
    Snapshot,
    Undrain,
)
from lvstui.ui import render
from lvstui.ui.announcepane import AnnouncePanel
from lvstui.ui.bgpdrain import ask_director_drain, offered_key
from lvstui.ui.bindings import bindings_for, display_key, footer_hidden, resolve_keys
from lvstui.ui.commandline import UiCommand
from lvstui.ui.completion import prefill
from lvstui.ui.dialogs import AddDialog, CommandDialog, ConfirmDialog, WeightDialog
from lvstui.ui.footer import SteadyFooter
from lvstui.ui.groupscreen import GroupScreen, GroupStrip
from lvstui.ui.groupview import Scope, action_scope, group_header
from lvstui.ui.header import DirectorHeader
from lvstui.ui.heights import fit_height
from lvstui.ui.help import HelpScreen, push_help
from lvstui.ui.history import SeriesStore
from lvstui.ui.impact import weight_impact
from lvstui.ui.logview import EventPanel, LogScreen
from lvstui.ui.themes import load_themes
from lvstui.ui.widgets import (
    Chart,
    ChartRow,
    QuorumPanel,
    RowTarget,
    ServiceTable,
    VrrpTable,
    find_views,
    palette_for,
)

__all__ = [
    "ActionScreen",
    "DetailScreen",
    "HelpScreen",
    "MainScreen",
    "find_views",
]


def _lead(*paragraphs: str) -> str:
    """The warnings that come before a dialog's explanation, a blank line after each."""
    return "".join(f"{p}\n\n" for p in paragraphs if p)


class ActionScreen(Screen[None]):
    """Drain, undrain, weight and remove on one real server: the main screen's row under the
    cursor, or the drill-down's server. Same dialogs, same read-only rule (the app refuses).

    A screen knows nothing of the app: it is given its keys, the read-only flag, the series
    store and each snapshot, and it posts what the operator chose as a message (below) that
    the app acts on. So the app imports the screens and never the other way round.
    """

    class CommandChosen(Message):
        """The operator chose (and where asked, confirmed) a command for the engine."""

        def __init__(self, command: Command) -> None:
            super().__init__()
            self.command = command

    def __init__(
        self,
        keys: Mapping[str, str],
        read_only: bool,
        series: SeriesStore,
        snapshot: Snapshot | None = None,
    ) -> None:
        super().__init__()
        self.keys = keys
        self.read_only = read_only
        self.series = series
        self.snapshot = snapshot  # the latest one shown: dialogs read current values from it

    def _target(self, need_real: bool) -> RowTarget | None:
        raise NotImplementedError

    def _pool_target(self) -> RowTarget | None:
        """The real server to act on; None (and why) on the sorry server's row, which is
        not in the pool: drain, weight and remove do not apply to it."""
        t = self._target(need_real=True)
        rs = find_views(self.snapshot, t)[1] if t is not None else None
        if rs is not None and rs.is_sorry:
            self.notify(
                "the sorry server is not in the pool: drain, weight and remove don't apply",
                severity="warning",
            )
            return None
        return t

    @property
    def _scope(self) -> Scope:
        """Who an action reaches: with a director group, every director (said in the
        dialogs' titles; the unreachable ones get it later, shown as pending)."""
        return action_scope(self.snapshot.group if self.snapshot is not None else None)

    def choose(self, command: Command) -> None:
        self.post_message(self.CommandChosen(command))

    def action_help(self) -> None:
        push_help(self.app, self.keys, self.read_only)

    def action_drain(self) -> None:
        t = self._pool_target()
        if t is None or t.real is None:
            return
        cmd = Drain(t.service, t.real)
        warn = _lead(weight_impact(find_views(self.snapshot, t)[0], t.real, 0), self._scope.note())
        self.app.push_screen(
            ConfirmDialog(
                f"Drain {t.real} from {t.service}{self._scope.title()}?",
                warn + "Its weight drops to 0: new connections go to the other servers, open ones "
                "finish. Its row and the event log follow the connections down until it "
                'says "safe": then the server can be stopped.',
                "Drain",
            ),
            lambda ok: self.choose(cmd) if ok else None,
        )

    def action_undrain(self) -> None:
        t = self._pool_target()
        if t is not None and t.real is not None:
            self.choose(Undrain(t.service, t.real))

    def action_weight(self) -> None:
        t = self._pool_target()
        if t is None or t.real is None:
            return
        sv, rs = find_views(self.snapshot, t)
        service, real = t.service, t.real

        def impact(weight: int | None) -> str:
            new = weight if weight is not None else rs.weight_config if rs else 0
            return weight_impact(sv, real, new)

        def done(value: int | str | None) -> None:
            if value is None:
                return
            self.choose(SetWeight(service, real, None if value == "reset" else int(value)))

        self.app.push_screen(
            WeightDialog(service, real, rs.weight if rs else 0, impact, self._scope), done
        )

    def action_remove(self) -> None:
        t = self._pool_target()
        if t is None or t.real is None:
            return
        cmd = RemoveReal(t.service, t.real)
        warn = _lead(weight_impact(find_views(self.snapshot, t)[0], t.real, 0), self._scope.note())
        self.app.push_screen(
            ConfirmDialog(
                f"Remove {t.real} from {t.service}{self._scope.title()}?",
                warn + "The server leaves the table now and its connections are cut. "
                "Drain it first to let them finish. It comes back with the next reload "
                "if config.toml still lists it.",
                "Remove",
            ),
            lambda ok: self.choose(cmd) if ok else None,
        )


class MainScreen(ActionScreen):
    """Status line, banner, filter, the services table, VRRP + quorum panels, event log."""

    class ReloadRequested(Message):
        """`r` or `:reload`: the app runs the dry run, shows the difference, asks."""

    class ThemeRequested(Message):
        """`:theme NAME` (name) or `t` (None: the next theme)."""

        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    class QuitRequested(Message):
        """`q` or `:quit`: the app decides (an embedded director asks what to do with it)."""

    def __init__(
        self,
        keys: Mapping[str, str],
        read_only: bool,
        series: SeriesStore | None = None,
        source: str = "",
    ) -> None:
        super().__init__(keys, read_only, SeriesStore() if series is None else series)
        self.source = source  # where the data comes from (the client's description)
        self._all_bindings = bindings_for(keys, read_only)
        self._footer_hidden: set[str] = set()
        self._bindings = BindingsMap(self._all_bindings)

    def compose(self) -> ComposeResult:
        yield Static("lvstui", id="status")
        yield Static("", id="banner")
        yield DirectorHeader(id="director")
        yield GroupStrip("", id="group-strip")
        yield Input(
            placeholder="filter: address, name or scheduler (enter: keep, esc: clear)", id="filter"
        )
        yield ServiceTable(id="services")
        with Horizontal(id="bottom"):
            yield VrrpTable(id="vrrp")
            yield QuorumPanel(id="quorum")
            yield AnnouncePanel(offered_key(self.keys, self.read_only), id="announce")
        yield EventPanel(id="events")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#banner", Static).display = False
        self.query_one(GroupStrip).display = False  # shown when the director is in a group
        self.query_one(ServiceTable).focus()
        self.query_one("#quorum").border_title = "Quorum"
        self.query_one(EventPanel).set_log_key(self.keys["log"])
        self.apply_theme()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.apply_theme())

    def apply_theme(self) -> None:
        """Cells take the theme's success/warning/error colours (see widgets.palette_for)."""
        palette = palette_for(self.app.current_theme)
        self.query_one(ServiceTable).set_palette(palette)
        self.query_one(VrrpTable).set_palette(palette)
        self.query_one(EventPanel).set_palette(palette)
        if self.snapshot is not None:
            self.query_one(VrrpTable).show(self.snapshot)

    def on_resize(self) -> None:
        fit_height(self, self.size.height)
        self._fit_footer(self.size.width)

    def _fit_footer(self, width: int) -> None:
        """At 80 columns the roomy footer cut off Theme and Quit: go compact, and if even
        that is too wide leave out the least needed keys (`?` lists them all)."""
        self.query_one(SteadyFooter).compact = width < 110
        hidden = footer_hidden(self._all_bindings, width)
        if hidden != self._footer_hidden:
            self._footer_hidden = hidden
            self._bindings = BindingsMap(
                [replace(b, show=False) if b.action in hidden else b for b in self._all_bindings]
            )
            self.refresh_bindings()

    # --- data ----------------------------------------------------------------------------

    def show_snapshot(self, snap: Snapshot) -> None:
        self.snapshot = snap
        table = self.query_one(ServiceTable)
        table.show(snap)
        self.query_one(VrrpTable).show(snap)
        self.query_one(QuorumPanel).show(snap.services)
        self.query_one(AnnouncePanel).show(snap)
        self.query_one(GroupStrip).show(snap)
        self.query_one(DirectorHeader).show(snap, self.series)
        reals = render.count(table.total_servers, "server")
        if table.filter_text:  # what the filter keeps, out of all
            reals = (
                f"{table.shown_servers} of {reals} match /{table.filter_text}"
                if table.row_count
                else f"no match for /{table.filter_text} ({reals})"
            )
        # READ-ONLY first, so that a narrow header never cuts it off; the source (a socket's
        # path can be long) last, so that it does not cut off the counts and the clock
        ro = "READ-ONLY · " if self.read_only else ""
        group = f" · {group_header(snap)}" if snap.group is not None else ""
        t = time.strftime("%H:%M:%S", time.localtime(snap.time))
        self.query_one("#status", Static).update(
            Text(
                f"lvstui · {ro}router {snap.router_id or '-'}{group} · "
                f"{snap.dataplane or '?'} · {render.count(len(snap.services), 'service')}, {reals}"
                f" · {t} · {self.source}",
                no_wrap=True,
                overflow="ellipsis",
            )
        )

    def show_connection(self, connected: bool, reason: str) -> None:
        banner = self.query_one("#banner", Static)
        banner.display = not connected
        if not connected:
            banner.update(
                Text(f"⚠ disconnected — retrying… ({reason})", no_wrap=True, overflow="ellipsis")
            )

    # --- target under the cursor -------------------------------------------------------------

    def _target(self, need_real: bool) -> RowTarget | None:
        target = self.query_one(ServiceTable).cursor_target
        if target is None:
            self.notify("no row selected", severity="warning")
            return None
        if need_real and target.real is None:
            self.notify("select a real server (a `->` row) first", severity="warning")
            return None
        return target

    # --- actions -------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            table = self.query_one(ServiceTable)
            table.filter_text = event.value.strip()
            if self.snapshot is not None:
                self.show_snapshot(self.snapshot)  # the rows and the header's count, live

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one(ServiceTable).focus()
            if not event.value.strip():
                event.input.display = False

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            self.query_one(ServiceTable).focus()

    # k9s navigation (j/k/g/G, Home/End, PgUp/PgDn) moves the service table's cursor; j/k/g/G
    # do so wherever the focus is, while a focused log keeps Home/End and the pages to scroll
    def action_cursor_down(self) -> None:
        self.query_one(ServiceTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(ServiceTable).action_cursor_up()

    def action_cursor_top(self) -> None:
        self.query_one(ServiceTable).action_scroll_top()

    def action_cursor_bottom(self) -> None:
        self.query_one(ServiceTable).action_scroll_bottom()

    def action_page_down(self) -> None:
        self.query_one(ServiceTable).action_page_down()

    def action_page_up(self) -> None:
        self.query_one(ServiceTable).action_page_up()

    def action_sort(self) -> None:
        self.query_one(ServiceTable).cycle_sort()

    def action_sort_reverse(self) -> None:
        self.query_one(ServiceTable).cycle_sort(reverse=True)

    def action_open(self) -> None:
        target = self._target(need_real=False)
        if target is not None:
            self.app.push_screen(
                DetailScreen(target, self.keys, self.read_only, self.series, self.snapshot)
            )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if isinstance(event.data_table, ServiceTable):
            self.action_open()

    def action_command(self) -> None:
        def done(result: object) -> None:
            if isinstance(result, UiCommand):
                self._ui_command(result)
            elif result is not None:
                self.choose(result)  # type: ignore[arg-type]

        t = self.query_one(ServiceTable).cursor_target  # the row's command, ready to edit
        line, verb = prefill(t.service, t.real) if t is not None else ("", 0)
        services = self.snapshot.services if self.snapshot is not None else ()
        self.app.push_screen(CommandDialog(line, verb, services, list(load_themes())), done)

    def _ui_command(self, cmd: UiCommand) -> None:
        if cmd.name == "help":
            self.action_help()
        elif cmd.name == "quit":
            self.action_quit()
        elif cmd.name == "theme":
            self.post_message(self.ThemeRequested(cmd.arg))
        elif cmd.name == "filter":
            box = self.query_one("#filter", Input)
            box.display = bool(cmd.arg)
            box.value = cmd.arg

    def action_add(self) -> None:
        t = self._target(need_real=False)
        if t is not None:
            self.app.push_screen(
                AddDialog(t.service, self._scope), lambda cmd: self.choose(cmd) if cmd else None
            )

    def action_refused(self, action: str) -> None:
        """A changing key on a read-only console: say why nothing happens."""
        self.notify(
            f"read-only console: {action} refused (started with --read-only, or your user "
            "may only read the control socket)",
            severity="warning",
        )

    def action_log(self) -> None:
        panel = self.query_one(EventPanel)
        self.app.push_screen(LogScreen(panel.fold, self.keys, panel.palette))

    def on_screen_resume(self) -> None:
        self.query_one(EventPanel).redraw()  # the full-screen log marked problems seen

    def action_reload(self) -> None:
        self.post_message(self.ReloadRequested())

    def action_theme(self) -> None:
        self.post_message(self.ThemeRequested(None))

    def action_drain_director(self) -> None:
        ask_director_drain(self, self.snapshot, self.choose)

    def action_group(self) -> None:
        if self.snapshot is None or self.snapshot.group is None:
            self.notify("this director is in no director group ([lvstui.group])")
            return
        self.app.push_screen(GroupScreen(self.keys, self.snapshot))

    def action_quit(self) -> None:
        self.post_message(self.QuitRequested())


class DetailScreen(ActionScreen):
    """Drill-down on a service or a real server: charts, checks, configuration.

    On a real server the operator actions work here too (drain, undrain, weight, remove, with
    the main screen's dialogs and read-only rule), and a drain shows its progress to "safe".
    """

    # the actions that make sense on the server this screen shows
    _SERVER_ACTIONS = ("help", "drain", "undrain", "weight", "remove")

    def __init__(
        self,
        target: RowTarget,
        keys: Mapping[str, str] | None = None,
        read_only: bool = False,
        series: SeriesStore | None = None,
        snapshot: Snapshot | None = None,
    ) -> None:
        keys = resolve_keys(None) if keys is None else keys
        super().__init__(keys, read_only, SeriesStore() if series is None else series, snapshot)
        self.target = target
        self._ready = False
        actions = [
            b
            for b in bindings_for(keys, read_only)
            if b.action in self._SERVER_ACTIONS and (target.real is not None or b.action == "help")
        ]
        taken = {b.key for b in actions}
        back = [Binding(keys["back"], "back", "Back", key_display=display_key(keys["back"]))]
        if keys["back"] != "escape":
            back.append(Binding("escape", "back", "Back", show=False))
        if "q" not in taken and keys["back"] != "q":  # q leaves the drill-down, not the console
            back.append(Binding("q", "back", "Back", show=False))
        self._bindings = BindingsMap([*back, *actions])

    def _target(self, need_real: bool) -> RowTarget | None:
        if need_real and self.target.real is None:
            self.notify("open a real server (a `->` row) to act on it", severity="warning")
            return None
        return self.target

    def compose(self) -> ComposeResult:
        what = f"{self.target.service}" + (f" -> {self.target.real}" if self.target.real else "")
        yield Static(Text(f"{what}  (esc: back)", style="bold"), id="detail-title")
        yield Static("", id="detail-drain")
        with VerticalScroll(id="detail"):
            with ChartRow(id="charts"):
                yield Chart("active connections", id="chart-conns")
                yield Chart("connections/s", id="chart-cps")
                yield Chart(
                    "check latency ms" if self.target.real else "bytes/s in", id="chart-third"
                )
            yield Static("", id="detail-config")
            checks: DataTable[str] = DataTable(id="checks", cursor_type="none", show_cursor=False)
            checks.border_title = "Checks" if self.target.real else "Real servers"
            if self.target.real:
                checks.add_columns(
                    "Check",
                    "Target",
                    "Health",
                    "Last",
                    "Latency",
                    "Age",
                    "Period",
                    "Runs",
                    "Fails",
                    "Reason",
                )
            else:
                checks.add_columns(
                    "Real server", "Health", "Weight", "Active", "InAct", "Last check"
                )
            yield checks
        yield SteadyFooter()

    def on_mount(self) -> None:
        self._ready = True
        self.query_one("#detail-drain", Static).display = False
        if self.snapshot is not None:
            self.show_snapshot(self.snapshot)

    def action_back(self) -> None:
        self.app.pop_screen()

    def show_snapshot(self, snap: Snapshot) -> None:
        self.snapshot = snap
        if not self._ready:
            return  # not composed yet: on_mount shows the latest snapshot
        sv, rs = find_views(snap, self.target)
        cfg = self.query_one("#detail-config", Static)
        if sv is None or (self.target.real is not None and rs is None):
            cfg.update(Text("gone: this service or server is no longer in the table", "bold red"))
            return
        store = self.series
        key = f"{sv.key}" + (f"|{rs.key}" if rs is not None else "")
        if rs is not None:
            self.query_one("#chart-conns", Chart).set_values(rs.history)
            self.query_one("#chart-third", Chart).set_values(store.get(key, "latency_ms"))
        else:
            conns = [float(x) for x in sv.history]
            self.query_one("#chart-conns", Chart).set_values(
                conns if conns else [float(sum(r.active_conns for r in sv.real_servers))]
            )
            self.query_one("#chart-third", Chart).set_values(store.get(key, "inbps"))
        self.query_one("#chart-cps", Chart).set_values(store.get(key, "cps"))
        text = render.config_text(sv, rs)
        if rs is not None:
            text += "".join(f"\n{line}" for line in render.probe_sharing(snap, sv, rs))
        cfg.update(Text(text))
        self._show_drain(rs)
        table = self.query_one("#checks", DataTable)
        table.clear()
        if rs is not None:
            for c in rs.checks:
                last = "-" if c.last_ok is None else "ok" if c.last_ok else "FAIL"
                if c.stale:  # the watchdog: no completed run for 2 x (period + budget)
                    last = "STALE"
                lat = f"{c.last_latency * 1000:.1f}" if c.last_latency is not None else "-"
                table.add_row(
                    c.kind,
                    render.check_target(c),
                    c.health.value,
                    last,
                    lat,
                    render.age(c.last_run, snap.time),
                    f"{c.period:g}s",
                    str(c.runs),
                    str(c.failures),
                    c.last_reason,
                )
        else:
            for r in sv.real_servers:
                table.add_row(
                    str(r.key),
                    render.real_status(r),
                    str(r.weight),
                    str(r.active_conns),
                    str(r.inact_conns),
                    render.check_summary(render.shown_check(r.checks)),
                )

    def _show_drain(self, rs: RealServerView | None) -> None:
        box = self.query_one("#detail-drain", Static)
        if rs is None or rs.drain is DrainState.NONE:
            box.display = False
            return
        t = self.target
        peak = self.series.drain_peak(str(t.service), str(t.real), rs.active_conns)
        box.display = True
        box.set_class(rs.drain is DrainState.SAFE, "-safe")
        box.update(Text(render.drain_line(rs, peak), no_wrap=True, overflow="ellipsis"))
