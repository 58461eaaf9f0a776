from slack_bolt import App

from handlers.ids import ANY_OTHER_ID, LOG_MESSAGE_CHECKIN
from handlers.out_of_date import old_shortcut
from handlers.shortcuts.checkin import log_message_as_checkin


def register(app: App) -> None:
    app.message_shortcut(LOG_MESSAGE_CHECKIN)(log_message_as_checkin)
    app.shortcut(ANY_OTHER_ID)(old_shortcut)  # last: a shortcut of an older version
