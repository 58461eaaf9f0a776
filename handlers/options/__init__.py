from slack_bolt import App

from handlers.ids import CHECKIN_CUSTOMER
from handlers.options.customers import customer_options


def register(app: App) -> None:
    app.options(CHECKIN_CUSTOMER)(customer_options)
