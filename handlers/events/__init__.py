from slack_bolt import App

from handlers.events.channels import bot_joined_channel, channel_shared, channel_unshared
from handlers.events.home import app_home_opened
from handlers.events.uninstall import workspace_uninstalled


def register(app: App) -> None:
    app.event("app_home_opened")(app_home_opened)
    # Both stop the workspace's nudges (tokens_revoked only when the bot token is among the revoked).
    app.event("app_uninstalled")(workspace_uninstalled)
    app.event("tokens_revoked")(workspace_uninstalled)
    # A customer's channel shared with the customer's organisation, or no longer: what Partner posts there.
    app.event("channel_shared")(channel_shared)
    app.event("channel_unshared")(channel_unshared)
    # Partner invited into a customer's channel that refused its posts: its nudges go there again at once.
    app.event("member_joined_channel")(bot_joined_channel)
