"""Bolt listeners, one folder per Slack surface; each folder's register(app) only wires names to functions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `handlers.parsing` (read by storage's CSV export and the CLI) must not load Bolt with this package
    from slack_bolt import App


def register_listeners(app: App) -> None:
    # Imported here, not at the top: `import handlers.blocks…` (from schedules/ renderers, say) must not load every
    # listener module, which import schedules/ themselves — that made import order decide whether modules loaded.
    from handlers import actions, commands, events, options, shortcuts, views

    for surface in (commands, actions, views, options, events, shortcuts):
        surface.register(app)
