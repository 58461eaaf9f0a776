from slack_bolt import App

from handlers.commands.partner import partner_command
from handlers.followups import command_followup


def register(app: App) -> None:
    # The lazy listener posts what a command set off (check-in summary, owner DM) after the ack.
    app.command("/partner")(ack=partner_command, lazy=[command_followup])
