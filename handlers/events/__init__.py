import logging
from typing import Any

from slack_bolt import App, BoltContext

from bot.metrics import OUTCOME_KEY
from handlers.events.channels import (
    channel_id_changed,
    channel_refuses,
    channel_shared,
    channel_unarchived,
    channel_unshared,
    member_joined,
    member_left,
)
from handlers.events.home import app_home_opened
from handlers.events.people import user_changed
from handlers.events.uninstall import organisation_access_changed, workspace_uninstalled
from handlers.ids import ANY_OTHER_EVENT

logger = logging.getLogger("partner.events")


def ignore_event(event: dict[str, Any], context: BoltContext) -> None:
    """Acks an event no listener of Partner's handles (a workspace subscribed the app to `message.channels`,
    `reaction_added`…): Slack counts every answer that is not a 2xx against the app and turns its event delivery off
    after too many, so an event Partner does not use is answered 200 and left alone, not Bolt's 404."""
    context[OUTCOME_KEY] = "unhandled"
    logger.debug("event %s: nothing to do", event.get("type"))


def register(app: App) -> None:
    app.event("app_home_opened")(app_home_opened)
    # Both stop the workspace's nudges (tokens_revoked only when the bot token is among the revoked).
    app.event("app_uninstalled")(workspace_uninstalled)
    app.event("tokens_revoked")(workspace_uninstalled)
    # Enterprise Grid: an org-wide install's organisation removes Partner from some workspaces, or adds it back.
    app.event("team_access_revoked")(organisation_access_changed)
    app.event("team_access_granted")(organisation_access_changed)
    # A customer's channel shared with the customer's organisation, or no longer: what Partner posts there.
    app.event("channel_shared")(channel_shared)
    app.event("channel_unshared")(channel_unshared)
    # Partner invited into a customer's channel that refused its posts: its nudges go there again at once. A guest
    # of the workspace joining a customer's channel: read from outside the team, as a shared one; leaving: looked up.
    app.event("member_joined_channel")(member_joined)
    # The channel archived, deleted or Partner removed from it: its customers' posts go elsewhere at once, and back
    # when it is unarchived.
    app.event("channel_archive")(channel_refuses)
    app.event("group_archive")(channel_refuses)
    app.event("channel_deleted")(channel_refuses)
    app.event("group_deleted")(channel_refuses)
    app.event("channel_left")(channel_refuses)
    app.event("group_left")(channel_refuses)
    app.event("member_left_channel")(member_left)
    app.event("channel_unarchive")(channel_unarchived)
    app.event("group_unarchive")(channel_unarchived)
    # A channel given a new id by Slack: its customers and the digest follow it.
    app.event("channel_id_changed")(channel_id_changed)
    # A customer's owner deactivated in Slack: the customer's channel is told to pick another.
    app.event("user_change")(user_changed)
    # Last: any other event, once the listeners above have passed it by.
    app.event(ANY_OTHER_EVENT)(ignore_event)
