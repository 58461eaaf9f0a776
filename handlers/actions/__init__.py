from slack_bolt import App

from handlers.actions import boundaries
from handlers.actions.checkin import open_checkin
from handlers.actions.customers import (
    archive_from_card,
    edit_from_card,
    page_list,
    restore_from_card,
    snooze_from_card,
)
from handlers.actions.customers import open_card as open_customer_card
from handlers.actions.home import ack_home, open_home_card, snooze_from_home
from handlers.actions.nudges import log_call, open_snooze, skip_today
from handlers.actions.surveys import ask_from_card, open_customer_view, open_survey, survey_from_home
from handlers.ids import (
    ANY_OTHER_ID,
    BOUNDARY_ACTIVATE,
    BOUNDARY_CALL_NO,
    BOUNDARY_CALL_YES,
    BOUNDARY_DECIDE_FLAG,
    BOUNDARY_DECIDE_RENEGOTIATE,
    BOUNDARY_DECIDE_RETIRE,
    BOUNDARY_DECIDE_TALK,
    BOUNDARY_HELD,
    BOUNDARY_RETIRE,
    BOUNDARY_SLIP,
    CARD_ARCHIVE,
    CARD_ASK,
    CARD_EDIT,
    CARD_RESTORE,
    CARD_SNOOZE,
    HOME_NEXT_PAGE,
    HOME_OPEN_CARD,
    HOME_PREV_PAGE,
    HOME_SCOPE,
    HOME_SHOW,
    HOME_SNOOZE,
    HOME_SURVEY,
    HOME_TIER,
    LIST_OPEN_CARD,
    LIST_PAGE,
    LIST_PREV_PAGE,
    NUDGE_LOG_CALL,
    NUDGE_SKIP,
    NUDGE_SNOOZE,
    OPEN_CHECKIN,
    OPEN_CUSTOMER_VIEW,
    OPEN_SURVEY,
)
from handlers.out_of_date import old_action


def register(app: App) -> None:
    app.action(OPEN_CHECKIN)(open_checkin)
    app.action(LIST_PAGE)(page_list)
    app.action(LIST_PREV_PAGE)(page_list)
    app.action(LIST_OPEN_CARD)(open_customer_card)
    app.action(CARD_EDIT)(edit_from_card)
    app.action(CARD_SNOOZE)(snooze_from_card)
    app.action(CARD_ARCHIVE)(archive_from_card)
    app.action(CARD_RESTORE)(restore_from_card)
    app.action(HOME_SCOPE)(ack_home)
    app.action(HOME_SHOW)(ack_home)
    app.action(HOME_TIER)(ack_home)
    app.action(HOME_NEXT_PAGE)(ack_home)
    app.action(HOME_PREV_PAGE)(ack_home)
    app.action(HOME_OPEN_CARD)(open_home_card)
    app.action(HOME_SNOOZE)(snooze_from_home)
    app.action(OPEN_SURVEY)(open_survey)
    app.action(HOME_SURVEY)(survey_from_home)
    app.action(CARD_ASK)(ask_from_card)
    app.action(OPEN_CUSTOMER_VIEW)(open_customer_view)
    app.action(BOUNDARY_ACTIVATE)(boundaries.activate)
    app.action(BOUNDARY_SLIP)(boundaries.slip)
    app.action(BOUNDARY_HELD)(boundaries.held)
    app.action(BOUNDARY_RETIRE)(boundaries.retire)
    app.action(BOUNDARY_DECIDE_TALK)(boundaries.decide_talk)
    app.action(BOUNDARY_DECIDE_RENEGOTIATE)(boundaries.decide_renegotiate)
    app.action(BOUNDARY_DECIDE_RETIRE)(boundaries.decide_retire)
    app.action(BOUNDARY_DECIDE_FLAG)(boundaries.decide_flag)
    app.action(BOUNDARY_CALL_YES)(boundaries.call_outside_yes)
    app.action(BOUNDARY_CALL_NO)(boundaries.call_outside_no)
    app.action(NUDGE_LOG_CALL)(log_call)
    app.action(NUDGE_SNOOZE)(open_snooze)
    app.action(NUDGE_SKIP)(skip_today)  # redraws the message after the ack itself (AfterAck)
    app.action(ANY_OTHER_ID)(old_action)  # last: a button of an older version
