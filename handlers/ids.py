"""Every action_id and callback_id, in one place: the manifest test checks each has a listener and a use."""

import re

# Any event type: the last event listener, acking the events no listener above it handles (handlers/events). A
# pattern, not an event of the manifest's subscriptions.
ANY_OTHER_EVENT = re.compile(r".*")
# Any action_id, callback_id or menu: the last listener of its surface (handlers/out_of_date.py), answering a button,
# form, shortcut or menu of an older version of Partner (a message posted long ago) instead of Bolt's 404.
ANY_OTHER_ID = re.compile(r".*")

# Check-ins
CHECKIN_MODAL = "checkin_modal"
CHECKIN_CUSTOMER = "checkin_customer"
CHECKIN_MOOD = "checkin_mood"
CHECKIN_CALL = "checkin_call"
CHECKIN_NOTE = "checkin_note"
CHECKIN_NEXT_STEP = "checkin_next_step"
CHECKIN_NEXT_DUE = "checkin_next_due"  # datepicker
OPEN_CHECKIN = "open_checkin"
LOG_MESSAGE_CHECKIN = "log_message_checkin"  # message shortcut "Log as check-in"

# Customers: list, card, add/edit modals
ADD_CUSTOMER_MODAL = "add_customer_modal"
EDIT_CUSTOMER_MODAL = "edit_customer_modal"  # private_metadata: {"customer_id": …}
CUSTOMER_FIELD = "customer_field"  # every input of the add/edit modals; the block_id names the setting
LIST_PAGE = "list_page"  # Next; value: {"args": the list's filters, "page": n}
LIST_PREV_PAGE = "list_prev_page"  # Previous (Slack wants the action_ids of one block to differ); value as LIST_PAGE
LIST_OPEN_CARD = "list_open_card"  # value: customer id
CARD_EDIT = "card_edit"
CARD_SNOOZE = "card_snooze"  # opens the snooze modal
CARD_ARCHIVE = "card_archive"
CARD_RESTORE = "card_restore"
CARD_ASK = "card_ask"  # value: customer id; asks the customer's people in their shared channel (`/partner ask`)

# App Home dashboard
HOME_SCOPE = "home_scope"  # static_select: my customers / the whole team
HOME_SHOW = "home_show"  # static_select: all / at risk only
HOME_TIER = "home_tier"  # static_select: any tier / one tier
HOME_NEXT_PAGE = "home_next_page"
HOME_PREV_PAGE = "home_prev_page"
HOME_OPEN_CARD = "home_open_card"
HOME_SURVEY = "home_survey"  # overflow on a Home row; option values as OPEN_SURVEY's, or "ask:<customer id>"
HOME_SNOOZE = "home_snooze"  # value: customer id; opens the cadence engine's snooze modal (NUDGE_SNOOZE wants a nudge)

# Surveys
SURVEY_MODAL = "survey_modal"  # every team survey; which one and about whom travel in private_metadata
CUSTOMER_VIEW_MODAL = "customer_view_modal"  # the customer's own view, the only surface open to external users
SURVEY_ANSWER = "survey_answer"  # every survey input; the block_id is the question key
OPEN_SURVEY = "open_survey"  # button value "<survey>:<customer id>" or "practices:team"
OPEN_CUSTOMER_VIEW = "open_customer_view"  # button in a shared channel; value is the customer id

# Boundaries (working agreements)
BOUNDARY_ACTIVATE = "boundary_activate"  # value: boundary id
BOUNDARY_SLIP = "boundary_slip"  # value: "<boundary id>:<slips shown>", so a double click logs one slip
BOUNDARY_HELD = "boundary_held"
BOUNDARY_RETIRE = "boundary_retire"
BOUNDARY_DECIDE_TALK = "boundary_decide_talk"  # the escalation's four options; value: boundary id
BOUNDARY_DECIDE_RENEGOTIATE = "boundary_decide_renegotiate"
BOUNDARY_DECIDE_RETIRE = "boundary_decide_retire"
BOUNDARY_DECIDE_FLAG = "boundary_decide_flag"
BOUNDARY_CALL_YES = "boundary_call_yes"  # "was this call outside the window?"; value: "<boundary id>:<check-in id>"
BOUNDARY_CALL_NO = "boundary_call_no"
BOUNDARY_RENEGOTIATE_MODAL = "boundary_renegotiate_modal"
BOUNDARY_TEXT = "boundary_text"
BOUNDARY_KIND = "boundary_kind"
BOUNDARY_VALUE = "boundary_value"

# Nudges (cadence engine): buttons on a nudge message; values are the nudge id
NUDGE_LOG_CALL = "nudge_log_call"
NUDGE_SNOOZE = "nudge_snooze"
NUDGE_SKIP = "nudge_skip"
NUDGE_SNOOZE_MODAL = "nudge_snooze_modal"  # private_metadata: {"nudge_id": …, "customer_id": …}
NUDGE_SNOOZE_FOR = "nudge_snooze_for"  # radio: "1d" or "until"
NUDGE_SNOOZE_UNTIL = "nudge_snooze_until"  # datepicker
NUDGE_SNOOZE_REASON = "nudge_snooze_reason"
