"""The fake workspace's defaults, the scope each Web API method needs, and Slack-shaped ids and
timestamps."""

from __future__ import annotations

import itertools
import re
import secrets
import string
import time
from typing import Any

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

DEFAULT_TEAM_ID = "T0FAKETEAM"
DEFAULT_TEAM_DOMAIN = "fake-team"
DEFAULT_APP_ID = "A0FAKEAPP"
DEFAULT_BOT_USER_ID = "U0FAKEBOT"
DEFAULT_BOT_ID = "B0FAKEBOT"
DEFAULT_USER_ID = "U0ALICE"
DEFAULT_CHANNEL_ID = "C0GENERAL"
DEFAULT_VERIFICATION_TOKEN = "fake-verification-token"
DEFAULT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "channels:read",
    "chat:write",
    "commands",
    "files:read",
    "files:write",
    "groups:history",
    "im:history",
    "users:read",
)

# Scope needed by each method (None: no scope needed).
_METHOD_SCOPES: dict[str, str | None] = {
    "apps.connections.open": None,  # the app-level token's connections:write, not a bot scope
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "chat.postEphemeral": "chat:write",
    "views.open": None,
    "views.push": None,
    "views.update": None,
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "files.info": "files:read",
    "conversations.info": "channels:read",
    "conversations.replies": "channels:history",
    "users.info": "users:read",
}

_EVENT_TYPE = re.compile(r"[A-Za-z0-9_]{1,255}")

# Pseudo-methods accepted by fail_next() for non-API routes.
UPLOAD = "upload"
DOWNLOAD = "download"
RESPONSE_URL = "response_url"

_LOGIN_PAGE = (
    '<!DOCTYPE html><html lang="en-US"><head><meta charset="utf-8"><title>Slack</title></head>'
    '<body><h1>Sign in to your workspace</h1><form action="/signin" method="post">'
    '<input type="email" name="email"><button type="submit">Sign in</button></form></body></html>'
)

_id_counter = itertools.count(1)
_ts_state = {"last_us": 0}


def _new_id(prefix: str) -> str:
    """A Slack-looking id: prefix + 10 upper-case base-36 characters, unique in this process."""
    n = next(_id_counter)
    alphabet = string.digits + string.ascii_uppercase
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = alphabet[r] + out
    return prefix + out.rjust(10, "0")


def new_ts() -> str:
    """A fresh, strictly increasing Slack message timestamp ("1712345678.000123")."""
    us = max(_ts_state["last_us"] + 1, int(time.time() * 1_000_000))
    _ts_state["last_us"] = us
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


def new_trigger_id() -> str:
    """A trigger_id shaped like Slack's ("<digits>.<digits>.<32 hex>")."""
    return f"{int(time.time() * 1000)}.{next(_id_counter)}.{secrets.token_hex(16)}"


def _is_trigger_id(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = value.split(".")
    return len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit() and len(parts[2]) >= 8


def _looks_like_channel(value: Any) -> bool:
    return isinstance(value, str) and len(value) >= 3 and value[0] in "CGD" and value.isalnum()


def _looks_like_ts(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    head, _, tail = value.partition(".")
    return head.isdigit() and tail.isdigit() and len(tail) == 6
