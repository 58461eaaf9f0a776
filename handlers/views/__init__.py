from slack_bolt import App

from handlers.ids import CHECKIN_MODAL
from handlers.views.checkin import confirm_checkin, submit_checkin


def register(app: App) -> None:
    app.view(CHECKIN_MODAL)(ack=submit_checkin, lazy=[confirm_checkin])
