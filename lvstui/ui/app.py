"""The console: a Textual app that only knows an `EngineClient`.

Embedded (`LocalClient`) or attached (`SocketClient`), it is the same app: a worker polls
`client.snapshot()` once a second and another consumes `client.events()`. When the engine
goes away the screen says so ("disconnected — retrying") and keeps trying, through a
`reconnect` factory when one is given (a socket client needs a new connection); it never
shows a traceback. Changes go through `client.call(Command)` only; a refused or failed
command becomes a notification.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from textual.app import App
from textual.css.query import NoMatches
from textual.worker import Worker

from lvstui.control.client import EngineClient
from lvstui.errors import ConfigError, LvstuiError, PermissionDenied
from lvstui.model import (
    Command,
    CommandResult,
    DrainDirector,
    Event,
    Reload,
    Snapshot,
    UndrainDirector,
)
from lvstui.ui.bindings import resolve_keys
from lvstui.ui.dialogs import ConfirmDialog, ConsoleExit, QuitDialog
from lvstui.ui.groupscreen import GroupScreen
from lvstui.ui.groupview import action_scope
from lvstui.ui.heap import HeapKeeper
from lvstui.ui.history import SeriesStore
from lvstui.ui.logview import EventPanel
from lvstui.ui.screens import ActionScreen, DetailScreen, MainScreen
from lvstui.ui.themes import DEFAULT_THEME, load_themes

__all__ = ["ConsoleExit", "LvstuiApp", "Reconnect", "run_console"]

Reconnect = Callable[[], Awaitable[EngineClient]]
KeysArg = Mapping[str, str] | Iterable[tuple[str, str]] | None


class LvstuiApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "lvstui"
    ENABLE_COMMAND_PALETTE = False  # `:` is ours; ctrl+p would offer Textual's own commands

    def __init__(
        self,
        client: EngineClient,
        *,
        theme: str | None = None,
        read_only: bool = False,
        keys: KeysArg = None,
        reconnect: Reconnect | None = None,
        poll_interval: float = 1.0,
        retry_interval: float = 1.0,
        auto_poll: bool = True,
        embedded_socket: str | None = None,
        embedded: bool = False,
        settle_heap: bool = False,
    ) -> None:
        super().__init__()
        # the console of a real terminal (not a test): keep the heap out of the cycle
        # collector's way once the first table is drawn (lvstui.ui.heap)
        self.heap_keeper = HeapKeeper() if settle_heap else None
        # The director runs in this process: `q` asks what becomes of it (see QuitDialog);
        # `embedded_socket` is the control socket a later `lvstui` attaches to, if served.
        self.embedded = embedded or embedded_socket is not None
        self.embedded_socket = embedded_socket
        self.outcome = ConsoleExit.STOP
        self.client = client
        self.read_only = read_only or client.read_only
        self.keys = resolve_keys(keys)
        self.reconnect = reconnect
        self.poll_interval = poll_interval
        self.retry_interval = retry_interval
        self.auto_poll = auto_poll
        self.snapshot: Snapshot | None = None
        self.connected = True
        self.disconnect_reason = ""
        self.series = SeriesStore()
        self.event_lines: list[Event] = []
        self.display_errors: list[Exception] = []  # tests assert this stays empty
        self.themes = load_themes()
        name = theme or DEFAULT_THEME
        if name not in self.themes:
            raise ConfigError(
                f"unknown theme {name!r}",
                key="lvstui.theme",
                hint="themes: " + ", ".join(self.themes),
            )
        self._theme_name = name
        self._events_worker: Worker[None] | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def on_mount(self) -> None:
        for t in self.themes.values():
            self.register_theme(t)
        self.theme = self._theme_name
        self.main = MainScreen(self.keys, self.read_only, self.series, self.client.description)
        await self.push_screen(self.main)
        if self.auto_poll:
            self.run_worker(self._poll_loop(), name="poll", group="engine")
            self._start_events()

    def _start_events(self) -> None:
        if self._events_worker is not None:
            self._events_worker.cancel()
        self._events_worker = self.run_worker(self._events_loop(), name="events", group="engine")

    async def _poll_loop(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(self.poll_interval if self.connected else self.retry_interval)

    async def poll_once(self) -> bool:
        """Fetch and show one snapshot; False (and the banner) when the engine is gone."""
        try:
            snap = await self.client.snapshot()
        except Exception as exc:  # any failure of the engine link is "disconnected"
            self._set_connected(False, _reason(exc))
            await self._try_reconnect()
            return False
        self._set_connected(True)
        try:
            self.apply_snapshot(snap)
        except NoMatches:
            pass  # the screen is being torn down (quit): nothing left to draw on
        except Exception as exc:  # a display bug must not kill the operator's console
            self.display_errors.append(exc)
            self.log.error(f"cannot show snapshot {snap.seq}: {exc!r}")
            if len(self.display_errors) == 1:
                self.notify(f"display error: {_reason(exc)}", severity="error", timeout=10)
        return True

    async def _try_reconnect(self) -> None:
        if self.reconnect is None:
            return  # an embedded client recovers by itself: keep polling it
        try:
            new = await self.reconnect()
        except Exception as exc:
            self._set_connected(False, _reason(exc))
            return
        old, self.client = self.client, new
        if new is not old:  # a SocketClient reconnects itself and comes back as the same object
            with contextlib.suppress(Exception):
                await old.close()
        if self.auto_poll:
            self._start_events()

    async def _events_loop(self) -> None:
        while True:
            try:
                # replay: the engine's recent events first (an attaching console shows
                # what happened before it came; the log folds away what it already holds)
                async for ev in self.client.events(replay=True):
                    self.add_events([ev])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._set_connected(False, _reason(exc))
            await asyncio.sleep(self.retry_interval)

    def _set_connected(self, connected: bool, reason: str = "") -> None:
        was = self.connected
        self.connected = connected
        self.disconnect_reason = reason
        if self._main_ready():
            with contextlib.suppress(NoMatches):
                self.main.show_connection(connected, reason)
        if connected and not was:
            self.notify("reconnected to the engine")
            if self.auto_poll and self.reconnect is None:
                self._start_events()

    # --- data fan-out ------------------------------------------------------------------------

    def _main_ready(self) -> bool:
        # Workers may still run for a moment while the app shuts down: draw nothing then.
        return hasattr(self, "main") and self.main.is_mounted and not self._exit

    def apply_snapshot(self, snap: Snapshot) -> None:
        self.snapshot = snap
        watched = {
            (str(s.target.service), str(s.target.real))
            for s in self.screen_stack
            if isinstance(s, DetailScreen) and s.target.real is not None
        }
        self.series.record(snap, watched)
        if not self._main_ready():
            return
        self.main.source = self.client.description
        self.main.show_snapshot(snap)
        if self.heap_keeper is not None and not self.heap_keeper.settled:
            self.call_after_refresh(self.heap_keeper.after_draw)
        for screen in self.screen_stack:
            if isinstance(screen, DetailScreen | GroupScreen):
                screen.show_snapshot(snap)

    async def run_async(self, *args: Any, **kwargs: Any) -> int | None:
        try:
            return await super().run_async(*args, **kwargs)
        finally:
            if self.heap_keeper is not None:
                self.heap_keeper.release()

    def add_events(self, events: Iterable[Event]) -> None:
        evs = list(events)
        self.series.note_events(evs)  # drain starts: the drill-down's progress bar
        self.event_lines.extend(evs)
        del self.event_lines[:-1000]
        if self._main_ready():
            self.main.query_one(EventPanel).add(evs)

    # --- what the screens ask for (their messages) ----------------------------------------

    def on_action_screen_command_chosen(self, message: ActionScreen.CommandChosen) -> None:
        self.run_command(message.command)

    def on_main_screen_reload_requested(self, _message: MainScreen.ReloadRequested) -> None:
        self.start_reload()

    def on_main_screen_theme_requested(self, message: MainScreen.ThemeRequested) -> None:
        if message.name is None:
            self.cycle_theme()
        else:
            self.set_theme(message.name)

    def on_main_screen_quit_requested(self, _message: MainScreen.QuitRequested) -> None:
        self.request_quit()

    async def action_quit(self) -> None:
        """ctrl+q, Textual's own quit key (on every screen), does what `q` does: a reflex
        must not stop an embedded director and release its VIPs without asking."""
        self.request_quit()

    def request_quit(self) -> None:
        if not self.embedded:
            self.exit(0)
            return
        if isinstance(self.screen, QuitDialog):
            return  # already asking: its keys decide

        def chosen(outcome: ConsoleExit | None) -> None:
            if outcome is not None:
                self.finish(outcome)

        self.push_screen(QuitDialog(self.embedded_socket), chosen)

    def finish(self, outcome: ConsoleExit) -> None:
        """End the console; the caller reads `outcome` to know what the director does."""
        self.outcome = outcome
        self.exit(0)

    # --- commands ----------------------------------------------------------------------------

    def run_command(self, command: Command) -> None:
        """Send a command in the background; its outcome becomes a notification."""
        if self.read_only:
            self.notify(f"read-only console: {command.kind} refused", severity="error")
            return
        if isinstance(command, Reload) and not command.dry_run:
            self.start_reload()
            return
        self.run_worker(self._call(command), group="commands")

    async def call_engine(self, command: Command) -> CommandResult | None:
        try:
            return await self.client.call(command)
        except PermissionDenied as exc:
            self.notify(f"refused: {exc.message}", severity="error", timeout=8)
        except LvstuiError as exc:
            self.notify(f"{command.kind} failed: {exc.message}", severity="error", timeout=8)
        except Exception as exc:
            self.notify(f"{command.kind} failed: {_reason(exc)}", severity="error", timeout=8)
        return None

    async def _call(self, command: Command) -> None:
        result = await self.call_engine(command)
        if result is None:
            return
        if result.ok:
            # an override reaches the whole group (a reload or a director drain is this
            # director's own): say where
            own = isinstance(command, Reload | DrainDirector | UndrainDirector)
            where = "" if own else self._scope_text()
            self.notify((result.message or f"{command.kind}: done") + where)
        else:
            self.notify(f"{command.kind} failed: {result.message}", severity="error", timeout=8)

    def _scope_text(self) -> str:
        scope = action_scope(self.snapshot.group if self.snapshot is not None else None)
        return f" ({scope.title().strip()})" if scope.here else ""

    def start_reload(self) -> None:
        """`r`: dry run first, show the difference, reload only when confirmed."""
        if self.read_only:
            self.notify("read-only console: reload refused", severity="error")
            return
        self.run_worker(self._reload(), group="commands")

    async def _reload(self) -> None:
        dry = await self.call_engine(Reload(dry_run=True))
        if dry is None:
            return
        if not dry.ok:
            self.notify(
                f"reload refused: {dry.message}\n{dry.detail}".rstrip(),
                severity="error",
                timeout=10,
            )
            return
        body = dry.detail or "(no difference: reloading changes nothing)"

        def done(ok: bool | None) -> None:
            if ok:
                self.run_worker(self._call(Reload()), group="commands")

        self.push_screen(
            ConfirmDialog(f"Reload the configuration? {dry.message}", body, "Reload"), done
        )

    # --- themes ----------------------------------------------------------------------------

    def set_theme(self, name: str) -> None:
        if name not in self.themes:
            self.notify(
                f"unknown theme {name!r}; themes: {', '.join(self.themes)}", severity="error"
            )
            return
        self.theme = name

    def cycle_theme(self) -> None:
        names = list(self.themes)
        i = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(i + 1) % len(names)]
        self.notify(f"theme: {self.theme}", timeout=2)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, LvstuiError):
        return exc.message
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def run_console(
    client: EngineClient,
    *,
    theme: str | None = None,
    read_only: bool = False,
    keys: KeysArg = None,
    reconnect: Reconnect | None = None,
) -> int:
    """Run the console in this terminal until the operator quits. Returns the exit code."""
    app = LvstuiApp(
        client,
        theme=theme,
        read_only=read_only,
        keys=keys,
        reconnect=reconnect,
        settle_heap=True,
    )
    rc = app.run()
    return int(rc or 0)
