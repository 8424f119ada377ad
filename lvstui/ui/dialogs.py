"""Modal dialogs: confirm, weight, add a real server, the `:` command palette."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import ClassVar, Generic, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.validation import Integer, ValidationResult, Validator
from textual.widgets import Button, Input, Label, Static
from textual.widgets.input import Selection

from lvstui.errors import CommandError
from lvstui.model import AddReal, Command, RealKey, ServiceKey, ServiceView
from lvstui.ui.commandline import MAX_WEIGHT, UiCommand, parse_command, parse_weight
from lvstui.ui.completion import Completion, Cycle, complete
from lvstui.ui.groupview import Scope

__all__ = [
    "AddDialog",
    "CommandDialog",
    "ConfirmDialog",
    "ConsoleExit",
    "QuitDialog",
    "WeightDialog",
]

T = TypeVar("T")


class ConfirmDialog(ModalScreen[bool]):
    """Yes/no with a body (e.g. the reload difference). `y`/enter confirms, `n`/esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, title: str, body: str, confirm: str = "Yes") -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._confirm = confirm

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(self._title, id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield Static(self._body, markup=False)
            with Horizontal(classes="buttons"):
                yield Button(f"{self._confirm} (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ConsoleExit(Enum):
    """How the console ended, which decides what becomes of an embedded director."""

    STOP = "stop"  # stop the director: services and VIPs released
    LEAVE_RUNNING = "leave running"  # the director goes on without this console
    HANGUP = "hangup"  # the terminal went away (SIGHUP): the director goes on headless


class QuitDialog(ModalScreen[ConsoleExit | None]):
    """`q` when the director runs inside this console: stop it, leave it running, or cancel.
    (An attached console just quits: the daemon is not ours to stop.)"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "answer('stop')", "Stop"),
        Binding("l", "answer('leave running')", "Leave running"),
        Binding("c", "answer(None)", "Cancel"),
        Binding("escape", "answer(None)", "Cancel"),
    ]

    def __init__(self, socket_path: str | None) -> None:
        super().__init__()
        self._socket = socket_path

    def compose(self) -> ComposeResult:
        leave = (
            f"Leave it running: it goes on in the background; `lvstui` attaches to it again "
            f"({self._socket})."
            if self._socket
            else "Leave it running: not possible, this director serves no control socket."
        )
        with Vertical(id="dialog", classes="dialog"):
            yield Label("The director runs inside this console. Quit how?", id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield Static(
                    "Stop the director: its services and VIPs are released (a backup takes "
                    f"over the VIPs).\n{leave}",
                    markup=False,
                )
            with Horizontal(classes="buttons"):
                yield Button("Stop (s)", id="stop", variant="error")
                yield Button(
                    "Leave running (l)", id="leave", variant="primary", disabled=not self._socket
                )
                yield Button("Cancel (c)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        answer = {"stop": "stop", "leave": "leave running"}.get(event.button.id or "")
        self.action_answer(answer)

    def action_answer(self, answer: str | None) -> None:
        if answer == ConsoleExit.LEAVE_RUNNING.value and not self._socket:
            return
        self.dismiss(None if answer is None else ConsoleExit(answer))


class _InputDialog(ModalScreen[T | None], Generic[T]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _error(self, message: str) -> None:
        self.query_one("#dialog-error", Label).update(message)


class WeightDialog(_InputDialog[int | str]):
    """Returns the new weight, "reset" (empty input: back to the configured weight), or None."""

    def __init__(
        self,
        service: ServiceKey,
        real: RealKey,
        current: int,
        impact: Callable[[int | None], str] | None = None,
        scope: Scope | None = None,
    ) -> None:
        super().__init__()
        self._what = f"{service} -> {real}"
        self._scope = scope or Scope()
        self._current = current
        # what the typed weight (None: the configured one) does to the service's quorum,
        # said while typing, like the drain and remove dialogs say it before confirming
        self._impact = impact

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(
                f"Weight of {self._what} (now {self._current}){self._scope.title()}",
                id="dialog-title",
            )
            if self._scope.note():
                yield Label(self._scope.note(), id="dialog-scope")
            yield Input(
                placeholder=f"0-{MAX_WEIGHT}; empty = configured weight",
                id="weight",
                validators=[Integer(minimum=0, maximum=MAX_WEIGHT)],
                validate_on=["changed", "submitted"],
            )
            yield Label("", id="dialog-error", classes="error")
            yield Label("", id="weight-impact", classes="error")

    def on_mount(self) -> None:
        self._show_impact("")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show_impact(event.value.strip())

    def _show_impact(self, text: str) -> None:
        if self._impact is None:
            return
        try:
            warn = self._impact(parse_weight(text) if text else None)
        except CommandError:
            warn = ""  # not a weight yet: the validator says so
        self.query_one("#weight-impact", Label).update(warn)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.dismiss("reset")
            return
        try:
            self.dismiss(parse_weight(text))
        except CommandError as exc:
            self._error(exc.message)


class _HostPort(Validator):
    def validate(self, value: str) -> ValidationResult:
        try:
            RealKey.parse(value)
        except ValueError as exc:
            return self.failure(str(exc))
        return self.success()


class AddDialog(_InputDialog[AddReal]):
    def __init__(self, service: ServiceKey, scope: Scope | None = None) -> None:
        super().__init__()
        self._service = service
        self._scope = scope or Scope()

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(
                f"Add a real server to {self._service}{self._scope.title()}", id="dialog-title"
            )
            if self._scope.note():
                yield Label(self._scope.note(), id="dialog-scope")
            yield Input(
                placeholder="address:port, e.g. 10.0.0.5:80", id="addr", validators=[_HostPort()]
            )
            yield Input(
                placeholder="weight (default 1)",
                id="weight",
                validators=[Integer(minimum=0, maximum=MAX_WEIGHT)],
            )
            yield Label("", id="dialog-error", classes="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "addr" and not self.query_one("#weight", Input).value:
            self.query_one("#weight", Input).focus()
            return
        addr = self.query_one("#addr", Input).value
        weight_text = self.query_one("#weight", Input).value.strip()
        try:
            real = RealKey.parse(addr)
        except ValueError as exc:
            self._error(f"address: {exc}")
            self.query_one("#addr", Input).focus()
            return
        try:
            weight = parse_weight(weight_text) if weight_text else 1
        except CommandError as exc:
            self._error(exc.message)
            return
        self.dismiss(AddReal(self._service, real, weight))


class CommandDialog(_InputDialog[Command | UiCommand]):
    """The `:` palette: one line, parsed by `lvstui.ui.commandline` (errors shown inline).

    It opens with `prefill` (the selected row's command, its first `select` characters, the
    verb, selected so that typing another verb replaces it); Tab completes commands,
    services (`services`), their real servers and themes (`lvstui.ui.completion`) and lists
    the candidates when several fit; Tab again walks through them, Shift+Tab backwards."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("tab", "complete(1)", "Complete", priority=True),  # not: the next widget
        Binding("shift+tab", "complete(-1)", "Back", show=False, priority=True),
    ]

    def __init__(
        self,
        prefill: str = "",
        select: int = 0,
        services: Sequence[ServiceView] = (),
        themes: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self._prefill = prefill
        self._select = select
        self._services = services
        self._themes = themes
        self._cycle: Cycle | None = None  # walking through the options listed by a Tab
        self._listed = ""  # the line whose options the last Tab listed

    def compose(self) -> ComposeResult:
        with Vertical(id="palette", classes="dialog"):
            yield Input(
                value=self._prefill,
                placeholder="drain TCP 1.2.3.4:80 10.0.0.1:80 | weight … N | add | remove | "
                "reload | theme NAME   (tab completes)",
                id="command",
                select_on_focus=False,
            )
            yield Label("", id="palette-options", markup=False)
            yield Label("", id="dialog-error", classes="error")

    def on_mount(self) -> None:
        box = self.query_one("#command", Input)
        box.focus()
        if self._select:
            box.selection = Selection(0, self._select)

    def action_complete(self, step: int) -> None:
        box = self.query_one("#command", Input)
        if self._cycle is not None and box.value == self._cycle.line:
            self._show(self._cycle.step(step), box)
            return
        done = complete(box.value, self._services, self._themes)
        cycle = Cycle.start(done, step) if done.line == self._listed == box.value else None
        if cycle is not None:  # the options are on screen and the line goes no further
            self._show(cycle, box)
            return
        self._cycle, self._listed = None, done.line if done.options else ""
        box.value = done.line
        box.cursor_position = len(done.line)
        self._list(done)

    def _show(self, cycle: Cycle, box: Input) -> None:
        self._cycle = cycle
        box.value = cycle.line
        box.cursor_position = len(cycle.line)
        self._list(Completion(cycle.line, cycle.options), cycle.index)

    def _list(self, done: Completion, current: int = -1) -> None:
        """The options, at most 12 of them around the current one (reversed)."""
        first = max(0, min(current - 6, len(done.options) - 12))
        shown = Text()
        for i, option in enumerate(done.options[first : first + 12], first):
            shown.append(" · " if i > first else "")
            shown.append(option, style="reverse" if i == current else "")
        more = len(done.options) - first - 12
        shown.append(f" … {more} more" if more > 0 else "")
        self.query_one("#palette-options", Label).update(shown)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            self.dismiss(parse_command(event.value))
        except CommandError as exc:
            self._error(str(exc))
