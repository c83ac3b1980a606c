"""A strict, stateful local fake of the Slack Web API, plus signed-request builders.

The fake is the far end of the wire for the REAL ``slack_sdk.web.async_client.AsyncWebClient`` and
``slack_bolt.async_app.AsyncApp``:

    async with FakeSlack() as fake:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
        app = AsyncApp(client=client, signing_secret=SECRET)
        req = signed_request(slash_command_body("/imagine", "a cat", fake=fake), FORM, secret=SECRET)
        resp = await app.async_dispatch(req)
        await fake.wait_for(lambda: fake.messages("C0CHAN"))

It serves, on 127.0.0.1 with an ephemeral port:

* ``/api/<method>``: the Web API methods the bot uses. Arguments are merged from the query string, a
  form-encoded or multipart body and a JSON body (slack-sdk sends ``chat.*``/``views.*`` as JSON and
  ``files.*`` as query params). A bot token is required (``Authorization: Bearer`` or a ``token``
  body param), and scopes are checked.
* ``/upload/<id>``: the upload URL handed out by ``files.getUploadURLExternal`` (raw bytes or
  multipart, no auth, like ``files.slack.com/upload/v1``).
* ``/files-pri/<team>-<file_id>/<name>`` and ``.../download/<name>``: file downloads. Without a valid
  bot token carrying ``files:read`` they answer an HTML login page with status 200, as Slack does.
* ``/response/<id>``: ``response_url`` endpoints minted by :meth:`FakeSlack.response_url`.
* ``/link/?ticket=...``: the Socket Mode WebSocket handed out by ``apps.connections.open`` (which
  takes the app-level token). It says ``hello``, sends what :meth:`FakeSlack.send_envelope` is given
  and records every acknowledgement in ``fake.acks``.

It is strict: an unknown method or route answers ``unknown_method``, is recorded in
``fake.unexpected`` and makes ``__aexit__`` (and any pending :meth:`FakeSlack.wait_for`) fail.
Block Kit payloads and modal views are validated against Slack's documented limits.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import mimetypes
import re
import secrets
import string
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_BOT_ID",
    "DEFAULT_BOT_USER_ID",
    "DEFAULT_CHANNEL_ID",
    "DEFAULT_SCOPES",
    "DEFAULT_TEAM_ID",
    "DEFAULT_USER_ID",
    "FORM",
    "JSON",
    "Call",
    "FakeSlack",
    "app_mention_event",
    "block_actions_body",
    "event_body",
    "message_event",
    "new_trigger_id",
    "new_ts",
    "signed_request",
    "slash_command_body",
    "url_verification_body",
    "validate_blocks",
    "validate_view",
    "view_submission_body",
]

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


# ----------------------------------------------------------------------------------------------
# Block Kit validation
# ----------------------------------------------------------------------------------------------

_TEXT_TYPES = ("plain_text", "mrkdwn")
_INTERACTIVE_ELEMENTS = {
    "button",
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "timepicker",
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
    "overflow",
    "radio_buttons",
    "plain_text_input",
    "number_input",
    "email_text_input",
    "url_text_input",
    "rich_text_input",
    "file_input",
    "workflow_button",
}
_INPUT_ELEMENTS = _INTERACTIVE_ELEMENTS - {"button", "overflow", "workflow_button"}
_BLOCK_TYPES = {
    "actions",
    "context",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "video",
}


class _BlockChecker:
    """Collects Slack-style error strings ("... [json-pointer:/blocks/0/text/text]")."""

    def __init__(self, known_file_ids: Iterable[str] | None = None) -> None:
        self.errors: list[str] = []
        self.action_ids: dict[str, str] = {}
        self.block_ids: dict[str, str] = {}
        self.known_file_ids = set(known_file_ids) if known_file_ids is not None else None

    def err(self, msg: str, ptr: str) -> None:
        self.errors.append(f"{msg} [json-pointer:{ptr}]")

    def max_len(self, value: Any, limit: int, ptr: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.err(f"must be less than {limit + 1} characters", ptr)

    def text(
        self, obj: Any, ptr: str, *, limit: int, plain_only: bool = False, required: bool = True
    ) -> None:
        if obj is None:
            if required:
                self.err("missing required field: text", ptr)
            return
        if not isinstance(obj, dict):
            self.err("must be a text object", ptr)
            return
        ttype = obj.get("type")
        allowed = ("plain_text",) if plain_only else _TEXT_TYPES
        if ttype not in allowed:
            self.err(f"must be one of {list(allowed)}", f"{ptr}/type")
        value = obj.get("text")
        if not isinstance(value, str) or not value:
            self.err("must be more than 0 characters", f"{ptr}/text")
        else:
            self.max_len(value, limit, f"{ptr}/text")
        if "emoji" in obj and ttype != "plain_text":
            self.err("emoji is only allowed on plain_text", f"{ptr}/emoji")
        if "verbatim" in obj and ttype != "mrkdwn":
            self.err("verbatim is only allowed on mrkdwn", f"{ptr}/verbatim")

    def action_id(self, element: dict, ptr: str) -> None:
        aid = element.get("action_id")
        if aid is None:
            return
        if not isinstance(aid, str) or not aid:
            self.err("must be a non-empty string", f"{ptr}/action_id")
            return
        self.max_len(aid, 255, f"{ptr}/action_id")
        if aid in self.action_ids:
            self.err(f"duplicate action_id {aid!r} (first at {self.action_ids[aid]})", f"{ptr}/action_id")
        else:
            self.action_ids[aid] = ptr

    def options(self, opts: Any, ptr: str, *, max_items: int, min_items: int = 1) -> None:
        if not isinstance(opts, list):
            self.err("must be an array", ptr)
            return
        if len(opts) < min_items:
            self.err(f"must provide at least {min_items} items", ptr)
        if len(opts) > max_items:
            self.err(f"must be less than {max_items + 1} items", ptr)
        for i, opt in enumerate(opts):
            p = f"{ptr}/{i}"
            if not isinstance(opt, dict):
                self.err("must be an option object", p)
                continue
            self.text(opt.get("text"), f"{p}/text", limit=75)
            value = opt.get("value")
            if not isinstance(value, str) or not value:
                self.err("must be more than 0 characters", f"{p}/value")
            else:
                self.max_len(value, 150, f"{p}/value")

    def image_source(self, obj: dict, ptr: str, url_key: str) -> None:
        url = obj.get(url_key)
        slack_file = obj.get("slack_file")
        if (url is None) == (slack_file is None):
            self.err(f"must provide exactly one of {url_key} or slack_file", ptr)
        if url is not None:
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                self.err("must be a valid http(s) URL", f"{ptr}/{url_key}")
            else:
                self.max_len(url, 3000, f"{ptr}/{url_key}")
        if slack_file is not None:
            if not isinstance(slack_file, dict) or not (slack_file.get("id") or slack_file.get("url")):
                self.err("invalid slack file", f"{ptr}/slack_file")
            elif (
                self.known_file_ids is not None
                and slack_file.get("id")
                and slack_file["id"] not in self.known_file_ids
            ):
                self.err("invalid slack file", f"{ptr}/slack_file")
        alt = obj.get("alt_text")
        if not isinstance(alt, str) or not alt:
            self.err("missing required field: alt_text", f"{ptr}/alt_text")
        else:
            self.max_len(alt, 2000, f"{ptr}/alt_text")

    def element(self, el: Any, ptr: str, *, allowed: set[str]) -> None:
        if not isinstance(el, dict):
            self.err("must be an element object", ptr)
            return
        etype = el.get("type")
        if etype == "image" and "image" in allowed:
            self.image_source(el, ptr, "image_url")
            return
        if etype not in allowed:
            self.err(f"unsupported element type {etype!r}", f"{ptr}/type")
            return
        self.action_id(el, ptr)
        if etype == "button":
            self.text(el.get("text"), f"{ptr}/text", limit=75, plain_only=True)
            self.max_len(el.get("value"), 2000, f"{ptr}/value")
            self.max_len(el.get("url"), 3000, f"{ptr}/url")
            if "style" in el and el["style"] not in ("primary", "danger"):
                self.err("must be one of [primary, danger]", f"{ptr}/style")
        elif etype in ("static_select", "multi_static_select"):
            if "options" in el:
                self.options(el["options"], f"{ptr}/options", max_items=100)
            elif "option_groups" not in el:
                self.err("must provide options or option_groups", ptr)
        elif etype == "overflow":
            self.options(el.get("options"), f"{ptr}/options", max_items=5, min_items=1)
        elif etype in ("checkboxes", "radio_buttons"):
            self.options(el.get("options"), f"{ptr}/options", max_items=10)
        if "placeholder" in el:
            self.text(el["placeholder"], f"{ptr}/placeholder", limit=150, plain_only=True)

    def block(self, blk: Any, ptr: str) -> None:
        if not isinstance(blk, dict):
            self.err("must be a block object", ptr)
            return
        btype = blk.get("type")
        if btype not in _BLOCK_TYPES:
            self.err(f"unsupported block type {btype!r}", f"{ptr}/type")
            return
        bid = blk.get("block_id")
        if bid is not None:
            if not isinstance(bid, str) or not bid:
                self.err("must be a non-empty string", f"{ptr}/block_id")
            else:
                self.max_len(bid, 255, f"{ptr}/block_id")
                if bid in self.block_ids:
                    self.err(f"duplicate block_id {bid!r}", f"{ptr}/block_id")
                else:
                    self.block_ids[bid] = ptr
        if btype == "section":
            has_text = "text" in blk
            fields = blk.get("fields")
            if not has_text and not fields:
                self.err("must provide text or fields", ptr)
            if has_text:
                self.text(blk["text"], f"{ptr}/text", limit=3000)
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > 10:
                    self.err("must be less than 11 items", f"{ptr}/fields")
                else:
                    for i, f in enumerate(fields):
                        self.text(f, f"{ptr}/fields/{i}", limit=2000)
            if "accessory" in blk:
                self.element(blk["accessory"], f"{ptr}/accessory", allowed=_INTERACTIVE_ELEMENTS | {"image"})
        elif btype == "actions":
            elements = blk.get("elements")
            if not isinstance(elements, list) or not elements:
                self.err("must provide at least 1 items", f"{ptr}/elements")
                return
            if len(elements) > 25:
                self.err("must be less than 26 items", f"{ptr}/elements")
            for i, el in enumerate(elements):
                self.element(el, f"{ptr}/elements/{i}", allowed=_INTERACTIVE_ELEMENTS)
        elif btype == "context":
            elements = blk.get("elements")
            if not isinstance(elements, list) or not elements:
                self.err("must provide at least 1 items", f"{ptr}/elements")
                return
            if len(elements) > 10:
                self.err("must be less than 11 items", f"{ptr}/elements")
            for i, el in enumerate(elements):
                p = f"{ptr}/elements/{i}"
                if isinstance(el, dict) and el.get("type") in _TEXT_TYPES:
                    self.text(el, p, limit=3000)
                elif isinstance(el, dict) and el.get("type") == "image":
                    self.image_source(el, p, "image_url")
                else:
                    self.err("must be a text or image element", p)
        elif btype == "header":
            self.text(blk.get("text"), f"{ptr}/text", limit=150, plain_only=True)
        elif btype == "image":
            self.image_source(blk, ptr, "image_url")
            if "title" in blk:
                self.text(blk["title"], f"{ptr}/title", limit=2000, plain_only=True)
        elif btype == "input":
            self.text(blk.get("label"), f"{ptr}/label", limit=2000, plain_only=True)
            if "hint" in blk:
                self.text(blk["hint"], f"{ptr}/hint", limit=2000, plain_only=True)
            if "element" not in blk:
                self.err("missing required field: element", ptr)
            else:
                self.element(blk["element"], f"{ptr}/element", allowed=_INPUT_ELEMENTS)
        elif btype == "markdown":
            text = blk.get("text")
            if not isinstance(text, str) or not text:
                self.err("must be more than 0 characters", f"{ptr}/text")
            else:
                self.max_len(text, 12000, f"{ptr}/text")


def validate_blocks(
    blocks: Any,
    *,
    max_blocks: int = 50,
    pointer: str = "/blocks",
    known_file_ids: Iterable[str] | None = None,
) -> list[str]:
    """Validate a Block Kit ``blocks`` array like Slack does. Returns Slack-style error strings."""
    checker = _BlockChecker(known_file_ids)
    if not isinstance(blocks, list):
        checker.err("must be an array", pointer)
        return checker.errors
    if len(blocks) > max_blocks:
        checker.err(f"must be less than {max_blocks + 1} items", pointer)
    for i, blk in enumerate(blocks):
        checker.block(blk, f"{pointer}/{i}")
    return checker.errors


def validate_view(view: Any, *, known_file_ids: Iterable[str] | None = None) -> list[str]:
    """Validate a modal view (views.open / views.push / views.update)."""
    errors: list[str] = []
    if not isinstance(view, dict):
        return ["must be a view object [json-pointer:/view]"]
    checker = _BlockChecker(known_file_ids)
    if view.get("type") != "modal":
        checker.err("must be modal", "/view/type")
    checker.text(view.get("title"), "/view/title", limit=24, plain_only=True)
    for key in ("submit", "close"):
        if key in view:
            checker.text(view[key], f"/view/{key}", limit=24, plain_only=True)
    checker.max_len(view.get("callback_id"), 255, "/view/callback_id")
    checker.max_len(view.get("external_id"), 255, "/view/external_id")
    pm = view.get("private_metadata")
    if pm is not None and not isinstance(pm, str):
        checker.err("must be a string", "/view/private_metadata")
    checker.max_len(pm, 3000, "/view/private_metadata")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        checker.err("must be an array", "/view/blocks")
    else:
        if len(blocks) > 100:
            checker.err("must be less than 101 items", "/view/blocks")
        for i, blk in enumerate(blocks):
            checker.block(blk, f"/view/blocks/{i}")
        if any(isinstance(b, dict) and b.get("type") == "input" for b in blocks) and "submit" not in view:
            checker.err("submit is required when an input block is within the blocks array", "/view")
    errors.extend(checker.errors)
    return errors


# ----------------------------------------------------------------------------------------------
# Records
# ----------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One request seen by the fake (API methods and pseudo-methods upload/download/response_url)."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    status: int = 200
    response: Any = None

    @property
    def ok(self) -> bool:
        return isinstance(self.response, dict) and self.response.get("ok") is True


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    error: str
    times: int


@dataclass
class _Window:
    """A fault for every call until ``until`` (time.monotonic)."""

    status: int
    retry_after: int | None
    error: str
    until: float


@dataclass
class _StoredFile:
    id: str
    name: str
    title: str
    mimetype: str
    filetype: str
    data: bytes | None
    user: str
    created: int
    alt_txt: str | None = None
    declared_length: int | None = None
    completed: bool = False
    size: int | None = None  # what the file object says, when it lies (None: the real size)
    stream_bytes: int | None = None  # serve this many bytes, streamed without Content-Length
    extra: dict[str, Any] = field(default_factory=dict)


def _filetype_for(name: str, mimetype: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext == "jpeg":
        ext = "jpg"
    if ext:
        return ext
    guessed = mimetypes.guess_extension(mimetype) or ""
    return guessed.lstrip(".") or "binary"


def _image_dims(data: bytes | None) -> tuple[int, int] | None:
    if not data:
        return None
    try:
        import io

        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:
        return None


def _loads_maybe(value: Any) -> Any:
    """Form/query-encoded arrays and objects (blocks, files, view) arrive as JSON strings."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# ----------------------------------------------------------------------------------------------
