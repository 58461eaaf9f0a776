"""Every action_id and callback_id, in one place: the manifest test checks each has a listener and a use."""

# Check-ins
CHECKIN_MODAL = "checkin_modal"
CHECKIN_CUSTOMER = "checkin_customer"
CHECKIN_MOOD = "checkin_mood"
CHECKIN_CALL = "checkin_call"
CHECKIN_NOTE = "checkin_note"
OPEN_CHECKIN = "open_checkin"
