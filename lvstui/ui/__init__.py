"""The Textual console. Talks to the engine only through `EngineClient`.

    app.py          LvstuiApp (workers: 1 Hz snapshot poll, event stream, reconnect), run_console
    screens.py      MainScreen, DetailScreen (drill-down)
    help.py         HelpScreen
    widgets.py      ServiceTable (updated by key, visible rows only), VrrpTable, QuorumPanel,
                    Chart
    eventlog.py     pure: events folded into log lines (one per drain, no repeats, pinned)
    logview.py      EventPanel (main screen's log), LogScreen (full-screen log, `l`)
    dialogs.py      ConfirmDialog, WeightDialog, AddDialog, CommandDialog (`:` palette)
    render.py       pure: views → cell strings (sparklines, ages, quorum bars, event lines)
    commandline.py  pure: the palette's language → Command
    bindings.py     the one table of actions and default keys; remapping; read-only
    keytable.py     docs/console.md key table generator/checker (python -m lvstui.ui.keytable)
    themes.py       TOML themes (themes/, lvstui/ui/themes/, /etc/lvstui/themes, $LVSTUI_THEMES)
    charts.py       plotext line charts as text
    history.py      rates and check latency remembered by the console
    fake.py         FakeClient: a scriptable in-memory EngineClient (tests, bench)

Nothing here imports `lvstui.dataplane` or pyroute2 (import-linter contract).
"""
