from slack_bolt import App

from handlers.actions.checkin import open_checkin
from handlers.ids import OPEN_CHECKIN


def register(app: App) -> None:
    app.action(OPEN_CHECKIN)(open_checkin)
