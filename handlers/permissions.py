"""Applies domain.permissions with what Slack knows about the user (users.info: is_admin / is_owner, guests).

Who can use Partner: its customer records (lists, cards, health, notes, surveys about a customer, check-ins, nudge
buttons, Home, exports) are for the workspace's full members. Slack's guests — multi-channel `is_restricted`,
single-channel `is_ultra_restricted`, often contractors or the customer's own people — are told so and shown
nothing; the only thing open to them, as to people of another organisation (handlers/identity.py), is the
customer's-own-view survey posted by `/partner ask`. users.info's answer is kept for GUEST_CHECK_TTL seconds per
person. When Slack cannot answer (rate limit, outage, timeout), its last word on the person stands; for someone it
never placed, an export is refused with a try-again (a whole team's records in one file), while the everyday work —
a check-in, a click, Home — goes on as a member's: a Slack hiccup must not cost the team the check-in they typed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from bot.settings import Settings
from domain.errors import UserError
from domain.mrkdwn import mrkdwn_name
from domain.permissions import may_change, may_change_workspace, needs_workspace_role, refusal, workspace_refusal
from handlers.identity import actor_user_id, app_team_id, is_external, open_to_external
from schedules.slack_http import lasting, same_client_as
from storage.models import Customer

logger = logging.getLogger(__name__)

MEMBERS_ONLY = (
    "Exports are for full members of the workspace: Slack shows you as a guest, so Partner sends you no files. "
    "Nothing was exported."
)
WHO_UNKNOWN = (
    "Sorry — I couldn't check who you are with Slack just now, so nothing was exported. Try again in a moment."
)
# Every other surface's refusal: no customer named, nothing stored.
GUESTS_ONLY_NOTE = (
    "Partner is for the workspace's full members: Slack shows you as a guest, so Partner shows you no customers "
    "and changes nothing. A workspace admin can tell you more."
)
# How long users.info's word on a person is kept: guest status can change any day, but asking on every click
# would spend users.info's rate limit (tier 4) and the 3 seconds Slack gives an answer.
GUEST_CHECK_TTL = 120.0
# Before the answer, users.info gets at most this long (the listener still needs the rest of Slack's 3 seconds).
GUEST_CHECK_TIMEOUT = 1


def slack_user(client: WebClient, user_id: str) -> dict[str, Any]:
    """users.info's record of the person (asked each time: a role or guest status can change any day)."""
    user: dict[str, Any] = client.users_info(user=user_id)["user"]
    return user


def is_workspace_admin(client: WebClient, user_id: str) -> bool:
    try:
        user = slack_user(client, user_id)
    except SlackApiError as e:
        if not lasting(e):
            # Slack could not say (rate limit, outage, token refused): "only admins can" would wrongly tell an admin
            # they are not one. The error handler says what happened and nothing is changed.
            raise
        # Unknown is not an admin: refusing is safe, and the refusal says who can do it instead.
        logger.warning("users.info failed for %s; treating them as not an admin", user_id)
        return False
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


def require_change(client: WebClient, settings: Settings, *, user_id: str, customer: Customer, action: str) -> None:
    """Raises a UserError saying why and who can, unless `user_id` may `action` (edit, archive…) the customer."""
    admin = (
        is_workspace_admin(client, user_id)
        if needs_workspace_role(user_id, owner_id=customer.owner_id, partner_admins=settings.admins)
        else False
    )
    decision = may_change(user_id, owner_id=customer.owner_id, partner_admins=settings.admins, workspace_admin=admin)
    if not decision.allowed:
        raise UserError(
            refusal(
                action,
                customer_name=mrkdwn_name(customer.name),
                owner_id=customer.owner_id,
                partner_admins=settings.admins,
                owner_gone=_deactivated(client, customer.owner_id),
            )
        )


def _deactivated(client: WebClient, user_id: str | None) -> bool:
    """Whether Slack says `user_id` is deactivated (asked on a refusal only: "ask its owner" must not send anyone to
    someone who left). Slack unable to say: not known to be."""
    if not user_id:
        return False
    try:
        return bool(slack_user(_quick(client), user_id).get("deleted"))
    except (SlackApiError, OSError):
        logger.info("users.info failed for owner %s; the refusal names them", user_id, exc_info=True)
        return False


def require_workspace_admin(client: WebClient, settings: Settings, *, user_id: str, action: str) -> None:
    """Raises a UserError saying who can, unless `user_id` may change workspace settings (Slack's users.info is
    asked only when PARTNER_ADMINS does not already say yes)."""
    admin = user_id not in settings.admins and is_workspace_admin(client, user_id)
    if not may_change_workspace(user_id, partner_admins=settings.admins, workspace_admin=admin).allowed:
        raise UserError(workspace_refusal(action, partner_admins=settings.admins))