# The fake server
# ----------------------------------------------------------------------------------------------


class FakeSlack:
    """A strict, stateful local Slack Web API. Use as ``async with FakeSlack() as fake:``."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
        team_id: str = DEFAULT_TEAM_ID,
        team_domain: str = DEFAULT_TEAM_DOMAIN,
        bot_user_id: str = DEFAULT_BOT_USER_ID,
        bot_id: str = DEFAULT_BOT_ID,
        app_id: str = DEFAULT_APP_ID,
        scopes: Iterable[str] = DEFAULT_SCOPES,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.scopes: set[str] = set(scopes)

        self.calls: list[Call] = []
        self.unexpected: list[str] = []
        self.uploads: list[dict[str, Any]] = []  # one per upload-URL POST
        self.views: list[dict[str, Any]] = []  # current state of every opened view
        self.view_calls: list[dict[str, Any]] = []  # every views.open/push/update
        self.ephemerals: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []  # posts to response_url
        self.downloads: list[dict[str, Any]] = []
        self.streamed: list[dict[str, Any]] = []  # streamed downloads: bytes sent, and whether done
        self.channels: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.files: dict[str, _StoredFile] = {}
        self._messages: list[dict[str, Any]] = []
        self._deleted: list[dict[str, Any]] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._triggers_used: set[str] = set()
        self._triggers_expired: set[str] = set()
        self._response_urls: dict[str, dict[str, Any]] = {}
        self._event = asyncio.Event()
        self._holds: dict[str, asyncio.Event] = {}
        self._windows: dict[str, _Window] = {}
        self._answer_holds: dict[str, tuple[Callable[[dict[str, Any]], bool], asyncio.Event]] = {}
        self.held: list[str] = []  # methods of calls that arrived while held (see hold())
        self.dropped: list[str] = []  # held calls whose caller hung up before the release
        self.sockets: list[web.WebSocketResponse] = []  # open Socket Mode connections, oldest first
        self.acks: list[dict[str, Any]] = []  # every message the app sent over a socket
        self._tickets: set[str] = set()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/{upload_id}", self._handle_upload)
        app.router.add_get("/files-pri/{team_file}/download/{name}", self._handle_download)
        app.router.add_get("/files-pri/{team_file}/{name}", self._handle_download)
        app.router.add_post("/response/{rid}", self._handle_response_url)
        app.router.add_get("/link/", self._handle_socket)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        for socket in list(self.sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close()
        if self.unexpected:
            report = "FakeSlack saw unexpected requests:\n  " + "\n  ".join(self.unexpected)
            if exc is not None:
                exc.add_note(report)
                return
            raise AssertionError(report)

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """For ``AsyncWebClient(base_url=...)`` (trailing slash included, as slack-sdk expects)."""
        return f"{self.base_url}/api/"

    # -- scripting ------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        error: str | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail.

        ``status=429`` answers HTTP 429 with an integer ``Retry-After`` header (slack-sdk does
        ``int(header)``: it must be an integer) and ``{"ok": false, "error": "ratelimited"}``.
        ``status=500``/``503`` answer a server error; ``status=200`` answers ``ok: false`` with
        ``error`` (e.g. ``channel_not_found``, ``not_in_channel``). ``method`` may also be
        ``"upload"``, ``"download"`` or ``"response_url"``.
        """
        if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, int)):
            raise TypeError("retry_after must be an int: Slack sends integer seconds and slack-sdk int()s it")
        if error is None:
            error = {429: "ratelimited", 200: "internal_error"}.get(status, "internal_error")
        self._failures.setdefault(method, []).append(
            _Failure(
                status=status, retry_after=retry_after if status == 429 else None, error=error, times=times
            )
        )

    def fail_for(
        self, method: str, seconds: float, *, status: int = 429, retry_after: int | None = 1
    ) -> None:
        """Make every call of ``method`` fail for the next ``seconds`` (a rate limit or an outage
        that lasts, not a number of calls): ``status=429`` answers ``ratelimited`` with an integer
        ``Retry-After``; ``500``/``503`` a server error. ``method`` may be ``"upload"`` (the upload
        URL). Failed calls are recorded in ``calls`` with their status."""
        if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, int)):
            raise TypeError("retry_after must be an int: Slack sends integer seconds and slack-sdk int()s it")
        error = "ratelimited" if status == 429 else "internal_error"
        self._windows[method] = _Window(
            status=status,
            retry_after=retry_after if status == 429 else None,
            error=error,
            until=time.monotonic() + seconds,
        )
        # The end of the window is a change that wait_for() sees (see failing()).
        asyncio.get_running_loop().call_later(seconds, self._changed)

    def failing(self, method: str) -> bool:
        """Whether a fail_for() window of ``method`` is still open."""
        window = self._windows.get(method)
        return window is not None and time.monotonic() < window.until

    def hold_answer(self, method: str, when: Callable[[dict[str, Any]], bool] = lambda args: True) -> None:
        """Carry out calls of ``method`` whose arguments match ``when`` (the message is posted)
        but hold their answer until :meth:`release`: counted in ``held`` on arrival, so a test can
        kill the caller after Slack did the work and before the caller learnt of it."""
        self._answer_holds[method] = (when, asyncio.Event())

    def hold(self, method: str) -> None:
        """Hold calls of ``method`` (e.g. ``chat.postMessage``) until :meth:`release`: each is
        counted in ``held`` on arrival and waits. A held call whose caller has gone away by the
        release (a killed process) is dropped, as if it had never reached Slack."""
        self._holds.setdefault(method, asyncio.Event())

    def release(self, method: str) -> None:
        gate = self._holds.pop(method, None)
        if gate is not None:
            gate.set()
        answer = self._answer_holds.pop(method, None)
        if answer is not None:
            answer[1].set()

    async def send_envelope(
        self,
        kind: str,
        payload: Mapping[str, Any] | str,
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Send a Socket Mode envelope (``slash_commands``, ``interactive`` or ``events_api``) over
        the newest open connection; returns its envelope id (pass one to send a redelivery).
        ``payload`` may be a form body (``slash_command_body``) or a JSON one (``event_body``)."""
        if not self.sockets:
            raise AssertionError("FakeSlack: no Socket Mode connection is open")
        if isinstance(payload, str):
            payload = (
                json.loads(payload) if payload.startswith("{") else dict(urllib.parse.parse_qsl(payload))
            )
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id or str(uuid.uuid4()),
            "payload": dict(payload),
            "type": kind,
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": retry_reason}
        await self.sockets[-1].send_json(envelope)
        return str(envelope["envelope_id"])

    def acked(self, envelope_id: str) -> list[dict[str, Any]]:
        """The acknowledgements received for ``envelope_id`` (one per delivery acked)."""
        return [a for a in self.acks if a.get("envelope_id") == envelope_id]

    def add_channel(
        self, channel_id: str, *, name: str | None = None, is_member: bool = True, is_private: bool = False
    ) -> dict[str, Any]:
        """Register a channel. Unregistered ids that look like channel ids are accepted as member."""
        info = {
            "id": channel_id,
            "name": name or channel_id.lower(),
            "is_channel": not is_private and channel_id.startswith("C"),
            "is_group": is_private,
            "is_im": channel_id.startswith("D"),
            "is_private": is_private,
            "is_member": is_member,
            "is_archived": False,
            "created": int(time.time()),
            "context_team_id": self.team_id,
        }
        self.channels[channel_id] = info
        self._changed()
        return info

    def expire_trigger(self, trigger_id: str) -> None:
        """Make ``trigger_id`` expired (views.open answers ``expired_trigger_id``)."""
        self._triggers_expired.add(trigger_id)

    def response_url(
        self, channel_id: str, *, user_id: str | None = None, message_ts: str | None = None
    ) -> str:
        """Mint a response_url on this server (as Slack puts in commands and interactive payloads)."""
        rid = secrets.token_hex(8)
        self._response_urls[rid] = {
            "channel": channel_id,
            "user": user_id,
            "message_ts": message_ts,
            "uses": 0,
        }
        return f"{self.base_url}/response/{rid}"

    def add_user_file(
        self,
        filename: str,
        data: bytes,
        mimetype: str | None = None,
        *,
        user_id: str = DEFAULT_USER_ID,
        title: str | None = None,
        size: int | None = None,
        stream_bytes: int | None = None,
    ) -> dict[str, Any]:
        """Register a file uploaded by a user; returns the Slack file object for event fixtures.

        ``size`` makes the file object declare a size other than the real one. ``stream_bytes``
        serves that many bytes (``data``, then zeros) in chunks without a Content-Length, as a
        host whose metadata lied would; ``fake.streamed`` records how much was actually sent
        before the client stopped reading.
        """
        mimetype = mimetype or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        sf = _StoredFile(
            id=_new_id("F"),
            name=filename,
            title=title or filename.rsplit(".", 1)[0],
            mimetype=mimetype,
            filetype=_filetype_for(filename, mimetype),
            data=bytes(data),
            user=user_id,
            created=int(time.time()),
            completed=True,
            size=size,
            stream_bytes=stream_bytes,
        )
        self.files[sf.id] = sf
        self._changed()
        return self.file_object(sf.id)

    def add_user_message(
        self,
        channel: str,
        text: str,
        *,
        user_id: str = DEFAULT_USER_ID,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Record a message posted by a user (e.g. the parent of a thread) and return it."""
        msg: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "user": user_id,
            "text": text,
            "ts": new_ts(),
            "team": self.team_id,
        }
        if thread_ts:
            msg["thread_ts"] = thread_ts
        if files:
            msg["files"] = files
            msg["upload"] = False
        self._messages.append(msg)
        self._changed()
        return dict(msg)

    # -- inspection -----------------------------------------------------------------------------

    def messages(
        self, channel: str | None = None, thread_ts: str | None = None, *, top_level: bool = False
    ) -> list[dict[str, Any]]:
        """Messages (bot and user) in ``channel`` in posting order.

        With ``thread_ts``: only the replies in that thread (the parent excluded). With
        ``top_level=True``: only messages that are not replies.
        """
        out = []
        for m in self._messages:
            if channel is not None and m["channel"] != channel:
                continue
            if thread_ts is not None and (m.get("thread_ts") != thread_ts or m["ts"] == thread_ts):
                continue
            if top_level and m.get("thread_ts") not in (None, m["ts"]):
                continue
            out.append(m)
        return out

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        for m in self._messages:
            if m["channel"] == channel and m["ts"] == ts:
                return m
        return None

    @property
    def deleted_messages(self) -> list[dict[str, Any]]:
        return list(self._deleted)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def file_bytes(self, file_id: str) -> bytes | None:
        sf = self.files.get(file_id)
        return sf.data if sf else None

    def file_object(self, file_id: str) -> dict[str, Any]:
        sf = self.files[file_id]
        tf = f"{self.team_id}-{sf.id}"
        quoted = urllib.parse.quote(sf.name)
        obj: dict[str, Any] = {
            "id": sf.id,
            "created": sf.created,
            "timestamp": sf.created,
            "name": sf.name,
            "title": sf.title,
            "mimetype": sf.mimetype,
            "filetype": sf.filetype,
            "pretty_type": sf.filetype.upper(),
            "user": sf.user,
            "user_team": self.team_id,
            "editable": False,
            "size": sf.size if sf.size is not None else len(sf.data) if sf.data is not None else 0,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": True,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{self.base_url}/files-pri/{tf}/{quoted}",
            "url_private_download": f"{self.base_url}/files-pri/{tf}/download/{quoted}",
            "permalink": f"{self.base_url}/files/{sf.user}/{sf.id}/{quoted}",
            "permalink_public": f"{self.base_url}/{tf}-{secrets.token_hex(5)}",
            "has_rich_preview": False,
            "file_access": "visible",
        }
        if sf.alt_txt:
            obj["alt_txt"] = sf.alt_txt
        dims = _image_dims(sf.data) if sf.mimetype.startswith("image/") else None
        if dims:
            obj["original_w"], obj["original_h"] = dims
        obj.update(sf.extra)
        return obj

    # -- waiting --------------------------------------------------------------------------------

    def _changed(self) -> None:
        ev, self._event = self._event, asyncio.Event()
        ev.set()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every state change); return its value.

        Fails at once if the fake has seen an unexpected request, and with an AssertionError after
        ``timeout`` seconds listing the recent calls.
        """

        async def loop() -> Any:
            while True:
                ev = self._event
                if self.unexpected:
                    raise AssertionError("FakeSlack saw unexpected requests: " + "; ".join(self.unexpected))
                result = predicate()
                if result:
                    return result
                await ev.wait()

        try:
            return await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            recent = ", ".join(f"{c.method}->{c.status}" for c in self.calls[-15:])
            raise AssertionError(
                f"FakeSlack.wait_for timed out after {timeout}s; recent calls: {recent}"
            ) from None

    # -- HTTP plumbing --------------------------------------------------------------------------

    def _take_failure(self, method: str) -> _Failure | None:
        window = self._windows.get(method)
        if window is not None:
            if time.monotonic() < window.until:
                return _Failure(window.status, window.retry_after, window.error, times=1)
            del self._windows[method]
        queue = self._failures.get(method)
        if not queue:
            return None
        f = queue[0]
        f.times -= 1
        if f.times <= 0:
            queue.pop(0)
        return f

    def _failure_response(self, f: _Failure) -> tuple[int, dict[str, Any], dict[str, str]]:
        headers = {}
        if f.status == 429 and f.retry_after is not None:
            headers["Retry-After"] = str(f.retry_after)
        return f.status, {"ok": False, "error": f.error}, headers

    def _record(
        self, method: str, args: dict[str, Any], request: web.Request, status: int, response: Any
    ) -> None:
        hdrs = {k.lower(): v for k, v in request.headers.items()}
        self.calls.append(Call(method=method, args=args, headers=hdrs, status=status, response=response))
        self._changed()

    def _unexpected(self, what: str) -> None:
        self.unexpected.append(what)
        self._changed()

    async def _read_args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if request.can_read_body:
            if ctype == "application/json":
                raw = await request.read()
                if raw:
                    body = json.loads(raw)
                    if not isinstance(body, dict):
                        raise ValueError("JSON body must be an object")
                    args.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                args.update(form.items())  # multipart file parts stay aiohttp FileField objects
            else:
                raw = await request.read()
                if raw:
                    raise ValueError(f"unsupported content type {ctype!r}")
        return args

    def _authorized(self, request: web.Request, args: Mapping[str, Any], token: str) -> bool:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :].strip() == token
        return args.get("token") == token and request.method == "POST" and "token" not in request.query

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            args = await self._read_args(request)
        except ValueError as e:
            self._unexpected(f"{request.method} {request.path}: unreadable body ({e})")
            return web.json_response({"ok": False, "error": "invalid_form_data"})
        handler = self._methods().get(method)
        if handler is None:
            self._unexpected(f"{request.method} {request.path} (unknown method {method!r})")
            body = {"ok": False, "error": "unknown_method"}
            self._record(method, args, request, 200, body)
            return web.json_response(body)
        gate = self._holds.get(method)
        if gate is not None:
            self.held.append(method)
            self._changed()
            await gate.wait()
            transport = request.transport
            if transport is None or transport.is_closing():
                self.dropped.append(method)
                self._changed()
                return web.json_response({"ok": False, "error": "caller_gone"})
        # Only apps.connections.open takes the app-level token, and only it.
        token = self.app_token if method == "apps.connections.open" else self.bot_token
        authorized = self._authorized(request, args, token)
        args.pop("token", None)
        status, body, headers = 200, None, {}
        if not authorized:
            body = {
                "ok": False,
                "error": "not_authed" if not request.headers.get("Authorization") else "invalid_auth",
            }
        else:
            failure = self._take_failure(method)
            if failure is not None:
                status, body, headers = self._failure_response(failure)
            else:
                needed = _METHOD_SCOPES.get(method)
                if needed and needed not in self.scopes:
                    body = {
                        "ok": False,
                        "error": "missing_scope",
                        "needed": needed,
                        "provided": ",".join(sorted(self.scopes)),
                    }
                else:
                    body = handler(args)
        answer_hold = self._answer_holds.get(method)
        if answer_hold is not None and isinstance(body, dict) and body.get("ok") and answer_hold[0](args):
            self.held.append(method)
            self._changed()
            await answer_hold[1].wait()
        self._record(method, args, request, status, body)
        headers["x-oauth-scopes"] = ",".join(sorted(self.scopes))
        return web.json_response(body, status=status, headers=headers)

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            self._unexpected(f"GET {request.path_qs} (Socket Mode ticket not issued or used already)")
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        self._tickets.discard(ticket)
        socket = web.WebSocketResponse()  # autoping: answers the client's pings as Slack does
        await socket.prepare(request)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self.sockets) + 1,
                "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        self.sockets.append(socket)
        self._changed()
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(message.data)
                except ValueError:
                    data = None
                if not isinstance(data, dict) or not data.get("envelope_id"):
                    self._unexpected(f"Socket Mode message without an envelope_id: {message.data[:200]!r}")
                    continue
                self.acks.append(data)
                self._changed()
        finally:
            self.sockets.remove(socket)  # closed by either side, or the app's process died
            self._changed()
        return socket

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        self._unexpected(f"{request.method} {request.path_qs} (unknown route)")
        return web.json_response({"ok": False, "error": "unknown_method"}, status=404)

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "apps.connections.open": self._apps_connections_open,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "files.info": self._files_info,
            "conversations.info": self._conversations_info,
            "conversations.replies": self._conversations_replies,
            "users.info": self._users_info,
        }

    # -- helpers for methods --------------------------------------------------------------------

    def _channel_error(self, channel: Any) -> str | None:
        if not channel:
            return "channel_not_found"
        info = self.channels.get(channel)
        if info is None:
            return None if _looks_like_channel(channel) else "channel_not_found"
        if info.get("is_archived"):
            return "is_archived"
        if not info.get("is_member"):
            return "not_in_channel"
        return None

    def _blocks_error(self, args: dict[str, Any]) -> dict[str, Any] | None:
        if "blocks" not in args or args["blocks"] in (None, ""):
            args.pop("blocks", None)
            return None
        args["blocks"] = _loads_maybe(args["blocks"])
        errors = validate_blocks(args["blocks"], known_file_ids=self.files.keys())
        if errors:
            return {
                "ok": False,
                "error": "invalid_blocks",
                "errors": errors,
                "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
            }
        return None

    @staticmethod
    def _text_error(args: dict[str, Any]) -> str | None:
        text = args.get("text")
        if not text and not args.get("blocks") and not args.get("attachments"):
            return "no_text"
        if isinstance(text, str) and len(text) > 40000:
            return "msg_too_long"
        return None

    def _thread_error(self, channel: str, thread_ts: Any) -> str | None:
        if thread_ts in (None, ""):
            return None
        if not _looks_like_ts(thread_ts):
            return "invalid_thread_ts"
        return None

    def _bot_message(self, channel: str, args: dict[str, Any]) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": new_ts(),
            "text": args.get("text") or "",
        }
        if args.get("blocks"):
            msg["blocks"] = args["blocks"]
        if args.get("attachments"):
            msg["attachments"] = _loads_maybe(args["attachments"])
        if args.get("thread_ts"):
            msg["thread_ts"] = str(args["thread_ts"])
            if str(args.get("reply_broadcast", "")).lower() in ("1", "true"):
                msg["subtype"] = "thread_broadcast"
        if args.get("metadata"):
            msg["metadata"] = _loads_maybe(args["metadata"])
        return msg

    @staticmethod
    def _metadata_error(args: dict[str, Any]) -> str | None:
        """Message metadata as Slack checks it: an object with a word-like ``event_type`` and an
        object ``event_payload``."""
        if args.get("metadata") in (None, ""):
            args.pop("metadata", None)
            return None
        metadata = _loads_maybe(args["metadata"])
        if not isinstance(metadata, dict) or set(metadata) - {"event_type", "event_payload"}:
            return "invalid_metadata_format"
        event_type = metadata.get("event_type")
        if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
            return "invalid_metadata_format"
        if not isinstance(metadata.get("event_payload"), dict):
            return "invalid_metadata_format"
        if len(json.dumps(metadata)) > 8000:
            return "metadata_too_large"
        args["metadata"] = metadata
        return None

    @staticmethod
    def _public(msg: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in msg.items() if k != "channel"}

    # -- methods --------------------------------------------------------------------------------

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        ticket = secrets.token_hex(8)
        self._tickets.add(ticket)
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"}

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"{self.base_url}/",
            "team": "Fake Team",
            "user": "imagebot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        err = self._channel_error(channel) or self._thread_error(channel, args.get("thread_ts"))
        if err:
            return {"ok": False, "error": err}
        if (bad := self._blocks_error(args)) is not None:
            return bad
        if err := self._text_error(args):
            return {"ok": False, "error": err}
        if err := self._metadata_error(args):
            return {"ok": False, "error": err}
        msg = self._bot_message(channel, args)
        self._messages.append(msg)
        return {"ok": True, "channel": channel, "ts": msg["ts"], "message": self._public(msg)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), args.get("ts")
        if err := self._channel_error(channel):
            return {"ok": False, "error": err}
        msg = self.message(channel, ts) if ts else None
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        if msg.get("user") != self.bot_user_id:
            return {"ok": False, "error": "cant_update_message"}
        if (bad := self._blocks_error(args)) is not None:
            return bad
        if (
            "text" not in args
            and "blocks" not in args
            and "attachments" not in args
            and "file_ids" not in args
        ):
            return {"ok": False, "error": "no_text"}
        if isinstance(args.get("text"), str) and len(args["text"]) > 40000:
            return {"ok": False, "error": "msg_too_long"}
        if "text" in args:
            msg["text"] = args["text"] or ""
        if "blocks" in args:
            if args["blocks"]:
                msg["blocks"] = args["blocks"]
            else:
                msg.pop("blocks", None)
        if "attachments" in args:
            msg["attachments"] = _loads_maybe(args["attachments"])
        msg["edited"] = {"user": self.bot_user_id, "ts": new_ts()}
        return {"ok": True, "channel": channel, "ts": ts, "text": msg["text"], "message": self._public(msg)}

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), args.get("ts")
        msg = self.message(channel, ts) if channel and ts else None
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        if msg.get("user") != self.bot_user_id:
            return {"ok": False, "error": "cant_delete_message"}
        self._messages.remove(msg)
        self._deleted.append(msg)
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if err := self._channel_error(channel):
            return {"ok": False, "error": err}
        if not args.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        if err := self._thread_error(channel, args.get("thread_ts")):
            return {"ok": False, "error": err}
        if (bad := self._blocks_error(args)) is not None:
            return bad
        if err := self._text_error(args):
            return {"ok": False, "error": err}
        rec = {
            "channel": channel,
            "user": args["user"],
            "text": args.get("text") or "",
            "blocks": args.get("blocks"),
            "thread_ts": args.get("thread_ts"),
            "message_ts": new_ts(),
        }
        self.ephemerals.append(rec)
        return {"ok": True, "message_ts": rec["message_ts"]}

    def _check_trigger(self, trigger_id: Any) -> str | None:
        if not trigger_id:
            return "invalid_arguments"
        if not _is_trigger_id(trigger_id):
            return "invalid_trigger_id"
        if trigger_id in self._triggers_expired:
            return "expired_trigger_id"
        if trigger_id in self._triggers_used:
            return "exchanged_trigger_id"
        return None

    def _view_errors(self, view: Any) -> dict[str, Any] | None:
        errors = validate_view(view, known_file_ids=self.files.keys())
        if errors:
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
            }
        return None

    def _make_view(self, view: dict[str, Any], *, root_view_id: str | None, previous: str | None) -> dict:
        view_id = _new_id("V")
        body = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous,
            "root_view_id": root_view_id or view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        return body

    def _views_open(self, args: dict[str, Any], *, push: bool = False) -> dict[str, Any]:
        trigger_id = args.get("trigger_id") or args.get("interactivity_pointer")
        if err := self._check_trigger(trigger_id):
            return {"ok": False, "error": err}
        view = _loads_maybe(args.get("view"))
        if (bad := self._view_errors(view)) is not None:
            return bad
        ext = view.get("external_id")
        if ext and any(v["external_id"] == ext for v in self.views):
            return {"ok": False, "error": "duplicate_external_id"}
        self._triggers_used.add(trigger_id)
        root = self.views[-1]["root_view_id"] if push and self.views else None
        prev = self.views[-1]["id"] if push and self.views else None
        body = self._make_view(view, root_view_id=root, previous=prev)
        self.views.append(body)
        self.view_calls.append(
            {"method": "views.push" if push else "views.open", "trigger_id": trigger_id, "view": body}
        )
        return {"ok": True, "view": body}

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._views_open(args, push=True)

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id, ext = args.get("view_id"), args.get("external_id")
        if not view_id and not ext:
            return {"ok": False, "error": "invalid_arguments"}
        current = next(
            (v for v in self.views if (view_id and v["id"] == view_id) or (ext and v["external_id"] == ext)),
            None,
        )
        if current is None:
            return {"ok": False, "error": "not_found"}
        if args.get("hash") and args["hash"] != current["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        view = _loads_maybe(args.get("view"))
        if (bad := self._view_errors(view)) is not None:
            return bad
        updated = self._make_view(
            view, root_view_id=current["root_view_id"], previous=current["previous_view_id"]
        )
        updated["id"] = current["id"]
        self.views[self.views.index(current)] = updated
        self.view_calls.append({"method": "views.update", "trigger_id": None, "view": updated})
        return {"ok": True, "view": updated}

    def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        length = args.get("length")
        try:
            length_int = int(length) if length is not None else None
        except (TypeError, ValueError):
            length_int = None
        if not filename or length_int is None or length_int < 0:
            return {"ok": False, "error": "invalid_arguments"}
        alt_txt = args.get("alt_txt")
        if isinstance(alt_txt, str) and len(alt_txt) > 1000:
            return {"ok": False, "error": "alt_txt_too_large"}
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        sf = _StoredFile(
            id=_new_id("F"),
            name=filename,
            title=filename,
            mimetype=mimetype,
            filetype=_filetype_for(filename, mimetype),
            data=None,
            user=self.bot_user_id,
            created=int(time.time()),
            alt_txt=alt_txt,
            declared_length=length_int,
        )
        self.files[sf.id] = sf
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{sf.id}", "file_id": sf.id}

    def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        files = _loads_maybe(args.get("files"))
        if (
            not isinstance(files, list)
            or not files
            or not all(isinstance(f, dict) and f.get("id") for f in files)
        ):
            return {"ok": False, "error": "invalid_arguments"}
        channel = args.get("channel_id")
        channels = [c for c in str(args.get("channels") or "").split(",") if c]
        if channel and channels:
            return {"ok": False, "error": "invalid_arguments"}
        targets = [channel] if channel else channels
        thread_ts = args.get("thread_ts")
        if thread_ts and len(targets) != 1:
            return {"ok": False, "error": "invalid_arguments"}
        for c in targets:
            if err := self._channel_error(c) or self._thread_error(c, thread_ts):
                return {"ok": False, "error": err}
        stored: list[_StoredFile] = []
        for f in files:
            sf = self.files.get(f["id"])
            if sf is None or sf.user != self.bot_user_id or sf.completed:
                return {"ok": False, "error": "file_not_found"}
            if sf.data is None:
                return {"ok": False, "error": "file_upload_not_completed"}
            stored.append(sf)
        for f, sf in zip(files, stored, strict=True):
            sf.completed = True
            if f.get("title"):
                sf.title = f["title"]
        for up in self.uploads:
            if up["file_id"] in {sf.id for sf in stored}:
                up.update(
                    completed=True, channel_id=channel or ",".join(channels) or None, thread_ts=thread_ts
                )
                up["title"] = self.files[up["file_id"]].title
        file_objs = [self.file_object(sf.id) for sf in stored]
        for c in targets:
            msg: dict[str, Any] = {
                "type": "message",
                "channel": c,
                "user": self.bot_user_id,
                "bot_id": self.bot_id,
                "app_id": self.app_id,
                "team": self.team_id,
                "ts": new_ts(),
                "text": args.get("initial_comment") or "",
                "files": file_objs,
                "upload": True,
                "display_as_bot": False,
            }
            if not args.get("initial_comment") and args.get("blocks"):
                msg["blocks"] = _loads_maybe(args["blocks"])
            if thread_ts:
                msg["thread_ts"] = str(thread_ts)
            self._messages.append(msg)
        # Real Slack shares files asynchronously: the response carries no message ts and no shares yet.
        return {
            "ok": True,
            "files": [{**fo, "shares": {}, "channels": [], "groups": [], "ims": []} for fo in file_objs],
        }

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        sf = self.files.get(args.get("file") or "")
        if sf is None or not sf.completed:
            return {"ok": False, "error": "file_not_found"}
        return {
            "ok": True,
            "file": self.file_object(sf.id),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if channel in self.channels:
            return {"ok": True, "channel": dict(self.channels[channel])}
        if _looks_like_channel(channel):
            info = self.add_channel(channel)
            return {"ok": True, "channel": dict(info)}
        return {"ok": False, "error": "channel_not_found"}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread, parent first, oldest first; ``metadata`` only with include_all_metadata
        (as Slack does). Paginated by ``limit`` (default 100, at most 1000) and ``cursor``."""
        channel, ts = args.get("channel"), args.get("ts")
        if err := self._channel_error(channel):
            return {"ok": False, "error": err}
        if not _looks_like_ts(ts):
            return {"ok": False, "error": "invalid_ts" if ts else "invalid_arguments"}
        thread = [
            m
            for m in self._messages
            if m["channel"] == channel and (m["ts"] == ts or m.get("thread_ts") == ts)
        ]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        thread.sort(key=lambda m: (m["ts"] != ts, float(m["ts"])))
        try:
            limit = min(max(int(args.get("limit") or 100), 1), 1000)
            start = int(args.get("cursor") or 0)
        except ValueError:
            return {"ok": False, "error": "invalid_cursor"}
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        page = thread[start : start + limit]
        out = []
        for m in page:
            public = self._public(m)
            if not with_metadata:
                public.pop("metadata", None)
            if m["ts"] == ts:
                public["reply_count"] = len(thread) - 1
            out.append(public)
        more = start + limit < len(thread)
        return {
            "ok": True,
            "messages": out,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def add_user(
        self, user_id: str, name: str, *, is_admin: bool = False, is_owner: bool = False
    ) -> dict[str, Any]:
        """Register a workspace member (what users.info answers for them)."""
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name.lower().replace(" ", "."),
            "real_name": name,
            "deleted": False,
            "is_bot": False,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "profile": {"real_name": name, "display_name": name},
        }
        self.users[user_id] = user
        return dict(user)

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user") or ""))
        return {"ok": True, "user": dict(user)} if user else {"ok": False, "error": "user_not_found"}

    # -- non-API routes -------------------------------------------------------------------------

    async def _handle_upload(self, request: web.Request) -> web.Response:
        upload_id = request.match_info["upload_id"]
        hdrs = {k.lower(): v for k, v in request.headers.items()}
        sf = self.files.get(upload_id)
        if sf is None or sf.user != self.bot_user_id or sf.completed:
            self._unexpected(f"POST {request.path} (unknown or already completed upload)")
            return web.Response(status=404, text="not found", content_type="text/plain")
        failure = self._take_failure(UPLOAD)
        if failure is not None:
            status, body, headers = self._failure_response(failure)
            self.calls.append(Call(UPLOAD, {"file_id": upload_id}, hdrs, status, body))
            self._changed()
            return web.json_response(body, status=status, headers=headers)
        if request.content_type == "multipart/form-data":
            data = b""
            reader = await request.multipart()
            async for part in reader:
                if getattr(part, "filename", None) or part.name in ("file", "filename"):
                    chunk = await part.read()
                    if getattr(part, "filename", None) or not data:
                        data = bytes(chunk)
            encoding = "multipart"
        else:
            data = await request.read()
            encoding = "raw"
        if sf.declared_length is not None and len(data) != sf.declared_length:
            self.calls.append(Call(UPLOAD, {"file_id": upload_id, "length": len(data)}, hdrs, 400, None))
            self._changed()
            return web.Response(
                status=400,
                text=f"length mismatch: declared {sf.declared_length}, got {len(data)}",
                content_type="text/plain",
            )
        sf.data = data
        self.uploads.append(
            {
                "file_id": sf.id,
                "filename": sf.name,
                "title": sf.title,
                "alt_txt": sf.alt_txt,
                "data": data,
                "size": len(data),
                "content_type": request.headers.get("Content-Type"),
                "encoding": encoding,
                "authorization": request.headers.get("Authorization"),
                "completed": False,
                "channel_id": None,
                "thread_ts": None,
            }
        )
        self.calls.append(
            Call(UPLOAD, {"file_id": upload_id, "length": len(data)}, hdrs, 200, f"OK - {len(data)}")
        )
        self._changed()
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _handle_download(self, request: web.Request) -> web.Response:
        team_file = request.match_info["team_file"]
        team, _, file_id = team_file.partition("-")
        sf = self.files.get(file_id)
        hdrs = {k.lower(): v for k, v in request.headers.items()}
        if team != self.team_id or sf is None or sf.data is None:
            self._unexpected(f"GET {request.path} (unknown file)")
            return web.Response(status=404, text=_LOGIN_PAGE, content_type="text/html")
        failure = self._take_failure(DOWNLOAD)
        if failure is not None:
            status, body, headers = self._failure_response(failure)
            self.calls.append(Call(DOWNLOAD, {"file_id": file_id}, hdrs, status, body))
            self._changed()
            return web.json_response(body, status=status, headers=headers)
        auth = request.headers.get("Authorization", "")
        authorized = auth == f"Bearer {self.bot_token}" and "files:read" in self.scopes
        self.downloads.append({"file_id": file_id, "authorized": authorized, "path": request.path})
        self.calls.append(Call(DOWNLOAD, {"file_id": file_id}, hdrs, 200, None))
        self._changed()
        if not authorized:
            # What Slack does without a (files:read) token: a 200 HTML sign-in page, not the bytes.
            return web.Response(text=_LOGIN_PAGE, content_type="text/html")
        if sf.stream_bytes is not None:
            return await self._stream_download(request, sf)
        return web.Response(
            body=sf.data,
            content_type=sf.mimetype,
            headers={"Content-Disposition": f'attachment; filename="{sf.name}"'},
        )

    async def _stream_download(self, request: web.Request, sf: _StoredFile) -> web.StreamResponse:
        assert sf.data is not None and sf.stream_bytes is not None
        record: dict[str, Any] = {"file_id": sf.id, "sent": 0, "total": sf.stream_bytes, "done": False}
        self.streamed.append(record)
        response = web.StreamResponse(headers={"Content-Type": sf.mimetype})
        response.enable_chunked_encoding()  # no Content-Length: the client cannot know the size
        await response.prepare(request)
        head, zeros = sf.data[: sf.stream_bytes], bytes(64 * 1024)
        try:
            if head:
                await response.write(head)
                record["sent"] += len(head)
            while record["sent"] < sf.stream_bytes:
                chunk = zeros[: sf.stream_bytes - record["sent"]]
                await response.write(chunk)
                record["sent"] += len(chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # the client hung up: what was sent is recorded
        finally:
            record["done"] = True
            self._changed()
        return response

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        hdrs = {k.lower(): v for k, v in request.headers.items()}
        info = self._response_urls.get(rid)
        if info is None:
            self._unexpected(f"POST {request.path} (unknown response_url)")
            return web.Response(status=404, text="no_such_url", content_type="text/plain")
        try:
            body = await request.json()
        except ValueError:
            self._unexpected(f"POST {request.path} (response_url body is not JSON)")
            return web.Response(status=400, text="invalid_payload", content_type="text/plain")
        failure = self._take_failure(RESPONSE_URL)
        if failure is not None:
            status, resp, headers = self._failure_response(failure)
            self.calls.append(Call(RESPONSE_URL, body, hdrs, status, resp))
            self._changed()
            return web.json_response(resp, status=status, headers=headers)
        info["uses"] += 1
        if info["uses"] > 5:
            self.calls.append(Call(RESPONSE_URL, body, hdrs, 404, "used_url"))
            self._changed()
            return web.Response(status=404, text="used_url", content_type="text/plain")
        blocks = body.get("blocks")
        if blocks:
            errors = validate_blocks(blocks, known_file_ids=self.files.keys())
            if errors:
                self.calls.append(Call(RESPONSE_URL, body, hdrs, 400, "invalid_blocks"))
                self._changed()
                return web.Response(status=400, text="invalid_blocks", content_type="text/plain")
        rec = {
            "channel": info["channel"],
            "user": info["user"],
            "message_ts": info["message_ts"],
            "body": body,
        }
        self.responses.append(rec)
        channel = info["channel"]
        if body.get("delete_original") and info["message_ts"]:
            msg = self.message(channel, info["message_ts"])
            if msg is not None:
                self._messages.remove(msg)
                self._deleted.append(msg)
        elif body.get("replace_original") and info["message_ts"]:
            msg = self.message(channel, info["message_ts"])
            if msg is not None:
                msg["text"] = body.get("text", "")
                if "blocks" in body:
                    msg["blocks"] = body["blocks"]
                msg["edited"] = {"user": self.bot_user_id, "ts": new_ts()}
        elif body.get("response_type") == "in_channel":
            self._messages.append(self._bot_message(channel, body))
        else:
            self.ephemerals.append(
                {
                    "channel": channel,
                    "user": info["user"],
                    "text": body.get("text", ""),
                    "blocks": body.get("blocks"),
                    "thread_ts": body.get("thread_ts"),
                    "message_ts": new_ts(),
                    "via": "response_url",
                }
            )
        self.calls.append(Call(RESPONSE_URL, body, hdrs, 200, "ok"))
        self._changed()
        return web.Response(text="ok", content_type="text/plain")


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
