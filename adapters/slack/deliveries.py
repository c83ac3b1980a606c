"""What a Slack delivery is: its dedupe key, its kind, who sent it and from which team."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError

from adapters.slack.blocks import EDIT_CALLBACK_ID
from adapters.slack.errors import slack_error
from adapters.slack.forms import FORM_CALLBACK_ID
from bot.buttons import ButtonId
from bot.errors import BotError, ErrorKind

IMAGINE_COMMAND = "/imagine"
ADMIN_COMMAND = "/imagebot"
MESSAGE_SUBTYPES = (None, "file_share", "thread_broadcast")  # the messages that are requests

# Bolt context keys: the intake key of the request being handled, what earlier attempts noted,
# and (when the next start handles a stored request again) its intake row.
INTAKE_KEY = "imagebot_intake_key"
INTAKE_NOTES = "imagebot_intake_notes"
REPLAY = "imagebot_replay"


def delivery_key(body: Mapping[str, Any]) -> str | None:
    """What makes one delivery the same as another, for the requests a listener here handles
    (None for the rest, which are not stored): the user's message for @mentions and thread
    replies (a mention in a thread comes as both an app_mention and a message event, and either
    one is redelivered with its own event id); the trigger id for commands, clicks and submits
    (Socket Mode redeliveries repeat it)."""
    if body.get("type") == "event_callback":
        event = body.get("event") or {}
        kind = event.get("type")
        if kind == "message":
            thread = event.get("thread_ts")
            if not thread or thread == event.get("ts") or event.get("subtype") not in MESSAGE_SUBTYPES:
                return None  # top-level chatter, edits, joins: ignored anyway, not worth a write
            if event.get("bot_id") or not event.get("user"):
                return None
        elif kind != "app_mention":
            return None
        if event.get("channel") and event.get("ts"):
            team = body.get("team_id") or event.get("team") or ""
            return f"slack:message:{team}:{event['channel']}:{event['ts']}"
        return f"slack:event:{body['event_id']}" if body.get("event_id") else None
    if body.get("command") is not None:
        if body.get("command") not in (IMAGINE_COMMAND, ADMIN_COMMAND):
            return None
    elif body.get("type") == "block_actions":
        actions = body.get("actions") or [{}]
        action = actions[0] if isinstance(actions[0], Mapping) else {}
        if not ButtonId.looks_like(str(action.get("action_id") or "")):
            return None
        if not body.get("trigger_id") and action.get("action_ts"):
            return f"slack:action:{action.get('action_id')}:{action['action_ts']}"
    elif body.get("type") == "view_submission":
        if (body.get("view") or {}).get("callback_id") not in (EDIT_CALLBACK_ID, FORM_CALLBACK_ID):
            return None
    else:
        return None
    return f"slack:trigger:{body['trigger_id']}" if body.get("trigger_id") else None


def delivery_kind(body: Mapping[str, Any]) -> str:
    if body.get("command"):
        return f"command:{body['command']}"
    if body.get("type") == "event_callback":
        return f"event:{(body.get('event') or {}).get('type')}"
    return str(body.get("type") or "unknown")


def requester(body: Mapping[str, Any]) -> dict[str, Any]:
    """Who asked and where, from any stored request body (commands, interactions, events)."""
    if body.get("type") == "event_callback":
        return who_of_event(body.get("event") or {})
    return who_of(body)


def team_of(body: Mapping[str, Any], context: AsyncBoltContext) -> str:
    team = body.get("team")
    team_id = body.get("team_id") or (team.get("id") if isinstance(team, Mapping) else None)
    return str(team_id or context.team_id or context.enterprise_id or "")


def who_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """Where to tell the person about a crash, from a command or an interaction payload."""
    user = body.get("user")
    container = body.get("container") or {}
    channel = body.get("channel")
    return {
        "channel": str(
            body.get("channel_id") or (channel.get("id") if isinstance(channel, Mapping) else "") or ""
        ),
        "user": str(body.get("user_id") or (user.get("id") if isinstance(user, Mapping) else "") or ""),
        "thread": container.get("thread_ts") or container.get("message_ts"),
        "response_url": body.get("response_url"),
    }


def who_of_event(event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "channel": str(event.get("channel") or ""),
        "user": str(event.get("user") or ""),
        "thread": event.get("thread_ts") or event.get("ts"),
    }


def explain_post_failure(error: SlackApiError) -> BotError:
    reason = slack_error(error)
    if reason in ("not_in_channel", "channel_not_found"):
        return BotError(
            ErrorKind.FORBIDDEN,
            "I can't post in this channel yet: invite me with `/invite @imagebot`, then try again.",
        )
    if reason == "is_archived":
        return BotError(ErrorKind.INVALID_INPUT, "This channel is archived, so I can't post in it.")
    return BotError(ErrorKind.UNAVAILABLE, f"Slack did not let me post here ({reason}); please try again.")
