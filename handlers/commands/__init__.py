from slack_bolt import App

from handlers.commands.partner import partner_command


def register(app: App) -> None:
    app.command("/partner")(partner_command)
