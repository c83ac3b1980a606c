"""Signed requests and payload builders for what Slack sends an app: slash commands, events, block
actions and view submissions."""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from .constants import (
    DEFAULT_APP_ID,
    DEFAULT_BOT_ID,
    DEFAULT_BOT_USER_ID,
    DEFAULT_CHANNEL_ID,
    DEFAULT_TEAM_DOMAIN,
    DEFAULT_TEAM_ID,
    DEFAULT_USER_ID,
    DEFAULT_VERIFICATION_TOKEN,
    FORM,
    _new_id,
    new_trigger_id,
    new_ts,
)
from .state import FakeSlack

# ----------------------------------------------------------------------------------------------
# Signed requests and payload builders
# ----------------------------------------------------------------------------------------------


def signed_request(
    body: str,
    content_type: str = FORM,
    *,
    secret: str,
    timestamp: int | str | None = None,
    headers: Mapping[str, str] | None = None,
    signature: str | None = None,
) -> AsyncBoltRequest:
    """An HTTP-mode ``AsyncBoltRequest`` signed like Slack signs it (v0 HMAC-SHA256).

    ``timestamp`` defaults to now; pass an old one to test replay protection. ``signature``
    overrides the computed one (tampering). ``headers`` adds e.g. ``x-slack-retry-num``.
    """
    ts = str(int(time.time())) if timestamp is None else str(timestamp)
    sig = signature or SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    hdrs: dict[str, str] = {
        "content-type": content_type,
        "x-slack-request-timestamp": ts,
        "x-slack-signature": sig,
    }
    for k, v in (headers or {}).items():
        hdrs[k.lower()] = v
    return AsyncBoltRequest(body=body, headers=hdrs)


def _response_url(fake: FakeSlack | None, channel_id: str, user_id: str, message_ts: str | None) -> str:
    if fake is not None:
        return fake.response_url(channel_id, user_id=user_id, message_ts=message_ts)
    # Not routable outside this host: a stray respond() fails fast instead of reaching the internet.
    return f"http://127.0.0.1:9/response/{secrets.token_hex(8)}"


def _team(fake: FakeSlack | None, team_id: str | None) -> str:
    return team_id or (fake.team_id if fake else DEFAULT_TEAM_ID)


def _app(fake: FakeSlack | None, api_app_id: str | None) -> str:
    return api_app_id or (fake.app_id if fake else DEFAULT_APP_ID)


def slash_command_body(
    command: str,
    text: str = "",
    user_id: str = DEFAULT_USER_ID,
    channel_id: str = DEFAULT_CHANNEL_ID,
    *,
    fake: FakeSlack | None = None,
    user_name: str = "alice",
    channel_name: str = "general",
    team_id: str | None = None,
    api_app_id: str | None = None,
    trigger_id: str | None = None,
    response_url: str | None = None,
    enterprise_id: str | None = None,
) -> str:
    """A form-encoded slash-command body (no ``thread_ts``: commands cannot be run in threads)."""
    fields = {
        "token": DEFAULT_VERIFICATION_TOKEN,
        "team_id": _team(fake, team_id),
        "team_domain": fake.team_domain if fake else DEFAULT_TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": _app(fake, api_app_id),
        "is_enterprise_install": "false",
        "response_url": response_url or _response_url(fake, channel_id, user_id, None),
        "trigger_id": trigger_id or new_trigger_id(),
    }
    if enterprise_id:
        fields["enterprise_id"] = enterprise_id
    return urllib.parse.urlencode(fields)


def _event_id() -> str:
    return "Ev" + secrets.token_hex(5).upper()


def event_body(
    event: dict[str, Any],
    event_id: str | None = None,
    *,
    fake: FakeSlack | None = None,
    team_id: str | None = None,
    api_app_id: str | None = None,
    event_time: int | None = None,
) -> str:
    """An Events API ``event_callback`` envelope (JSON string) around ``event``."""
    team = _team(fake, team_id)
    envelope = {
        "token": DEFAULT_VERIFICATION_TOKEN,
        "team_id": team,
        "context_team_id": team,
        "context_enterprise_id": None,
        "api_app_id": _app(fake, api_app_id),
        "event": event,
        "type": "event_callback",
        "event_id": event_id or _event_id(),
        "event_time": event_time or int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team,
                "user_id": fake.bot_user_id if fake else DEFAULT_BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_hex(16),
    }
    return json.dumps(envelope)


