"""The key footer, recomposed only when the keys it shows change.

Textual's Footer rebuilds all its key widgets (about 20 on the main screen, each styled and
laid out) whenever its screen's bindings are refreshed: on every focus change, so opening
the filter box, a dialog or the help paid for a new footer that looked the same
(docs/performance.md, "Console")."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

__all__ = ["SteadyFooter"]

Shown = tuple[tuple[object, ...], ...]


class SteadyFooter(Footer):
    _shown: Shown | None = None

    def _keys_shown(self) -> Shown:
        """What compose() draws from: the shown bindings, whether enabled, their tooltips."""
        return tuple(
            (b.key, b.action, b.description, b.group, enabled, tooltip)
            for _node, b, enabled, tooltip in self.screen.active_bindings.values()
            if b.show
        )

    def bindings_changed(self, screen: Screen[object]) -> None:
        ready = self._bindings_ready and self.is_attached and screen is self.screen
        if ready and self._keys_shown() == self._shown:
            return  # the same keys: the footer on screen is already right
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        self._shown = self._keys_shown() if self._bindings_ready else None
        yield from super().compose()
