"""Bolt listeners, one folder per Slack surface; each folder's register(app) only wires names to functions."""

from slack_bolt import App

from handlers import actions, commands, events, options, shortcuts, views


def register_listeners(app: App) -> None:
    for surface in (commands, actions, views, options, events, shortcuts):
        surface.register(app)
