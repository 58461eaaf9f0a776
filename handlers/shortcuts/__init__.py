from slack_bolt import App

from handlers.ids import LOG_MESSAGE_CHECKIN
from handlers.shortcuts.checkin import log_message_as_checkin


def register(app: App) -> None:
    app.message_shortcut(LOG_MESSAGE_CHECKIN)(log_message_as_checkin)