def _quick(client: WebClient) -> WebClient:
    """The request's client, made to answer within Slack's 3 seconds: a shorter timeout, and one quick retry of
    Slack's own 5xx (the client's backoff took about 3 s over its two retries); 429s as the client waits them."""
    handlers = [h for h in client.retry_handlers if not isinstance(h, ServerErrorRetryHandler)]
    quick_5xx = ServerErrorRetryHandler(max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0.2))
    return same_client_as(client, type(client), timeout=GUEST_CHECK_TIMEOUT, retry_handlers=[*handlers, quick_5xx])


class WhoUnknown(Exception):
    """Slack could not say whether someone is a guest (rate limit, outage, timeout, an odd answer)."""


class _GuestChecks:
    """users.info's word on whether a person is a guest, kept GUEST_CHECK_TTL seconds per (workspace, person)."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self._known: OrderedDict[tuple[str, str], tuple[bool, float]] = OrderedDict()
        self._lock = threading.Lock()

    def is_guest(self, client: WebClient, *, team_id: str, user_id: str, when_unknown: bool | None = None) -> bool:
        """When Slack cannot say: its last answer on the person, however old; else `when_unknown`, or WhoUnknown
        when that is None (a failure is not remembered: Slack is asked again next time)."""
        key = (team_id, user_id)
        with self._lock:
            known = self._known.get(key)
            if known is not None and known[1] > time.monotonic():
                return known[0]
        try:
            user = slack_user(_quick(client), user_id)
            guest = bool(user.get("is_restricted") or user.get("is_ultra_restricted"))
        except (SlackClientError, OSError, KeyError, TypeError, AttributeError) as e:
            error = e.response.get("error") if isinstance(e, SlackApiError) else type(e).__name__
            if known is not None:
                logger.warning("users.info failed for %s (%s): going by Slack's last word on them", user_id, error)
                return known[0]
            if when_unknown is None:
                logger.warning("users.info failed for %s (%s): not told whether they are a guest", user_id, error)
                raise WhoUnknown(error) from None
            logger.warning("users.info failed for %s (%s): served as a member this time", user_id, error)
            return when_unknown
        self.remember(team_id, user_id, guest=guest)
        return guest

    def known(self, team_id: str, user_id: str) -> bool | None:
        """users.info's kept word on the person while it is fresh; None when Slack would be asked."""
        with self._lock:
            known = self._known.get((team_id, user_id))
        return known[0] if known is not None and known[1] > time.monotonic() else None

    def remember(self, team_id: str, user_id: str, *, guest: bool, ttl: float = GUEST_CHECK_TTL) -> None:
        with self._lock:
            self._known[(team_id, user_id)] = (guest, time.monotonic() + ttl)
            self._known.move_to_end((team_id, user_id))
            while len(self._known) > self.LIMIT:
                self._known.popitem(last=False)

    def forget(self) -> None:
        with self._lock:
            self._known.clear()


GUEST_CHECKS = _GuestChecks()


def require_full_member(
    client: WebClient,
    *,
    user_id: str,
    team_id: str = "",
    refused: str = MEMBERS_ONLY,
    unknown: str | None = WHO_UNKNOWN,
) -> None:
    """Raises a UserError (`refused`) unless Slack says `user_id` is a full member: guests (multi-channel
    `is_restricted`, single-channel `is_ultra_restricted`) are often contractors or outsiders, and Partner's records
    hold every customer's notes. When Slack cannot say (rate limit, outage, timeout) and never placed them: the
    UserError `unknown` (fail closed), or with `unknown=None` they are served as a member."""
    try:
        guest = GUEST_CHECKS.is_guest(
            client, team_id=team_id, user_id=user_id, when_unknown=False if unknown is None else None
        )
    except WhoUnknown:
        raise UserError(unknown or WHO_UNKNOWN) from None
    if guest:
        raise UserError(refused)


# The surfaces where a person acts on Partner's records (commands check in handlers/commands/partner.py, naming
# what was typed; App Home in handlers/events/home.py).
_ACTED_ON = frozenset(
    {"block_actions", "view_submission", "view_closed", "block_suggestion", "shortcut", "message_action"}
)


def refuse_guests(body: dict[str, Any], context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
    """Global middleware: a guest's click, form, menu or shortcut gets GUESTS_ONLY_NOTE (an ephemeral note, the
    form's field, no options) and changes nothing; the customer's-own-view button and form stay open to them."""
    user_id = actor_user_id(context, body)
    if body.get("type") not in _ACTED_ON or not user_id or open_to_external(body) or is_external(context, body):
        return next()
    team_id = app_team_id(context, body)
    if not GUEST_CHECKS.is_guest(context.client, team_id=team_id, user_id=user_id, when_unknown=False):
        return next()
    if body.get("type") == "block_suggestion":
        return BoltResponse(status=200, body='{"options": []}', headers={"content-type": "application/json"})
    raise UserError(GUESTS_ONLY_NOTE)
