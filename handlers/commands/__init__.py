from slack_bolt import App

from handlers.commands.partner import partner_command


def register(app: App) -> None:
    # What a command sets off (check-in summary, owner DM, channel joins) is handed to the app's follow-up pool by
    # partner_command itself (handlers.followups.AfterAck): no lazy listener, so Bolt never copies the request.
    app.command("/partner")(partner_command)
