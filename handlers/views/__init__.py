from slack_bolt import App

from handlers.ids import (
    ADD_CUSTOMER_MODAL,
    ANY_OTHER_ID,
    BOUNDARY_RENEGOTIATE_MODAL,
    CHECKIN_MODAL,
    CUSTOMER_VIEW_MODAL,
    EDIT_CUSTOMER_MODAL,
    NUDGE_SNOOZE_MODAL,
    SURVEY_MODAL,
)
from handlers.out_of_date import old_form, old_form_closed
from handlers.views.boundaries import show_renegotiated, submit_renegotiation
from handlers.views.checkin import submit_checkin
from handlers.views.customers import (
    confirm_add_customer,
    confirm_edit_customer,
    submit_add_customer,
    submit_edit_customer,
)
from handlers.views.nudges import redraw_snoozed, submit_snooze
from handlers.views.surveys import follow_up_survey, save_draft, submit_survey


def register(app: App) -> None:
    app.view(CHECKIN_MODAL)(submit_checkin)  # hands its follow-up to the app's pool itself (AfterAck)
    app.view(ADD_CUSTOMER_MODAL)(ack=submit_add_customer, lazy=[confirm_add_customer])
    app.view(EDIT_CUSTOMER_MODAL)(ack=submit_edit_customer, lazy=[confirm_edit_customer])
    app.view(SURVEY_MODAL)(ack=submit_survey, lazy=[follow_up_survey])
    app.view(CUSTOMER_VIEW_MODAL)(ack=submit_survey, lazy=[follow_up_survey])
    app.view_closed(SURVEY_MODAL)(save_draft)
    app.view_closed(CUSTOMER_VIEW_MODAL)(save_draft)
    app.view(BOUNDARY_RENEGOTIATE_MODAL)(ack=submit_renegotiation, lazy=[show_renegotiated])
    app.view(NUDGE_SNOOZE_MODAL)(ack=submit_snooze, lazy=[redraw_snoozed])
    app.view(ANY_OTHER_ID)(old_form)  # last: a form of an older version
    app.view_closed(ANY_OTHER_ID)(old_form_closed)
