from slack_bolt import App

from handlers.ids import ANY_OTHER_ID, CHECKIN_CUSTOMER
from handlers.options.customers import customer_options
from handlers.out_of_date import old_menu


def register(app: App) -> None:
    app.options(CHECKIN_CUSTOMER)(customer_options)
    app.options(ANY_OTHER_ID)(old_menu)  # last: a menu of an older version