def url_verification_body(challenge: str = "challenge-token") -> str:
    return json.dumps(
        {"token": DEFAULT_VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    )


def _message_like(
    event_type: str,
    text: str,
    user_id: str,
    channel_id: str,
    ts: str | None,
    thread_ts: str | None,
    files: list[dict[str, Any]] | None,
    team_id: str,
    channel_type: str | None,
) -> dict[str, Any]:
    ts = ts or new_ts()
    event: dict[str, Any] = {
        "type": event_type,
        "user": user_id,
        "text": text,
        "ts": ts,
        "team": team_id,
        "channel": channel_id,
        "event_ts": ts,
        "client_msg_id": secrets.token_hex(16),
        "blocks": [
            {
                "type": "rich_text",
                "block_id": secrets.token_hex(3),
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
            }
        ]
        if text
        else [],
    }
    if channel_type is not None:
        event["channel_type"] = channel_type
    if thread_ts:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = user_id
    if files:
        event["files"] = files
        event["upload"] = False
        event["display_as_bot"] = False
        if event_type == "message":
            event["subtype"] = "file_share"
    return event


def message_event(
    text: str,
    *,
    user_id: str = DEFAULT_USER_ID,
    channel_id: str = DEFAULT_CHANNEL_ID,
    ts: str | None = None,
    thread_ts: str | None = None,
    files: list[dict[str, Any]] | None = None,
    team_id: str = DEFAULT_TEAM_ID,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """A ``message`` event (``message.channels``). With ``files`` it has ``subtype: file_share``."""
    return _message_like("message", text, user_id, channel_id, ts, thread_ts, files, team_id, channel_type)


def app_mention_event(
    text: str,
    *,
    bot_user_id: str = DEFAULT_BOT_USER_ID,
    user_id: str = DEFAULT_USER_ID,
    channel_id: str = DEFAULT_CHANNEL_ID,
    ts: str | None = None,
    thread_ts: str | None = None,
    files: list[dict[str, Any]] | None = None,
    team_id: str = DEFAULT_TEAM_ID,
) -> dict[str, Any]:
    """An ``app_mention`` event; ``<@bot_user_id>`` is prepended to ``text`` if absent."""
    mention = f"<@{bot_user_id}>"
    if mention not in text:
        text = f"{mention} {text}".strip()
    return _message_like("app_mention", text, user_id, channel_id, ts, thread_ts, files, team_id, None)


def _find_element(blocks: list[dict[str, Any]], action_id: str) -> tuple[str | None, dict[str, Any] | None]:
    for blk in blocks or []:
        candidates = list(blk.get("elements") or []) if blk.get("type") == "actions" else []
        if blk.get("accessory"):
            candidates.append(blk["accessory"])
        if blk.get("element"):
            candidates.append(blk["element"])
        for el in candidates:
            if isinstance(el, dict) and el.get("action_id") == action_id:
                return blk.get("block_id"), el
    return None, None


def block_actions_body(
    action_id: str,
    value: str | None = None,
    user_id: str = DEFAULT_USER_ID,
    channel_id: str | None = None,
    message_ts: str | None = None,
    thread_ts: str | None = None,
    *,
    message: dict[str, Any] | None = None,
    fake: FakeSlack | None = None,
    block_id: str | None = None,
    action_type: str | None = None,
    user_name: str = "alice",
    team_id: str | None = None,
    api_app_id: str | None = None,
    trigger_id: str | None = None,
    response_url: str | None = None,
) -> str:
    """A form-encoded ``payload=`` body for a ``block_actions`` click on a message button.

    Pass ``message`` (e.g. from ``fake.messages(...)``) to take the channel, ts, thread_ts and blocks
    from it; the clicked element must then exist in its blocks (ValueError otherwise).
    """
    if message is not None:
        channel_id = channel_id or message.get("channel")
        message_ts = message_ts or message["ts"]
        thread_ts = thread_ts or message.get("thread_ts")
    channel_id = channel_id or DEFAULT_CHANNEL_ID
    message_ts = message_ts or new_ts()
    blocks = (message or {}).get("blocks") or []
    found_block_id, element = _find_element(blocks, action_id)
    if message is not None and element is None:
        raise ValueError(f"action_id {action_id!r} is not in the message's blocks")
    element = element or {}
    if value is None:
        value = element.get("value")
    team = _team(fake, team_id)
    app_id = _app(fake, api_app_id)
    msg_body: dict[str, Any] = {
        "type": "message",
        "user": (message or {}).get("user", fake.bot_user_id if fake else DEFAULT_BOT_USER_ID),
        "bot_id": (message or {}).get("bot_id", fake.bot_id if fake else DEFAULT_BOT_ID),
        "app_id": app_id,
        "ts": message_ts,
        "text": (message or {}).get("text", ""),
        "team": team,
        "blocks": blocks,
    }
    if thread_ts:
        msg_body["thread_ts"] = thread_ts
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel_id,
        "is_ephemeral": False,
    }
    if thread_ts:
        container["thread_ts"] = thread_ts
    action: dict[str, Any] = {
        "type": action_type or element.get("type", "button"),
        "action_id": action_id,
        "block_id": block_id or found_block_id or secrets.token_hex(3),
        "action_ts": f"{time.time():.6f}",
    }
    if element.get("text"):
        action["text"] = element["text"]
    if value is not None:
        action["value"] = value
    if element.get("style"):
        action["style"] = element["style"]
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team},
        "api_app_id": app_id,
        "token": DEFAULT_VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team, "domain": fake.team_domain if fake else DEFAULT_TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_id.lower()},
        "message": msg_body,
        "state": {"values": {}},
        "response_url": response_url or _response_url(fake, channel_id, user_id, message_ts),
        "actions": [action],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def view_submission_body(
    callback_id: str,
    values: Mapping[str, Mapping[str, Any]] | None = None,
    private_metadata: str = "",
    *,
    view: dict[str, Any] | None = None,
    fake: FakeSlack | None = None,
    user_id: str = DEFAULT_USER_ID,
    user_name: str = "alice",
    team_id: str | None = None,
    api_app_id: str | None = None,
    trigger_id: str | None = None,
) -> str:
    """A form-encoded ``payload=`` body for a modal ``view_submission``.

    ``values`` is ``{block_id: {action_id: state}}``; a plain string state is wrapped as a
    ``plain_text_input`` value. Pass ``view`` (e.g. ``fake.views[-1]``) to submit that view.
    """
    state: dict[str, dict[str, Any]] = {}
    for bid, actions in (values or {}).items():
        state[bid] = {
            aid: ({"type": "plain_text_input", "value": v} if isinstance(v, str) or v is None else dict(v))
            for aid, v in actions.items()
        }
    team = _team(fake, team_id)
    app_id = _app(fake, api_app_id)
    base = dict(view or {})
    view_body = {
        "id": base.get("id") or _new_id("V"),
        "team_id": team,
        "type": "modal",
        "blocks": base.get("blocks", []),
        "private_metadata": private_metadata or base.get("private_metadata", ""),
        "callback_id": callback_id,
        "state": {"values": state},
        "hash": base.get("hash") or f"{int(time.time())}.{secrets.token_hex(4)}",
        "title": base.get("title") or {"type": "plain_text", "text": "Modal"},
        "clear_on_close": base.get("clear_on_close", False),
        "notify_on_close": base.get("notify_on_close", False),
        "close": base.get("close"),
        "submit": base.get("submit") or {"type": "plain_text", "text": "Submit"},
        "previous_view_id": base.get("previous_view_id"),
        "root_view_id": base.get("root_view_id") or base.get("id"),
        "app_id": app_id,
        "external_id": base.get("external_id", ""),
        "app_installed_team_id": team,
        "bot_id": base.get("bot_id") or (fake.bot_id if fake else DEFAULT_BOT_ID),
    }
    if view is not None and view.get("callback_id") and view["callback_id"] != callback_id:
        raise ValueError(f"view has callback_id {view['callback_id']!r}, not {callback_id!r}")
    payload = {
        "type": "view_submission",
        "team": {"id": team, "domain": fake.team_domain if fake else DEFAULT_TEAM_DOMAIN},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team},
        "api_app_id": app_id,
        "token": DEFAULT_VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": view_body,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})
