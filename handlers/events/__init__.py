from slack_bolt import App

from handlers.events.home import app_home_opened
from handlers.events.uninstall import workspace_uninstalled


def register(app: App) -> None:
    app.event("app_home_opened")(app_home_opened)
    # Both stop the workspace's nudges (tokens_revoked only when the bot token is among the revoked).
    app.event("app_uninstalled")(workspace_uninstalled)
    app.event("tokens_revoked")(workspace_uninstalled)
