"""A strict, stateful local fake of Discord (REST API v10, CDN and a minimal gateway) for hermetic tests.

The fake speaks to the *real* discord.py client. It keeps channels, threads, messages (with the uploaded
bytes), application commands and interactions in memory, validates requests the way Discord does and
answers with Discord-shaped errors. Anything it does not know is a 404 recorded in ``fake.unexpected``;
leaving ``async with FakeDiscord()`` with unexpected calls fails the test.

Two ways to drive a client:

* ``connected_client(client, fake)``: ``login()`` over REST, then feed raw gateway payloads with
  ``feed(client, "INTERACTION_CREATE", fake.slash_interaction(...))`` (no websocket at all).
* ``running_client(client, fake)``: ``client.start()`` against the fake gateway websocket
  (HELLO / IDENTIFY / READY / GUILD_CREATE / heartbeats); then ``await fake.dispatch(event, payload)``.
  REST actions are echoed as gateway events (MESSAGE_CREATE, THREAD_CREATE...) like Discord does.

Payloads are built by the ``make_*`` / ``*_interaction`` / ``message_create`` methods and are shaped like
Discord's, including the keys discord.py indexes directly (``member.flags``, ``attachment_size_limit``,
full ``message`` with components on component interactions). See
``/work/shared/reference/platform-notes.md`` §1.7 for the traps this file works around.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import hashlib
import io
import itertools
import json
import mimetypes
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import WSMsgType, web

__all__ = [
    "DEFAULT_FILE_SIZE_LIMIT",
    "ApiError",
    "Call",
    "FakeDiscord",
    "FakeInteraction",
    "SnowflakeDict",
    "UploadedFile",
    "connected_client",
    "feed",
    "patched_discord",
    "running_client",
]

DISCORD_EPOCH_MS = 1420070400000
DEFAULT_FILE_SIZE_LIMIT = 10 * 1024 * 1024  # 10 MiB, the non-boosted per-file limit
REQUEST_SIZE_LIMIT = 25 * 1024 * 1024
API_PREFIX = "/api/v10"

# Message flags
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_VOICE = 1 << 13
FLAG_COMPONENTS_V2 = 1 << 15
CHANNEL_MESSAGE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_VOICE | FLAG_COMPONENTS_V2
INTERACTION_MESSAGE_FLAGS = CHANNEL_MESSAGE_FLAGS | FLAG_EPHEMERAL

# Permissions
P_CREATE_INSTANT_INVITE = 1 << 0
P_ADMINISTRATOR = 1 << 3
P_ADD_REACTIONS = 1 << 6
P_VIEW_CHANNEL = 1 << 10
P_SEND_MESSAGES = 1 << 11
P_MANAGE_MESSAGES = 1 << 13
P_EMBED_LINKS = 1 << 14
P_ATTACH_FILES = 1 << 15
P_READ_MESSAGE_HISTORY = 1 << 16
P_MENTION_EVERYONE = 1 << 17
P_USE_EXTERNAL_EMOJIS = 1 << 18
P_CHANGE_NICKNAME = 1 << 26
P_USE_APPLICATION_COMMANDS = 1 << 31
P_MANAGE_THREADS = 1 << 34
P_CREATE_PUBLIC_THREADS = 1 << 35
P_CREATE_PRIVATE_THREADS = 1 << 36
P_SEND_MESSAGES_IN_THREADS = 1 << 38
EVERYONE_PERMISSIONS = (
    P_CREATE_INSTANT_INVITE
    | P_ADD_REACTIONS
    | P_VIEW_CHANNEL
    | P_SEND_MESSAGES
    | P_EMBED_LINKS
    | P_ATTACH_FILES
    | P_READ_MESSAGE_HISTORY
    | P_USE_EXTERNAL_EMOJIS
    | P_CHANGE_NICKNAME
    | P_USE_APPLICATION_COMMANDS
    | P_CREATE_PUBLIC_THREADS
    | P_CREATE_PRIVATE_THREADS
    | P_SEND_MESSAGES_IN_THREADS
)
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | P_MANAGE_MESSAGES | P_MANAGE_THREADS | P_MENTION_EVERYONE

# Gateway intents the fake filters on
I_GUILDS = 1 << 0
I_GUILD_MESSAGES = 1 << 9
I_DIRECT_MESSAGES = 1 << 12
I_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | I_MESSAGE_CONTENT  # members, presences, message content

TEXT_CHANNEL_TYPES = {0, 1, 2, 3, 5, 10, 11, 12, 13}
THREAD_TYPES = {10, 11, 12}
SELECT_TYPES = {3, 5, 6, 7, 8}
INTERACTIVE_TYPES = {2, 3, 4, 5, 6, 7, 8, 19}
V2_TOP_LEVEL_TYPES = {1, 9, 10, 12, 13, 14, 17}
COMMAND_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")

_V = TypeVar("_V")
Predicate = Callable[["FakeDiscord"], object]


class SnowflakeDict(dict[str, _V]):
    """A dict keyed by snowflake strings that also accepts the ``int`` ids discord.py hands out."""

    def __getitem__(self, key: object) -> _V:
        return super().__getitem__(str(key))

    def __setitem__(self, key: object, value: _V) -> None:
        super().__setitem__(str(key), value)

    def __delitem__(self, key: object) -> None:
        super().__delitem__(str(key))

    def __contains__(self, key: object) -> bool:
        return super().__contains__(str(key))

    def get(self, key: object, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(str(key), default)

    def pop(self, key: object, *default: Any) -> Any:  # type: ignore[override]
        return super().pop(str(key), *default)


class ApiError(Exception):
    """A Discord-shaped error response: ``{"code": ..., "message": ..., "errors": ...}``."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None):
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class _FormErrors:
    """Collects Invalid Form Body (50035) errors in Discord's nested ``{"a": {"0": {"_errors": []}}}`` form."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def length(self, path: Sequence[str | int], value: object, lo: int, hi: int) -> None:
        n = len(value) if isinstance(value, str | list | tuple) else -1
        if n == -1:
            self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        elif n < lo or n > hi:
            if lo == 0:
                self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {hi} or fewer in length.")
            else:
                self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {lo} and {hi} in length.")

    def raise_if_any(self) -> None:
        if self.tree:
            raise ApiError(400, 50035, "Invalid Form Body", self.tree)


@dataclass
class UploadedFile:
    """One ``files[n]`` part of a multipart request."""

    field: str
    index: int
    filename: str
    content_type: str | None
    data: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.field!r}, {self.filename!r}, {len(self.data)} bytes)"


@dataclass
class Call:
    """One request the fake received. ``json`` is the JSON body or the multipart ``payload_json``."""

    method: str
    path: str
    query: dict[str, str]
    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)
    status: int | None = None
    response: Any = None

    def __repr__(self) -> str:
        return f"<Call {self.method} {self.path} -> {self.status}>"


_CALL = web.RequestKey("call", Call)


@dataclass
class FakeInteraction:
    """Server-side record of an interaction the fake built, and what the bot did with it."""

    id: str
    token: str
    type: int
    payload: dict[str, Any]
    channel_id: str
    guild_id: str | None
    user: dict[str, Any]
    created: float
    message_id: str | None = None  # the message a component/modal interaction came from
    response: dict[str, Any] | None = None
    original_message_id: str | None = None
    followup_ids: list[str] = field(default_factory=list)
    expired: bool = False


@dataclass
class _RateLimit:
    prefix: str
    method: str | None
    retry_after: float
    is_global: bool
    remaining: int


@dataclass
class _Hold:
    method: str
    path: re.Pattern[str]
    remaining: int
    release: asyncio.Event
    fail: bool


@dataclass
class _Fault:
    method: str | None
    path: re.Pattern[str]
    until: float  # time.monotonic() deadline
    status: int  # 429 (rate limited, with Via and retry_after) or a 5xx
    retry_after: float


@dataclass
class _GatewaySession:
    ws: web.WebSocketResponse
    session_id: str
    intents: int = 0
    identified: bool = False
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def _json_response(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    # Exactly "application/json": discord.py compares the header with == (aiohttp's json_response adds a
    # charset and discord.py then treats the body as a plain string).
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=json.dumps(obj).encode(), headers=all_headers)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in {"1", "true", "yes"}


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:
        return None


def _walk_components(components: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for comp in components:
        yield comp
        if isinstance(comp.get("components"), list):
            yield from _walk_components(comp["components"])
        if isinstance(comp.get("component"), dict):
            yield from _walk_components([comp["component"]])
        if isinstance(comp.get("accessory"), dict):
            yield from _walk_components([comp["accessory"]])


def _find_component(components: Iterable[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    return next((c for c in _walk_components(components) if c.get("custom_id") == custom_id), None)


def _assign_component_ids(components: list[dict[str, Any]]) -> None:
    # Discord numbers every component of a message (depth first) unless the sender chose an id.
    used = {c["id"] for c in _walk_components(components) if isinstance(c.get("id"), int)}
    counter = itertools.count(1)
    for comp in _walk_components(components):
        if not isinstance(comp.get("id"), int):
            n = next(counter)
            while n in used:
                n = next(counter)
            comp["id"] = n


class FakeDiscord:
    """The fake Discord. Use as ``async with FakeDiscord() as fake:``.

    State (all ``SnowflakeDict``, so ``int`` ids work as keys): ``users``, ``guilds``, ``channels``
    (threads and DMs included), ``messages``, ``files`` (attachment id -> bytes), ``interactions``
    (``FakeInteraction`` records), ``interaction_responses`` (the accepted initial callback body per
    interaction), ``commands`` (``None`` for global or a guild id -> list of command objects).
    Recording: ``calls`` (every request), ``unexpected`` (unknown routes), ``gateway_sessions``.
    """

    def __init__(
        self,
        *,
        token: str = "fake-token",
        bot_name: str = "imagebot",
        file_size_limit: int = DEFAULT_FILE_SIZE_LIMIT,
        initial_response_deadline: float | None = 3.0,
        echo_events: bool = True,
    ) -> None:
        self.token = token
        self.file_size_limit = file_size_limit
        self.request_size_limit: int | None = None  # None: max(25 MiB, file_size_limit)
        self.initial_response_deadline = initial_response_deadline
        self.echo_events = echo_events
        # Privileged intents enabled "in the portal"; identifying with any other one is refused (4014).
        self.privileged_intents = PRIVILEGED_INTENTS

        self._last_snowflake = 0
        self.users: SnowflakeDict[dict[str, Any]] = SnowflakeDict()
        self.guilds: SnowflakeDict[dict[str, Any]] = SnowflakeDict()
        self.members: SnowflakeDict[SnowflakeDict[dict[str, Any]]] = SnowflakeDict()
        self.channels: SnowflakeDict[dict[str, Any]] = SnowflakeDict()
        self.messages: SnowflakeDict[dict[str, Any]] = SnowflakeDict()
        self.files: SnowflakeDict[bytes] = SnowflakeDict()
        # Attachment id -> zero bytes served past its data; -> bytes the CDN wrote for it, all downloads.
        self.cdn_extra_bytes: SnowflakeDict[int] = SnowflakeDict()
        self.cdn_bytes_sent: SnowflakeDict[int] = SnowflakeDict()
        self.commands: dict[str | None, list[dict[str, Any]]] = {}
        self._command_ids: dict[tuple[str | None, str, int], str] = {}
        self.interactions: SnowflakeDict[FakeInteraction] = SnowflakeDict()
        self.interaction_responses: SnowflakeDict[dict[str, Any]] = SnowflakeDict()
        self.modals: dict[str, dict[str, Any]] = {}  # custom_id -> {"modal": data, "interaction_id": id}
        self.typing: list[str] = []
        self.calls: list[Call] = []
        self.unexpected: list[str] = []
        self.gateway_sessions: list[_GatewaySession] = []
        self._rate_limits: list[_RateLimit] = []
        self._holds: list[_Hold] = []
        self.held: list[Call] = []  # requests waiting on a hold right now
        self._faults: list[_Fault] = []
        self._response_holds: list[_Hold] = []
        # enforce_nonce: (author id, nonce) -> (message id, monotonic time); Discord keeps them "a few minutes".
        self.nonce_window = 300.0
        self._nonces: dict[tuple[str, str], tuple[str, float]] = {}
        self._cond = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._port = 0

        self.bot_user = self.make_user(bot_name, bot=True)
        self.bot_user.update({"verified": True, "mfa_enabled": False, "flags": 0, "locale": "en-US"})
        self.application_id = self.bot_user["id"]
        self.default_user = self.make_user("tester")

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        await self.close()
        if exc_type is None and self.unexpected:
            raise AssertionError(f"FakeDiscord received unexpected requests: {self.unexpected}")

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=512 * 1024 * 1024)
        self._add_routes(app.router)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def close(self) -> None:
        for session in list(self.gateway_sessions):
            await session.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_base(self) -> str:
        """The value for ``discord.http.Route.BASE``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/gateway"

    def cdn_url(self, path: str) -> str:
        """Absolute URL of a CDN path on the fake, e.g. ``cdn_url("attachments/1/2/cat.png")``."""
        return f"{self.base_url}/cdn/{path.lstrip('/')}"

    # ------------------------------------------------------------------ ids, waiting, recording

    def snowflake(self) -> str:
        """A new snowflake id, time based and strictly increasing."""
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_snowflake = max(candidate, self._last_snowflake + 1)
        return str(self._last_snowflake)

    async def notify(self) -> None:
        """Wake ``wait_for`` waiters (called after every request and gateway frame)."""
        async with self._cond:
            self._cond.notify_all()

    async def wait_for(self, predicate: Predicate, timeout: float = 5.0) -> Any:
        """Wait until ``predicate(fake)`` is truthy (re-checked on every state change); return its value."""
        try:
            async with asyncio.timeout(timeout):
                async with self._cond:
                    while not (result := predicate(self)):
                        await self._cond.wait()
                    return result
        except TimeoutError:
            recent = self.calls[-8:]
            raise AssertionError(
                f"timed out after {timeout}s waiting for {predicate!r}; last calls: {recent}"
            ) from None

    def calls_to(self, method: str, path_pattern: str) -> list[Call]:
        """Calls whose method matches and whose path fully matches the regex ``path_pattern``."""
        rx = re.compile(path_pattern)
        return [c for c in self.calls if c.method == method and rx.fullmatch(c.path)]

    @property
    def failed_calls(self) -> list[Call]:
        return [c for c in self.calls if c.status is not None and c.status >= 400]

    def rate_limit_next(
        self,
        route_prefix: str,
        retry_after: float = 0.05,
        *,
        method: str | None = None,
        is_global: bool = False,
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` requests whose API path starts with ``route_prefix`` with a 429."""
        self._rate_limits.append(_RateLimit(route_prefix, method, retry_after, is_global, count))

    def hold(self, method: str, path_pattern: str, *, count: int = 1, fail: bool = False) -> asyncio.Event:
        """Hold the next ``count`` requests whose method matches and whose API path fully matches the
        regex ``path_pattern`` (a slow Discord) until the returned event is set; they are then handled,
        or with ``fail=True`` answered 503 without effect. ``held`` lists the calls waiting."""
        release = asyncio.Event()
        self._holds.append(_Hold(method, re.compile(path_pattern), count, release, fail))
        return release

    def fail_for(
        self,
        seconds: float,
        path_pattern: str,
        *,
        method: str | None = None,
        status: int = 503,
        retry_after: float = 0.5,
    ) -> None:
        """For ``seconds`` from now, answer every request whose API path fully matches the regex
        ``path_pattern`` with ``status`` and no effect: 429 (a rate limit as Discord sends it, with
        ``Via`` and ``retry_after``) or a 5xx."""
        until = time.monotonic() + seconds
        self._faults.append(_Fault(method, re.compile(path_pattern), until, status, retry_after))

    def _fault_for(self, method: str, path: str) -> web.Response | None:
        now = time.monotonic()
        self._faults = [f for f in self._faults if f.until > now]
        for fault in self._faults:
            if fault.method in (None, method) and fault.path.fullmatch(path):
                if fault.status == 429:
                    body = {
                        "message": "You are being rate limited.",
                        "retry_after": fault.retry_after,
                        "global": False,
                    }
                    headers = {
                        "Via": "1.1 google",
                        "Retry-After": str(max(1, int(fault.retry_after + 0.999))),
                        "X-RateLimit-Scope": "user",
                        **self._ratelimit_headers(path, remaining=0, reset_after=fault.retry_after),
                    }
                    self.calls[-1].response = body
                    return _json_response(body, 429, headers)
                raise ApiError(fault.status, 0, f"{fault.status}: Server Error (injected by the test)")
        return None

    def hold_response(self, method: str, path_pattern: str, *, count: int = 1) -> asyncio.Event:
        """Handle the next ``count`` matching requests (their effect is stored, e.g. the message
        exists), then hold their *responses* until the returned event is set: the client cannot
        know it succeeded (a kill or a timeout in between). ``held`` lists them while waiting."""
        release = asyncio.Event()
        self._response_holds.append(_Hold(method, re.compile(path_pattern), count, release, False))
        return release

    async def _hold_response_if_asked(self, call: Call) -> None:
        for hold in self._response_holds:
            if hold.method == call.method and hold.path.fullmatch(call.path):
                hold.remaining -= 1
                if hold.remaining <= 0:
                    self._response_holds.remove(hold)
                self.held.append(call)
                await self.notify()
                try:
                    await hold.release.wait()
                finally:
                    self.held.remove(call)
                return

    async def _wait_if_held(self, request: web.Request, call: Call) -> bool:
        """True if the request was held and is to fail."""
        for hold in self._holds:
            if hold.method == call.method and hold.path.fullmatch(call.path):
                hold.remaining -= 1
                if hold.remaining <= 0:
                    self._holds.remove(hold)
                if request.content_type != "multipart/form-data":
                    await request.read()  # the body is in: it takes effect even if the client goes away
                self.held.append(call)
                await self.notify()
                try:
                    await hold.release.wait()
                finally:
                    self.held.remove(call)
                return hold.fail
        return False

    # ------------------------------------------------------------------ store accessors

    def message(self, message_id: object) -> dict[str, Any]:
        """A copy of a stored message (e.g. one the bot posted) as Discord would return it."""
        return copy.deepcopy(self.messages[message_id])

    def messages_in(self, channel_id: object, *, include_ephemeral: bool = True) -> list[dict[str, Any]]:
        """Copies of the messages in a channel or thread, oldest first."""
        return [
            copy.deepcopy(m)
            for m in self.messages.values()
            if m["channel_id"] == str(channel_id) and (include_ephemeral or not m["flags"] & FLAG_EPHEMERAL)
        ]

    def file_bytes(self, attachment: Mapping[str, Any] | object) -> bytes:
        """The bytes behind an attachment (dict or id)."""
        key = attachment["id"] if isinstance(attachment, Mapping) else attachment
        return self.files[key]

    def global_commands(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.commands.get(None, []))

    def guild_commands(self, guild_id: object) -> list[dict[str, Any]]:
        return copy.deepcopy(self.commands.get(str(guild_id), []))

    def original_message(self, interaction_id: object) -> dict[str, Any] | None:
        inter = self.interactions[interaction_id]
        if inter.original_message_id is None or inter.original_message_id not in self.messages:
            return None
        return self.message(inter.original_message_id)

    def followups(self, interaction_id: object) -> list[dict[str, Any]]:
        inter = self.interactions[interaction_id]
        return [self.message(m) for m in inter.followup_ids if m in self.messages]

    def unacknowledged_interactions(self) -> list[FakeInteraction]:
        """Interactions that never got an initial response (the user would see "interaction failed")."""
        return [i for i in self.interactions.values() if i.response is None]

    def expire_interaction(self, interaction_id: object) -> None:
        """Simulate the 15-minute token expiry: later webhook calls get 401 50027."""
        self.interactions[interaction_id].expired = True

    def set_bot_permissions(self, guild_id: object, permissions: int) -> None:
        """Replace the permissions of the bot's managed role in a guild (enforced on sends and threads)."""
        guild = self.guilds[guild_id]
        for role in guild["roles"]:
            if role.get("tags", {}).get("bot_id") == self.application_id:
                role["permissions"] = str(permissions)

    # ------------------------------------------------------------------ payload builders

    def make_user(self, username: str = "user", *, bot: bool = False, global_name: str | None = None) -> dict:
        """A user object (stored)."""
        user: dict[str, Any] = {
            "id": self.snowflake(),
            "username": username,
            "discriminator": "0",
            "global_name": global_name,
            "avatar": None,
            "public_flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }
        if bot:
            user["bot"] = True
        self.users[user["id"]] = user
        return user

    def make_member(self, guild_id: object, user: Mapping[str, Any], *, roles: Sequence[str] = ()) -> dict:
        """Add ``user`` to a guild; returns the member object (with ``user``)."""
        member = {
            "user": dict(user),
            "roles": [str(r) for r in roles],
            "joined_at": _now_iso(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        self.users.setdefault(str(user["id"]), dict(user))
        self.members[guild_id][user["id"]] = member
        return copy.deepcopy(member)

    def make_guild(
        self,
        name: str = "Test Guild",
        *,
        channels: Sequence[str | Mapping[str, Any]] = ("general",),
        members: Sequence[Mapping[str, Any]] | None = None,
        premium_tier: int = 0,
        owner: Mapping[str, Any] | None = None,
        bot_permissions: int = BOT_PERMISSIONS,
        everyone_permissions: int = EVERYONE_PERMISSIONS,
    ) -> dict[str, Any]:
        """Create a guild (bot included as a member) and return its GUILD_CREATE payload.

        ``channels`` are names of text channels or dicts of channel fields (``{"name": .., "type": 5}``).
        ``members`` defaults to ``[fake.default_user]``.
        """
        gid = self.snowflake()
        owner = owner or (members[0] if members else self.default_user)
        bot_role_id = self.snowflake()
        roles = [
            self._role(gid, "@everyone", everyone_permissions, position=0),
            {
                **self._role(bot_role_id, self.bot_user["username"], bot_permissions, position=1),
                "managed": True,
                "tags": {"bot_id": self.application_id},
            },
        ]
        self.guilds[gid] = {
            "id": gid,
            "name": name,
            "icon": None,
            "icon_hash": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": owner["id"],
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": roles,
            "emojis": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": premium_tier,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "stickers": [],
            "premium_progress_bar_enabled": False,
            "safety_alerts_channel_id": None,
            "incidents_data": None,
            "joined_at": _now_iso(),
        }
        self.members[gid] = SnowflakeDict()
        self.make_member(gid, self.bot_user, roles=[bot_role_id])
        for user in [self.default_user] if members is None else members:
            self.make_member(gid, user)
        for spec in channels:
            fields = {"name": spec} if isinstance(spec, str) else dict(spec)
            self.make_channel(gid, **fields)
        return self.guild_create(gid)

    def _role(self, rid: str, name: str, permissions: int, *, position: int) -> dict[str, Any]:
        return {
            "id": rid,
            "name": name,
            "permissions": str(permissions),
            "position": position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }

    def make_channel(
        self,
        guild_id: object,
        name: str = "general",
        *,
        type: int = 0,
        parent_id: object = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Create a guild channel (text by default) and return it (REST shape, with ``guild_id``)."""
        gid = str(guild_id)
        position = sum(1 for c in self.channels.values() if c.get("guild_id") == gid)
        channel: dict[str, Any] = {
            "id": self.snowflake(),
            "type": type,
            "guild_id": gid,
            "name": name,
            "position": position,
            "parent_id": None if parent_id is None else str(parent_id),
            "permission_overwrites": [],
            "flags": 0,
        }
        if type in (0, 5, 15, 16):
            channel.update(
                {
                    "topic": None,
                    "nsfw": False,
                    "rate_limit_per_user": 0,
                    "last_message_id": None,
                    "default_auto_archive_duration": 1440,
                    "default_thread_rate_limit_per_user": 0,
                }
            )
        if type in (2, 13):
            channel.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None, "nsfw": False})
        channel.update(extra)
        self.channels[channel["id"]] = channel
        return copy.deepcopy(channel)

    def make_dm(self, user: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The bot's DM channel with ``user`` (created once)."""
        user = user or self.default_user
        for ch in self.channels.values():
            if ch["type"] == 1 and ch["recipients"][0]["id"] == user["id"]:
                return copy.deepcopy(ch)
        channel = {
            "id": self.snowflake(),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [dict(user)],
        }
        self.channels[channel["id"]] = channel
        return copy.deepcopy(channel)

    def make_thread(
        self,
        parent_id: object,
        name: str = "thread",
        *,
        owner: Mapping[str, Any] | None = None,
        type: int = 11,
        thread_id: object = None,
        auto_archive_duration: int = 1440,
    ) -> dict[str, Any]:
        """Create a thread as if a user had (use ``thread_create`` for the THREAD_CREATE payload)."""
        parent = self.channels[parent_id]
        owner = owner or self.default_user
        now = _now_iso()
        thread: dict[str, Any] = {
            "id": str(thread_id) if thread_id is not None else self.snowflake(),
            "type": type,
            "guild_id": parent["guild_id"],
            "parent_id": parent["id"],
            "owner_id": owner["id"],
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": auto_archive_duration,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
            },
        }
        if type == 12:
            thread["thread_metadata"]["invitable"] = True
        self.channels[thread["id"]] = thread
        return copy.deepcopy(thread)

    def guild_create(self, guild_id: object) -> dict[str, Any]:
        """The GUILD_CREATE payload for a stored guild (current channels, threads and members)."""
        guild = copy.deepcopy(self.guilds[guild_id])
        gid = guild["id"]
        chans = [c for c in self.channels.values() if c.get("guild_id") == gid]
        members = list(self.members[gid].values())
        guild.update(
            {
                "large": False,
                "unavailable": False,
                "member_count": len(members),  # == len(members): discord.py then never asks to chunk
                "voice_states": [],
                "members": copy.deepcopy(members),
                "channels": [_without(c, "guild_id") for c in chans if c["type"] not in THREAD_TYPES],
                "threads": [copy.deepcopy(c) for c in chans if c["type"] in THREAD_TYPES],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return guild

    def thread_create(self, thread: Mapping[str, Any] | object, *, newly_created: bool = True) -> dict:
        """THREAD_CREATE payload for a stored thread (dict or id)."""
        tid = thread["id"] if isinstance(thread, Mapping) else thread
        payload = copy.deepcopy(self.channels[tid])
        if newly_created:
            payload["newly_created"] = True
        if payload["owner_id"] == self.application_id:
            payload["member"] = self._thread_member(payload["id"])
        return payload

    def _thread_member(self, thread_id: str) -> dict[str, Any]:
        return {"id": thread_id, "user_id": self.application_id, "join_timestamp": _now_iso(), "flags": 1}

    def add_attachment(
        self,
        filename: str,
        data: bytes,
        content_type: str | None = None,
        *,
        channel_id: object = 0,
        description: str | None = None,
        ephemeral: bool = False,
        declared_size: int | None = None,
        extra_bytes: int = 0,
    ) -> dict[str, Any]:
        """Register bytes on the fake CDN; returns a Discord attachment object (``attachment.read()`` works).

        A lying attachment, for testing download caps: ``declared_size`` replaces the ``size`` the
        payload claims, and ``extra_bytes`` zero bytes are streamed after ``data`` (chunked, without a
        Content-Length, generated as they are sent). ``cdn_bytes_sent`` counts what each download
        really wrote, so a test can see that a client stopped reading early.
        """
        att = self._store_attachment(
            filename, data, content_type, str(channel_id), description=description, ephemeral=ephemeral
        )
        if declared_size is not None:
            att["size"] = declared_size
        if extra_bytes:
            self.cdn_extra_bytes[att["id"]] = extra_bytes
        return att

    def _store_attachment(
        self,
        filename: str,
        data: bytes,
        content_type: str | None,
        channel_id: str,
        *,
        description: str | None = None,
        ephemeral: bool = False,
        title: str | None = None,
    ) -> dict[str, Any]:
        aid = self.snowflake()
        filename = re.sub(r"[^\w.\-]", "_", filename) or "unknown"
        if content_type in (None, "application/octet-stream"):
            content_type = mimetypes.guess_type(filename)[0] or content_type
        kind = "ephemeral-attachments" if ephemeral else "attachments"
        path = f"{kind}/{channel_id}/{aid}/{filename}"
        expires = f"{int(time.time()) + 86400:x}"
        sig = hashlib.sha256(f"{path}{expires}".encode()).hexdigest()
        query = f"?ex={expires}&is={int(time.time()):x}&hm={sig}&"
        att: dict[str, Any] = {
            "id": aid,
            "filename": filename,
            "size": len(data),
            "url": self.cdn_url(path) + query,
            "proxy_url": f"{self.base_url}/media/{path}{query}",
            "flags": 0,
        }
        if content_type:
            att["content_type"] = content_type
        if content_type and content_type.startswith("image/") and (size := _image_size(data)):
            att["width"], att["height"] = size
        if description is not None:
            att["description"] = description
        if title is not None:
            att["title"] = title
        if ephemeral:
            att["ephemeral"] = True
        self.files[aid] = bytes(data)
        return att

    def message_create(
        self,
        channel_id: object,
        content: str = "",
        author: Mapping[str, Any] | None = None,
        *,
        attachments: Sequence[Mapping[str, Any]] = (),
        mentions: Sequence[Mapping[str, Any]] = (),
        message_reference: Mapping[str, Any] | object = None,
        guild_id: object = None,
        embeds: Sequence[Mapping[str, Any]] = (),
        components: Sequence[Mapping[str, Any]] = (),
        mention_roles: Sequence[object] = (),
        mention_everyone: bool = False,
    ) -> dict[str, Any]:
        """Store a message as if a user (default ``fake.default_user``) sent it; return MESSAGE_CREATE.

        ``message_reference`` is a message dict or id to reply to; ``mentions`` are user dicts (use
        ``fake.bot_user`` to mention the bot, and put ``<@id>`` in ``content`` as Discord clients do).
        """
        channel = self.channels[channel_id]
        author = dict(author or self.default_user)
        gid = str(guild_id) if guild_id is not None else channel.get("guild_id")
        ref = None
        if message_reference is not None:
            ref_id = message_reference["id"] if isinstance(message_reference, Mapping) else message_reference
            ref = self._reference({"message_id": str(ref_id)}, channel)
        msg = self._new_message(
            channel,
            author,
            content=content,
            attachments=[dict(a) for a in attachments],
            embeds=[dict(e) for e in embeds],
            components=[dict(c) for c in components],
            mentions=[dict(m) for m in mentions],
            mention_roles=[str(r) for r in mention_roles],
            mention_everyone=mention_everyone,
            reference=ref,
        )
        return self._gateway_message(msg, gid)

    def _gateway_message(self, msg: dict[str, Any], guild_id: str | None) -> dict[str, Any]:
        payload = copy.deepcopy(msg)
        if guild_id is None:
            return payload
        payload["guild_id"] = guild_id
        members = self.members.get(guild_id) or SnowflakeDict()
        author_id = payload["author"]["id"]
        if payload.get("webhook_id") is None:
            if author_id not in members:
                self.make_member(guild_id, payload["author"])
            payload["member"] = _without(members[author_id], "user")
        for mention in payload["mentions"]:
            if mention["id"] in members:
                mention["member"] = _without(members[mention["id"]], "user")
        return payload

    def slash_interaction(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: Mapping[str, Any] | None = None,
        channel: Mapping[str, Any] | object = None,
        guild_id: object = None,
        locale: str = "en-US",
        attachment_size_limit: int | None = None,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE payload (type 2) for the chat-input command ``name``.

        ``name`` may contain subcommands ("image edit"). ``options`` maps option names to values: str, int,
        float, bool, an attachment dict from ``add_attachment`` (goes to ``resolved.attachments``), a user
        dict, a channel dict or a role dict. When the command was synced to the fake, option types and the
        command id come from it, unknown or missing required options raise ``ValueError``.
        """
        base = self._interaction_base(2, user, channel, guild_id, locale, attachment_size_limit)
        root, *subs = name.split()
        command = self._find_command(root, base.get("guild_id"), 1)
        resolved: dict[str, dict[str, Any]] = {}
        spec_options = command.get("options", []) if command else None
        opts: list[dict[str, Any]] = []
        container = opts
        for sub in subs:
            spec = _option_spec(spec_options, sub) if spec_options is not None else None
            if spec_options is not None and (spec is None or spec["type"] not in (1, 2)):
                raise ValueError(f"{name!r}: {sub!r} is not a subcommand")
            node = {
                "name": sub,
                "type": spec["type"] if spec else (1 if sub == subs[-1] else 2),
                "options": [],
            }
            container.append(node)
            container = node["options"]
            spec_options = spec.get("options", []) if spec else None
        container.extend(
            self._encode_options(name, options or {}, spec_options, resolved, base.get("guild_id"))
        )
        data: dict[str, Any] = {"id": command["id"] if command else self.snowflake(), "name": root, "type": 1}
        if opts:
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        if command and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        base["data"] = data
        return self._register_interaction(base)

    def context_menu_interaction(
        self,
        name: str,
        target: Mapping[str, Any],
        *,
        user: Mapping[str, Any] | None = None,
        channel: Mapping[str, Any] | object = None,
        guild_id: object = None,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE (type 2) for a message (target = message dict) or user context-menu command."""
        base = self._interaction_base(2, user, channel, guild_id, "en-US", None)
        is_message = "channel_id" in target and "author" in target
        ctype = 3 if is_message else 2
        command = self._find_command(name, base.get("guild_id"), ctype)
        resolved: dict[str, Any]
        if is_message:
            resolved = {"messages": {target["id"]: copy.deepcopy(dict(target))}}
        else:
            resolved = {"users": {target["id"]: dict(target)}}
            gid = base.get("guild_id")
            if gid and target["id"] in self.members[gid]:
                member = _without(self.members[gid][target["id"]], "user")
                resolved["members"] = {target["id"]: {**member, "permissions": str(EVERYONE_PERMISSIONS)}}
        data = {
            "id": command["id"] if command else self.snowflake(),
            "name": name,
            "type": ctype,
            "target_id": target["id"],
            "resolved": resolved,
        }
        if command and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        base["data"] = data
        return self._register_interaction(base)

    def component_interaction(
        self,
        message: Mapping[str, Any] | object,
        custom_id: str,
        user: Mapping[str, Any] | None = None,
        *,
        values: Sequence[str] | None = None,
        component_type: int | None = None,
        strict: bool = True,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE (type 3): ``user`` clicked ``custom_id`` on ``message`` (dict or stored id).

        The payload carries the full message with its components (discord.py rebuilds DynamicItems from
        it). ``strict=False`` allows a custom_id the message does not have (to show it is dropped).
        """
        msg = copy.deepcopy(dict(message)) if isinstance(message, Mapping) else self.message(message)
        comp = _find_component(msg.get("components", []), custom_id)
        if comp is None and strict:
            raise ValueError(f"message {msg['id']} has no component with custom_id {custom_id!r}")
        if strict and comp is not None and component_type not in (None, comp["type"]):
            raise ValueError(f"{custom_id!r} is a type {comp['type']} component, not {component_type}")
        ctype = component_type or (comp["type"] if comp else 2)
        if strict and comp is not None and ctype in SELECT_TYPES:
            picked = list(values or [])
            if not comp.get("min_values", 1) <= len(picked) <= comp.get("max_values", 1):
                raise ValueError(f"{len(picked)} values for {custom_id!r} is outside min_values/max_values")
            options = {o["value"] for o in comp.get("options", [])}
            if ctype == 3 and set(picked) - options:
                raise ValueError(f"{sorted(set(picked) - options)} are not options of {custom_id!r}")
        if ctype not in INTERACTIVE_TYPES - {4, 19}:
            raise ValueError(f"component {custom_id!r} of type {ctype} cannot be clicked")
        channel = self.channels.get(msg["channel_id"]) or {"id": msg["channel_id"], "type": 0}
        base = self._interaction_base(3, user, channel, channel.get("guild_id"), "en-US", None)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if comp is not None and "id" in comp:
            data["id"] = comp["id"]
        if ctype in SELECT_TYPES:
            data["values"] = [str(v) for v in (values or [])]
            if ctype != 3 and values:
                data["resolved"] = self._resolve_ids(values, base.get("guild_id"))
        elif values is not None:
            raise ValueError("values only apply to select menus")
        base["data"] = data
        base["message"] = msg
        return self._register_interaction(base, message_id=msg["id"])

    def modal_submit(
        self,
        custom_id: str,
        values: Mapping[str, Any],
        *,
        message: Mapping[str, Any] | object = None,
        user: Mapping[str, Any] | None = None,
        channel: Mapping[str, Any] | object = None,
        guild_id: object = None,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE (type 5): submit modal ``custom_id`` with ``values`` (component custom_id ->
        str for text inputs, list of str for selects, list of attachment dicts for file uploads).

        If the bot opened that modal through the fake, the submit mirrors its layout (action rows or
        labels), defaults to its channel/message/user, and unknown or missing required fields raise.
        """
        opened = self.modals.get(custom_id)
        source = self.interactions.get(opened["interaction_id"]) if opened else None
        if source is not None:
            user = user or source.user
            channel = channel if channel is not None else source.channel_id
            if message is None and source.message_id is not None:
                message = source.message_id
        if message is not None and not isinstance(message, Mapping):
            message = self.message(message)
        if channel is None and isinstance(message, Mapping):
            channel = message["channel_id"]
        base = self._interaction_base(5, user, channel, guild_id, "en-US", None)
        resolved: dict[str, Any] = {}
        remaining = dict(values)
        if opened:
            components = [
                self._submit_component(c, remaining, resolved) for c in opened["modal"]["components"]
            ]
            if remaining:
                raise ValueError(f"modal {custom_id!r} has no inputs {sorted(remaining)}")
        else:
            components = [
                {"type": 1, "components": [{"type": 4, "custom_id": k, "value": str(v)}]}
                for k, v in values.items()
            ]
        data: dict[str, Any] = {"custom_id": custom_id, "components": components}
        if resolved:
            data["resolved"] = resolved
        base["data"] = data
        if isinstance(message, Mapping):
            base["message"] = copy.deepcopy(dict(message))
        return self._register_interaction(
            base, message_id=message["id"] if isinstance(message, Mapping) else None
        )

    def _submit_component(
        self, comp: dict[str, Any], values: dict[str, Any], resolved: dict
    ) -> dict[str, Any]:
        ctype = comp["type"]
        if ctype == 1:
            return {
                "type": 1,
                "id": comp.get("id"),
                "components": [self._submit_component(c, values, resolved) for c in comp["components"]],
            }
        if ctype == 18:
            return {
                "type": 18,
                "id": comp.get("id"),
                "component": self._submit_component(comp["component"], values, resolved),
            }
        if ctype == 10:
            return {"type": 10, "id": comp.get("id")}
        cid = comp["custom_id"]
        out: dict[str, Any] = {"type": ctype, "id": comp.get("id"), "custom_id": cid}
        if ctype == 4:
            if cid not in values and comp.get("required", True):
                raise ValueError(f"required text input {cid!r} missing from modal submit")
            out["value"] = str(values.pop(cid, ""))
        elif ctype == 19:
            atts = list(values.pop(cid, []))
            out["values"] = [a["id"] for a in atts]
            resolved.setdefault("attachments", {}).update({a["id"]: dict(a) for a in atts})
        else:
            out["values"] = [str(v) for v in values.pop(cid, [])]
        return out

    def _interaction_base(
        self,
        itype: int,
        user: Mapping[str, Any] | None,
        channel: Mapping[str, Any] | object,
        guild_id: object,
        locale: str,
        attachment_size_limit: int | None,
    ) -> dict[str, Any]:
        user = dict(user or self.default_user)
        if channel is None:
            channel = self._default_channel(guild_id)
        chan = copy.deepcopy(self.channels.get(channel["id"] if isinstance(channel, Mapping) else channel))
        if chan is None:
            raise ValueError(f"unknown channel {channel!r}")
        gid = chan.get("guild_id") or (str(guild_id) if guild_id is not None else None)
        iid = self.snowflake()
        payload: dict[str, Any] = {
            "id": iid,
            "application_id": self.application_id,
            "type": itype,
            "token": f"itok_{iid}_{secrets.token_hex(8)}",
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": attachment_size_limit or self._attachment_limit(gid),
            "channel_id": chan["id"],
            "channel": chan,
        }
        if gid is not None:
            members = self.members[gid]
            if user["id"] not in members:
                self.make_member(gid, user)
            perms = self._permissions(gid, user["id"])
            bot_perms = self._permissions(gid, self.application_id)
            chan["permissions"] = str(perms)
            payload.update(
                {
                    "guild_id": gid,
                    "guild": {"id": gid, "locale": self.guilds[gid]["preferred_locale"], "features": []},
                    "guild_locale": self.guilds[gid]["preferred_locale"],
                    "member": {**copy.deepcopy(members[user["id"]]), "permissions": str(perms)},
                    "app_permissions": str(bot_perms),
                    "authorizing_integration_owners": {"0": gid},
                    "context": 0,
                }
            )
        else:
            payload.update(
                {
                    "user": user,
                    "app_permissions": str(BOT_PERMISSIONS),
                    "authorizing_integration_owners": {"0": "0"},
                    "context": 1,
                }
            )
        return payload

    def _default_channel(self, guild_id: object) -> str:
        if guild_id is None:
            if len(self.guilds) != 1:
                raise ValueError("pass channel= (or guild_id=) when the fake has no or several guilds")
            guild_id = next(iter(self.guilds))
        for ch in self.channels.values():
            if ch.get("guild_id") == str(guild_id) and ch["type"] == 0:
                return ch["id"]
        raise ValueError(f"guild {guild_id} has no text channel")

    def _register_interaction(self, payload: dict[str, Any], *, message_id: str | None = None) -> dict:
        user = payload["member"]["user"] if "member" in payload else payload["user"]
        record = FakeInteraction(
            id=payload["id"],
            token=payload["token"],
            type=payload["type"],
            payload=copy.deepcopy(payload),
            channel_id=payload["channel_id"],
            guild_id=payload.get("guild_id"),
            user=dict(user),
            created=time.monotonic(),
            message_id=message_id,
        )
        self.interactions[record.id] = record
        return payload

    def _find_command(self, name: str, guild_id: str | None, ctype: int) -> dict[str, Any] | None:
        for scope in ([guild_id] if guild_id else []) + [None]:
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == ctype:
                    return cmd
        return None

    def _encode_options(
        self,
        command: str,
        values: Mapping[str, Any],
        specs: list[dict[str, Any]] | None,
        resolved: dict[str, dict[str, Any]],
        guild_id: str | None,
    ) -> list[dict[str, Any]]:
        out = []
        if specs is not None:
            missing = [s["name"] for s in specs if s.get("required") and s["name"] not in values]
            if missing:
                raise ValueError(f"/{command}: required options missing: {missing}")
        for key, value in values.items():
            if specs is not None:
                spec = _option_spec(specs, key)
                if spec is None or spec["type"] in (1, 2):
                    raise ValueError(f"/{command} has no option {key!r}")
                otype = spec["type"]
                choices = [c["value"] for c in spec.get("choices") or []]
                if choices and value not in choices:
                    raise ValueError(f"/{command} {key}={value!r} is not one of the choices {choices}")
            else:
                otype = _infer_option_type(value)
            out.append(
                {"name": key, "type": otype, "value": self._encode_value(otype, value, resolved, guild_id)}
            )
        return out

    def _encode_value(
        self, otype: int, value: Any, resolved: dict[str, dict[str, Any]], guild_id: str | None
    ):
        if otype in (3, 4, 5, 10):
            return value
        if otype == 11:
            if not isinstance(value, Mapping) or value["id"] not in self.files:
                raise ValueError("attachment options take a dict returned by fake.add_attachment()")
            resolved.setdefault("attachments", {})[value["id"]] = {**value, "ephemeral": True}
            return value["id"]
        oid = str(value["id"] if isinstance(value, Mapping) else value)
        resolved_part = self._resolve_ids([oid], guild_id)
        if not resolved_part:
            raise ValueError(f"cannot resolve option value {value!r}")
        for k, v in resolved_part.items():
            resolved.setdefault(k, {}).update(v)
        return oid

    def _resolve_ids(self, ids: Iterable[object], guild_id: str | None) -> dict[str, dict[str, Any]]:
        resolved: dict[str, dict[str, Any]] = {}
        roles = {r["id"]: r for r in self.guilds[guild_id]["roles"]} if guild_id else {}
        for raw in ids:
            oid = str(raw)
            if oid in self.users:
                resolved.setdefault("users", {})[oid] = copy.deepcopy(self.users[oid])
                if guild_id and oid in self.members[guild_id]:
                    member = _without(self.members[guild_id][oid], "user")
                    member["permissions"] = str(self._permissions(guild_id, oid))
                    resolved.setdefault("members", {})[oid] = member
            elif oid in roles:
                resolved.setdefault("roles", {})[oid] = copy.deepcopy(roles[oid])
            elif oid in self.channels:
                ch = self.channels[oid]
                part = {k: ch[k] for k in ("id", "name", "type", "parent_id", "thread_metadata") if k in ch}
                part["permissions"] = str(BOT_PERMISSIONS)
                resolved.setdefault("channels", {})[oid] = part
        return resolved

    # ------------------------------------------------------------------ permissions helpers

    def _permissions(self, guild_id: str, user_id: str) -> int:
        guild = self.guilds[guild_id]
        if guild["owner_id"] == str(user_id):
            return (1 << 51) - 1
        member = self.members[guild_id].get(user_id)
        roles = {r["id"]: int(r["permissions"]) for r in guild["roles"]}
        perms = roles[guild_id]
        for rid in member["roles"] if member else []:
            perms |= roles.get(rid, 0)
        if perms & P_ADMINISTRATOR:
            return (1 << 51) - 1
        return perms

    def _attachment_limit(self, guild_id: str | None) -> int:
        tier = self.guilds[guild_id]["premium_tier"] if guild_id else 0
        return max(self.file_size_limit, {2: 50 * 1024 * 1024, 3: 100 * 1024 * 1024}.get(tier, 0))

    def _require(self, channel: dict[str, Any], needed: int) -> None:
        gid = channel.get("guild_id")
        if gid is None:
            return
        have = self._permissions(gid, self.application_id)
        if have & needed != needed:
            raise ApiError(403, 50013, "Missing Permissions")

    # ------------------------------------------------------------------ HTTP plumbing

    def _add_routes(self, r: web.UrlDispatcher) -> None:
        p = API_PREFIX
        r.add_get(f"{p}/users/@me", self._get_me)
        r.add_post(f"{p}/users/@me/channels", self._create_dm)
        r.add_get(f"{p}/oauth2/applications/@me", self._get_application)
        r.add_get(f"{p}/gateway", self._get_gateway)
        r.add_get(f"{p}/gateway/bot", self._get_gateway_bot)
        for path in (
            f"{p}/applications/{{app}}/commands",
            f"{p}/applications/{{app}}/guilds/{{guild}}/commands",
        ):
            r.add_get(path, self._get_commands)
            r.add_put(path, self._put_commands)
        r.add_post(f"{p}/interactions/{{iid}}/{{token}}/callback", self._interaction_callback)
        r.add_post(f"{p}/webhooks/{{app}}/{{token}}", self._webhook_execute)
        r.add_route("*", f"{p}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._webhook_message)
        r.add_get(f"{p}/channels/{{cid}}", self._get_channel)
        r.add_get(f"{p}/channels/{{cid}}/messages", self._list_messages)
        r.add_post(f"{p}/channels/{{cid}}/messages", self._create_message)
        r.add_route("*", f"{p}/channels/{{cid}}/messages/{{mid}}", self._channel_message)
        r.add_post(f"{p}/channels/{{cid}}/messages/{{mid}}/threads", self._thread_from_message)
        r.add_post(f"{p}/channels/{{cid}}/threads", self._thread_without_message)
        r.add_post(f"{p}/channels/{{cid}}/typing", self._typing)
        r.add_route("*", f"{p}/channels/{{cid}}/messages/{{mid}}/reactions/{{emoji}}/@me", self._own_reaction)
        r.add_get("/cdn/{kind}/{cid}/{aid}/{filename}", self._cdn)
        r.add_get("/media/{kind}/{cid}/{aid}/{filename}", self._cdn)
        r.add_get("/gateway", self._gateway)
        r.add_route("*", "/{tail:.*}", self._unknown)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        path = request.path[len(API_PREFIX) :] if request.path.startswith(API_PREFIX + "/") else request.path
        call = Call(request.method, path, dict(request.query))
        request[_CALL] = call
        self.calls.append(call)
        try:
            if await self._wait_if_held(request, call):
                raise ApiError(503, 0, "Service Unavailable (held by the test)")
            limited = self._take_rate_limit(request.method, path) or self._fault_for(request.method, path)
            if limited is not None:
                response: web.StreamResponse = limited
            else:
                if path.startswith("/") and request.path.startswith(API_PREFIX) and self._needs_auth(path):
                    if request.headers.get("Authorization") != f"Bot {self.token}":
                        raise ApiError(401, 0, "401: Unauthorized")
                response = await handler(request)
                await self._hold_response_if_asked(call)
        except ApiError as err:
            call.response = err.body()
            response = _json_response(err.body(), err.status, self._ratelimit_headers(path))
        call.status = response.status
        await self.notify()
        return response

    @staticmethod
    def _needs_auth(path: str) -> bool:
        # Interaction callbacks and interaction webhooks are authenticated by their token in the URL.
        return not (path.startswith("/interactions/") or path.startswith("/webhooks/"))

    def _take_rate_limit(self, method: str, path: str) -> web.Response | None:
        for rl in self._rate_limits:
            if path.startswith(rl.prefix) and rl.method in (None, method):
                rl.remaining -= 1
                if rl.remaining <= 0:
                    self._rate_limits.remove(rl)
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": rl.retry_after,
                    "global": rl.is_global,
                }
                headers = {
                    "Via": "1.1 google",  # without Via discord.py treats a 429 as a Cloudflare ban
                    "Retry-After": str(max(1, int(rl.retry_after + 0.999))),
                    "X-RateLimit-Scope": "global" if rl.is_global else "user",
                }
                if rl.is_global:
                    headers["X-RateLimit-Global"] = "true"
                else:
                    headers.update(self._ratelimit_headers(path, remaining=0, reset_after=rl.retry_after))
                request_call = self.calls[-1]
                request_call.response = body
                return _json_response(body, 429, headers)
        return None

    def _ratelimit_headers(
        self, path: str, *, remaining: int = 49, reset_after: float = 1.0
    ) -> dict[str, str]:
        bucket = hashlib.md5(re.sub(r"\d{15,}", "{id}", path).encode()).hexdigest()
        return {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }

    def _ok(self, request: web.Request, obj: Any, status: int = 200) -> web.Response:
        call: Call = request[_CALL]
        call.response = obj
        return _json_response(obj, status, self._ratelimit_headers(call.path))

    def _no_content(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers=self._ratelimit_headers(request[_CALL].path))

    async def _read_body(self, request: web.Request) -> tuple[dict[str, Any], list[UploadedFile]]:
        call: Call = request[_CALL]
        files: list[UploadedFile] = []
        payload: Any = {}
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            seen_payload = False
            async for part in reader:
                name = getattr(part, "name", None) or ""
                if name == "payload_json":
                    payload = self._parse_json(await part.read(decode=False))  # type: ignore[union-attr]
                    seen_payload = True
                elif m := re.fullmatch(r"files\[(\d+)\]|file(\d*)", name):
                    data = bytes(await part.read(decode=False))  # type: ignore[union-attr]
                    index = int(m.group(1) or m.group(2) or 0)
                    ctype = part.headers.get("Content-Type")
                    files.append(
                        UploadedFile(name, index, getattr(part, "filename", None) or "file", ctype, data)
                    )
                else:
                    raise ApiError(
                        400,
                        50035,
                        "Invalid Form Body",
                        {
                            name: {
                                "_errors": [
                                    {"code": "UNKNOWN_FIELD", "message": f"Unknown form field {name!r}"}
                                ]
                            }
                        },
                    )
            if not seen_payload:
                raise ApiError(
                    400,
                    50035,
                    "Invalid Form Body",
                    {
                        "payload_json": {
                            "_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]
                        }
                    },
                )
        elif request.body_exists:  # (read already when the request was held)
            if request.content_type != "application/json":
                raise ApiError(400, 50109, "The request body contains invalid JSON.")
            payload = self._parse_json(await request.read())
        if not isinstance(payload, dict) and not isinstance(payload, list):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        call.json, call.files = payload, files
        limit = self.request_size_limit or max(REQUEST_SIZE_LIMIT, self.file_size_limit)
        if any(len(f.data) > self.file_size_limit for f in files) or sum(len(f.data) for f in files) > limit:
            raise ApiError(413, 40005, "Request entity too large")
        return payload, files

    @staticmethod
    def _parse_json(raw: bytes) -> Any:
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from None

    async def _unknown(self, request: web.Request) -> web.Response:
        self.unexpected.append(f"{request.method} {request.path_qs}")
        raise ApiError(404, 0, "404: Not Found")

    def _channel_or_404(self, cid: str) -> dict[str, Any]:
        channel = self.channels.get(cid)
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _message_or_404(self, channel: dict[str, Any], mid: str) -> dict[str, Any]:
        msg = self.messages.get(mid)
        if msg is None or msg["channel_id"] != channel["id"] or msg["flags"] & FLAG_EPHEMERAL:
            raise ApiError(404, 10008, "Unknown Message")
        return msg

    # ------------------------------------------------------------------ users / application / gateway

    async def _get_me(self, request: web.Request) -> web.Response:
        return self._ok(request, self.bot_user)

    async def _create_dm(self, request: web.Request) -> web.Response:
        body, _ = await self._read_body(request)
        user = self.users.get(body.get("recipient_id"))
        if user is None:
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "recipient_id": {
                        "_errors": [{"code": "NUMBER_TYPE_COERCE", "message": "Value is not snowflake."}]
                    }
                },
            )
        return self._ok(request, self.make_dm(user))

    async def _get_application(self, request: web.Request) -> web.Response:
        return self._ok(
            request,
            {
                "id": self.application_id,
                "name": self.bot_user["username"],
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "hook": True,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": (1 << 19) | (1 << 23),  # GATEWAY_MESSAGE_CONTENT_LIMITED, APPLICATION_COMMAND_BADGE
                "owner": self.default_user,
                "team": None,
                "bot": self.bot_user,
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": len(self.guilds),
                "integration_types_config": {"0": {}},
            },
        )

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return self._ok(request, {"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        return self._ok(
            request,
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14400000,
                    "max_concurrency": 1,
                },
            },
        )

    # ------------------------------------------------------------------ application commands

    def _check_app(self, app: str) -> None:
        if app != self.application_id:
            raise ApiError(403, 50001, "Missing Access")

    async def _get_commands(self, request: web.Request) -> web.Response:
        self._check_app(request.match_info["app"])
        guild = request.match_info.get("guild")
        if guild is not None and guild not in self.guilds:
            raise ApiError(403, 50001, "Missing Access")
        return self._ok(request, self.commands.get(guild, []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        self._check_app(request.match_info["app"])
        guild = request.match_info.get("guild")
        if guild is not None and guild not in self.guilds:
            raise ApiError(403, 50001, "Missing Access")
        body, _ = await self._read_body(request)
        if not isinstance(body, list):
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "_errors": [
                        {"code": "LIST_TYPE_CONVERT", "message": "Only iterables may be used in a ListType."}
                    ]
                },
            )
        errors = _FormErrors()
        seen: set[tuple[str, int]] = set()
        for i, cmd in enumerate(body):
            _validate_command(cmd, (str(i),), errors)
            key = (str(cmd.get("name")), int(cmd.get("type", 1)))
            if key in seen:
                errors.add(
                    (str(i), "name"),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                )
            seen.add(key)
        if sum(1 for c in body if c.get("type", 1) == 1) > 100:
            errors.add((), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
        errors.raise_if_any()
        stored = []
        for cmd in body:
            key = (guild, cmd["name"], int(cmd.get("type", 1)))
            cid = self._command_ids.setdefault(key, self.snowflake())
            echo = {
                "id": cid,
                "application_id": self.application_id,
                "version": self.snowflake(),
                "type": int(cmd.get("type", 1)),
                "name": cmd["name"],
                "description": cmd.get("description", ""),
                "default_member_permissions": cmd.get("default_member_permissions"),
                "dm_permission": cmd.get("dm_permission", True) if guild is None else None,
                "nsfw": cmd.get("nsfw", False),
                "name_localizations": cmd.get("name_localizations"),
                "description_localizations": cmd.get("description_localizations"),
                "contexts": cmd.get("contexts"),
                "integration_types": cmd.get("integration_types", [0]),
            }
            if cmd.get("options"):
                echo["options"] = copy.deepcopy(cmd["options"])
            if guild is not None:
                echo["guild_id"] = guild
                echo.pop("dm_permission")
            stored.append(echo)
        self.commands[guild] = stored
        return self._ok(request, stored)

    # ------------------------------------------------------------------ interactions and their webhooks

    async def _interaction_callback(self, request: web.Request) -> web.StreamResponse:
        inter = self.interactions.get(request.match_info["iid"])
        if inter is None or inter.token != request.match_info["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        late = self.initial_response_deadline is not None and (
            time.monotonic() - inter.created > self.initial_response_deadline
        )
        if inter.expired or late:
            raise ApiError(404, 10062, "Unknown interaction")
        body, files = await self._read_body(request)
        if inter.response is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        rtype = body.get("type")
        data = body.get("data") or {}
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[inter.type]
        if inter.type == 5 and inter.message_id is None:
            allowed = {4, 5}
        if rtype not in allowed:
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "type": {
                        "_errors": [
                            {
                                "code": "INTERACTION_CALLBACK_TYPE_INVALID",
                                "message": f"Interaction callback type {rtype} is not valid for interaction type {inter.type}",
                            }
                        ]
                    }
                },
            )
        channel = self.channels.get(inter.channel_id) or {"id": inter.channel_id, "type": 0}
        message: dict[str, Any] | None = None
        loading = False
        if rtype == 4:
            self._validate_message(data, files, ("data",), allowed_flags=INTERACTION_MESSAGE_FLAGS)
            message = self._interaction_message(inter, channel, data, files)
            await self._echo_create(message)
        elif rtype == 5:
            flags = int(data.get("flags") or 0)
            if flags & ~FLAG_EPHEMERAL:
                _bad_flags(("data", "flags"))
            loading = True
            message = self._new_message(
                channel,
                self.bot_user,
                flags=FLAG_LOADING | flags,
                webhook_id=self.application_id,
                interaction=inter,
            )
            inter.original_message_id = message["id"]
            await self._echo_create(message)
        elif rtype in (6, 7):
            message = self.messages.get(inter.message_id)
            if message is None:
                raise ApiError(404, 10008, "Unknown Message")
            inter.original_message_id = message["id"]
            if rtype == 7:
                self._validate_message(
                    data,
                    files,
                    ("data",),
                    allowed_flags=INTERACTION_MESSAGE_FLAGS,
                    existing_flags=message["flags"],
                )
                self._apply_edit(message, data, files)
                await self._echo_update(message)
            else:
                message = None
        elif rtype == 8:
            choices = data.get("choices")
            errors = _FormErrors()
            errors.length(("data", "choices"), choices, 0, 25)
            errors.raise_if_any()
        elif rtype == 9:
            _validate_modal(data)
            modal = copy.deepcopy(data)
            _assign_component_ids(modal["components"])
            self.modals[data["custom_id"]] = {"modal": modal, "interaction_id": inter.id}
        inter.response = {"type": rtype, "data": copy.deepcopy(data)}
        self.interaction_responses[inter.id] = inter.response
        if not _truthy(request.query.get("with_response")):
            return self._no_content(request)
        callback: dict[str, Any] = {"interaction": {"id": inter.id, "type": inter.type}}
        if message is not None:
            callback["interaction"].update(
                {
                    "response_message_id": message["id"],
                    "response_message_loading": loading,
                    "response_message_ephemeral": bool(message["flags"] & FLAG_EPHEMERAL),
                }
            )
            callback["resource"] = {"type": rtype, "message": copy.deepcopy(message)}
        return self._ok(request, callback)

    def _interaction_message(
        self, inter: FakeInteraction, channel: dict[str, Any], data: dict[str, Any], files: list[UploadedFile]
    ) -> dict[str, Any]:
        message = self._new_message(
            channel,
            self.bot_user,
            webhook_id=self.application_id,
            interaction=inter,
            **self._message_fields(
                data, files, channel, ephemeral=bool(int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            ),
        )
        inter.original_message_id = message["id"]
        return message

    def _interaction_for_webhook(self, app: str, token: str) -> FakeInteraction:
        if app != self.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        inter = next((i for i in self.interactions.values() if i.token == token), None)
        if inter is None or inter.expired:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        if inter.response is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        return inter

    async def _webhook_execute(self, request: web.Request) -> web.Response:
        inter = self._interaction_for_webhook(request.match_info["app"], request.match_info["token"])
        body, files = await self._read_body(request)
        if "thread_id" in request.query:
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "thread_id": {
                        "_errors": [
                            {
                                "code": "INTERACTION_WEBHOOK_THREAD_ID",
                                "message": "Interaction webhooks cannot target threads",
                            }
                        ]
                    }
                },
            )
        self._validate_message(body, files, (), allowed_flags=INTERACTION_MESSAGE_FLAGS)
        channel = self.channels.get(inter.channel_id) or {"id": inter.channel_id, "type": 0}
        original = self.messages.get(inter.original_message_id) if inter.original_message_id else None
        if original is not None and original["flags"] & FLAG_LOADING and not inter.followup_ids:
            # The first followup after a type-5 defer replaces the "thinking" message and keeps its
            # ephemeral state.
            body = {
                **body,
                "flags": (int(body.get("flags") or 0) & ~FLAG_EPHEMERAL)
                | (original["flags"] & FLAG_EPHEMERAL),
            }
            self._apply_edit(original, body, files)
            message = original
            await self._echo_update(message)
        else:
            ephemeral = bool(int(body.get("flags") or 0) & FLAG_EPHEMERAL)
            message = self._new_message(
                channel,
                self.bot_user,
                webhook_id=self.application_id,
                interaction=inter,
                **self._message_fields(body, files, channel, ephemeral=ephemeral),
            )
            await self._echo_create(message)
        inter.followup_ids.append(message["id"])
        if _truthy(request.query.get("wait")):
            return self._ok(request, message)
        return self._no_content(request)

    async def _webhook_message(self, request: web.Request) -> web.Response:
        inter = self._interaction_for_webhook(request.match_info["app"], request.match_info["token"])
        mid = request.match_info["mid"]
        if mid == "@original":
            mid = inter.original_message_id or ""
        elif mid not in inter.followup_ids and mid != inter.original_message_id:
            mid = ""
        message = self.messages.get(mid) if mid else None
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        if request.method == "GET":
            return self._ok(request, message)
        if request.method == "DELETE":
            await self._delete_message(message)
            return self._no_content(request)
        if request.method != "PATCH":
            return await self._unknown(request)
        body, files = await self._read_body(request)
        self._validate_message(
            body, files, (), allowed_flags=INTERACTION_MESSAGE_FLAGS, existing_flags=message["flags"]
        )
        self._apply_edit(message, body, files)
        await self._echo_update(message)
        return self._ok(request, message)

    # ------------------------------------------------------------------ channels and messages

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request.match_info["cid"])
        return self._ok(request, channel)

    async def _list_messages(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request.match_info["cid"])
        self._require(channel, P_VIEW_CHANNEL | P_READ_MESSAGE_HISTORY)
        q = request.query
        try:
            limit = int(q.get("limit", "50"))
        except ValueError:
            limit = -1
        if not 1 <= limit <= 100:
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "limit": {
                        "_errors": [
                            {
                                "code": "NUMBER_TYPE_MAX",
                                "message": "int value should be less than or equal to 100.",
                            }
                        ]
                    }
                },
            )
        msgs = [
            m
            for m in self.messages.values()
            if m["channel_id"] == channel["id"] and not m["flags"] & FLAG_EPHEMERAL
        ]
        msgs.sort(key=lambda m: int(m["id"]), reverse=True)
        if "before" in q:
            msgs = [m for m in msgs if int(m["id"]) < int(q["before"])]
        if "after" in q:
            msgs = [m for m in msgs if int(m["id"]) > int(q["after"])][-limit:]
        if "around" in q:
            pivot = int(q["around"])
            msgs.sort(key=lambda m: abs(int(m["id"]) - pivot))
            msgs = sorted(msgs[:limit], key=lambda m: int(m["id"]), reverse=True)
        # Discord does not keep a nonce past its create response and MESSAGE_CREATE.
        return self._ok(request, [_without(m, "nonce") for m in msgs[:limit]])

    async def _create_message(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request.match_info["cid"])
        if channel["type"] not in TEXT_CHANNEL_TYPES:
            raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
        body, files = await self._read_body(request)
        in_thread = channel["type"] in THREAD_TYPES
        needed = P_VIEW_CHANNEL | (P_SEND_MESSAGES_IN_THREADS if in_thread else P_SEND_MESSAGES)
        if files:
            needed |= P_ATTACH_FILES
        self._require(channel, needed)
        if in_thread and channel["thread_metadata"].get("locked"):
            raise ApiError(400, 50083, "Thread is archived")
        self._validate_message(body, files, (), allowed_flags=CHANNEL_MESSAGE_FLAGS)
        earlier = self._same_nonce(body)
        if earlier is not None:
            return self._ok(request, earlier)  # enforce_nonce: the message sent before, not a new one
        ref = self._reference(body["message_reference"], channel) if body.get("message_reference") else None
        fields = self._message_fields(body, files, channel, ephemeral=False)
        if "embeds" in fields and not self._has(channel, P_EMBED_LINKS):
            fields["embeds"] = []  # Discord silently drops embeds without Embed Links
        message = self._new_message(channel, self.bot_user, reference=ref, **fields)
        if body.get("nonce") is not None and body.get("enforce_nonce"):
            self._nonces[(self.bot_user["id"], str(body["nonce"]))] = (message["id"], time.monotonic())
        if in_thread and channel["thread_metadata"]["archived"]:
            channel["thread_metadata"]["archived"] = False
        await self._echo_create(message)
        return self._ok(request, message)

    def _same_nonce(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """With ``enforce_nonce``, the bot's message created with this nonce in the last
        ``nonce_window`` seconds (Discord returns it instead of creating another)."""
        if body.get("nonce") is None or not body.get("enforce_nonce"):
            return None
        found = self._nonces.get((self.bot_user["id"], str(body["nonce"])))
        if found is None or time.monotonic() - found[1] > self.nonce_window:
            return None
        message = self.messages.get(found[0])
        return {**message, "nonce": body["nonce"]} if message is not None else None

    def _has(self, channel: dict[str, Any], perm: int) -> bool:
        gid = channel.get("guild_id")
        return gid is None or bool(self._permissions(gid, self.application_id) & perm)

    async def _channel_message(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request.match_info["cid"])
        message = self._message_or_404(channel, request.match_info["mid"])
        if request.method == "GET":
            return self._ok(request, message)
        if request.method == "DELETE":
            if message["author"]["id"] != self.application_id:
                self._require(channel, P_MANAGE_MESSAGES)
            await self._delete_message(message)
            return self._no_content(request)
        if request.method != "PATCH":
            return await self._unknown(request)
        body, files = await self._read_body(request)
        if message["author"]["id"] != self.application_id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._validate_message(
            body, files, (), allowed_flags=CHANNEL_MESSAGE_FLAGS, existing_flags=message["flags"]
        )
        self._apply_edit(message, body, files)
        await self._echo_update(message)
        return self._ok(request, message)

    async def _thread_from_message(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request.match_info["cid"])
        message = self._message_or_404(channel, request.match_info["mid"])
        body, _ = await self._read_body(request)
        if channel["type"] not in (0, 5):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require(channel, P_VIEW_CHANNEL | P_CREATE_PUBLIC_THREADS)
        if message.get("thread") or message["id"] in self.channels:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        _validate_thread_body(body, with_type=False)
        thread = self._new_thread(
            channel, body, thread_type=10 if channel["type"] == 5 else 11, tid=message["id"]
        )
        message["thread"] = copy.deepcopy(thread)
        message["flags"] |= FLAG_HAS_THREAD
        await self._echo("THREAD_CREATE", self.thread_create(thread["id"]))
        return self._ok(request, {**thread, "member": self._thread_member(thread["id"])}, 201)

    async def _thread_without_message(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request.match_info["cid"])
        body, _ = await self._read_body(request)
        if channel["type"] not in (0, 5):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        _validate_thread_body(body, with_type=True)
        ttype = int(body.get("type") or 12)
        if channel["type"] == 5:
            ttype = 10
        self._require(
            channel, P_VIEW_CHANNEL | (P_CREATE_PRIVATE_THREADS if ttype == 12 else P_CREATE_PUBLIC_THREADS)
        )
        thread = self._new_thread(channel, body, thread_type=ttype, tid=None)
        await self._echo("THREAD_CREATE", self.thread_create(thread["id"]))
        return self._ok(request, {**thread, "member": self._thread_member(thread["id"])}, 201)

    def _new_thread(
        self, channel: dict[str, Any], body: dict[str, Any], *, thread_type: int, tid: str | None
    ):
        thread = self.make_thread(
            channel["id"],
            body["name"],
            owner=self.bot_user,
            type=thread_type,
            thread_id=tid,
            auto_archive_duration=int(
                body.get("auto_archive_duration") or channel.get("default_auto_archive_duration", 1440)
            ),
        )
        stored = self.channels[thread["id"]]
        stored["rate_limit_per_user"] = int(body.get("rate_limit_per_user") or 0)
        if thread_type == 12:
            stored["thread_metadata"]["invitable"] = bool(body.get("invitable", True))
        return copy.deepcopy(stored)

    async def _typing(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request.match_info["cid"])
        self.typing.append(channel["id"])
        return self._no_content(request)

    async def _own_reaction(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request.match_info["cid"])
        message = self._message_or_404(channel, request.match_info["mid"])
        emoji = request.match_info["emoji"]
        name, _, eid = emoji.partition(":")
        reactions = message.setdefault("reactions", [])
        existing = next((r for r in reactions if r["emoji"]["name"] == name), None)
        if request.method == "PUT":
            self._require(channel, P_ADD_REACTIONS | P_READ_MESSAGE_HISTORY)
            if existing is None:
                reactions.append(
                    {
                        "count": 1,
                        "count_details": {"burst": 0, "normal": 1},
                        "me": True,
                        "me_burst": False,
                        "burst_colors": [],
                        "emoji": {"id": eid or None, "name": name},
                    }
                )
            elif not existing["me"]:
                existing["me"] = True
                existing["count"] += 1
                existing["count_details"]["normal"] += 1
            return self._no_content(request)
        if request.method == "DELETE":
            if existing is not None and existing["me"]:
                existing["count"] -= 1
                existing["count_details"]["normal"] -= 1
                existing["me"] = False
                if existing["count"] == 0:
                    reactions.remove(existing)
            return self._no_content(request)
        return await self._unknown(request)

    async def _cdn(self, request: web.Request) -> web.Response:
        aid = request.match_info["aid"]
        data = self.files.get(aid)
        if data is None or request.match_info["kind"] not in ("attachments", "ephemeral-attachments"):
            return web.Response(status=404, text="Not Found")
        ctype = mimetypes.guess_type(request.match_info["filename"])[0] or "application/octet-stream"
        extra = self.cdn_extra_bytes.get(aid, 0)
        if not extra:
            self.cdn_bytes_sent[aid] = self.cdn_bytes_sent.get(aid, 0) + len(data)
            return web.Response(body=data, headers={"Content-Type": ctype})
        # A body longer than the attachment says: streamed, so only what the client reads is made.
        response = web.StreamResponse(headers={"Content-Type": ctype})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = bytes(64 * 1024)
        pieces = [data] + [chunk] * (extra // len(chunk)) + [bytes(extra % len(chunk))]
        try:
            for piece in pieces:
                await response.write(piece)
                self.cdn_bytes_sent[aid] = self.cdn_bytes_sent.get(aid, 0) + len(piece)
            await response.write_eof()
        except (ConnectionError, aiohttp.ClientConnectionResetError):
            pass  # the client stopped reading and hung up
        return response

    # ------------------------------------------------------------------ message building

    def _message_fields(
        self, body: dict[str, Any], files: list[UploadedFile], channel: dict[str, Any], *, ephemeral: bool
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "content": body.get("content") or "",
            "tts": bool(body.get("tts", False)),
            "flags": int(body.get("flags") or 0),
            "attachments": self._attachments(body, files, channel["id"], [], ephemeral=ephemeral),
        }
        if body.get("embeds") is not None:
            fields["embeds"] = copy.deepcopy(body["embeds"])
        if body.get("components") is not None:
            fields["components"] = copy.deepcopy(body["components"])
        if body.get("nonce") is not None:
            fields["nonce"] = body["nonce"]
        fields.update(self._pings(fields["content"], body.get("allowed_mentions"), channel))
        if not (
            fields["content"]
            or fields.get("embeds")
            or fields["attachments"]
            or fields.get("components")
            or body.get("sticker_ids")
            or body.get("poll")
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")
        return fields

    def _pings(
        self, content: str, allowed: Mapping[str, Any] | None, channel: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Who a message by the bot notifies, as Discord decides it: ``mentions`` (users),
        ``mention_roles`` and ``mention_everyone`` (``@everyone``/``@here``).

        Without ``allowed_mentions`` everything in the content is parsed. With it, ``parse`` names
        the kinds parsed wholesale and ``users``/``roles`` list the only ids that may ping.
        @everyone and unmentionable roles also need Mention Everyone in a guild.
        """
        gid = channel.get("guild_id")
        can_everyone = gid is not None and bool(
            self._permissions(gid, self.application_id) & P_MENTION_EVERYONE
        )
        parse = (
            set((allowed or {}).get("parse") or []) if allowed is not None else {"users", "roles", "everyone"}
        )

        def permitted(kind: str, ident: str) -> bool:
            return kind in parse or ident in {str(i) for i in (allowed or {}).get(kind) or []}

        user_ids = [i for i in dict.fromkeys(re.findall(r"<@!?(\d+)>", content)) if permitted("users", i)]
        roles = {r["id"]: r for r in self.guilds[gid]["roles"]} if gid is not None else {}
        role_ids = [
            i
            for i in dict.fromkeys(re.findall(r"<@&(\d+)>", content))
            if i in roles and permitted("roles", i) and (roles[i]["mentionable"] or can_everyone)
        ]
        everyone = "everyone" in parse and can_everyone and bool(re.search(r"@(everyone|here)\b", content))
        return {
            "mentions": [copy.deepcopy(self.users[i]) for i in user_ids if i in self.users],
            "mention_roles": role_ids,
            "mention_everyone": everyone,
        }

    def bot_pings(self) -> list[dict[str, Any]]:
        """The bot's stored messages that notify anyone (users, roles, @everyone/@here)."""
        return [
            copy.deepcopy(m)
            for m in self.messages.values()
            if m["author"]["id"] == self.application_id
            and (m["mentions"] or m["mention_roles"] or m["mention_everyone"])
        ]

    def message_requests(self) -> list[tuple[Call, dict[str, Any]]]:
        """Every request that created or edited a message with content the bot chose, with the
        message body it sent: channel messages (POST/PATCH), interaction webhooks (followups and
        ``@original`` edits) and interaction callbacks that carry a message (types 4 and 7)."""
        found: list[tuple[Call, dict[str, Any]]] = []
        for call in self.calls:
            body = call.json if isinstance(call.json, dict) else None
            if body is None or call.method not in ("POST", "PATCH"):
                continue
            if re.fullmatch(r"/interactions/\d+/[^/]+/callback", call.path):
                if body.get("type") in (4, 7):
                    found.append((call, body.get("data") or {}))
            elif re.fullmatch(
                r"/channels/\d+/messages(/\d+)?|/webhooks/\d+/[^/]+(/messages/[^/]+)?", call.path
            ):
                found.append((call, body))
        return found

    def _attachments(
        self,
        body: dict[str, Any],
        files: list[UploadedFile],
        channel_id: str,
        existing: list[dict[str, Any]],
        *,
        ephemeral: bool,
        edit: bool = False,
    ) -> list[dict[str, Any]]:
        by_index = {f.index: f for f in files}
        spec = body.get("attachments")
        result: list[dict[str, Any]] = []
        used: set[int] = set()
        if spec is None:
            result = list(existing) if edit else []
        else:
            errors = _FormErrors()
            for i, meta in enumerate(spec):
                raw = str(meta.get("id"))
                if raw.isdigit() and int(raw) in by_index and int(raw) not in used:
                    used.add(int(raw))
                    up = by_index[int(raw)]
                    result.append(
                        self._store_attachment(
                            meta.get("filename") or up.filename,
                            up.data,
                            up.content_type,
                            channel_id,
                            description=meta.get("description"),
                            ephemeral=ephemeral,
                            title=meta.get("title"),
                        )
                    )
                elif keep := next((a for a in existing if a["id"] == raw), None):
                    result.append(keep)
                else:
                    errors.add(("attachments", i, "id"), "ATTACHMENT_NOT_FOUND", "Unknown attachment")
            errors.raise_if_any()
        for f in files:
            if f.index not in used:
                result.append(
                    self._store_attachment(
                        f.filename, f.data, f.content_type, channel_id, ephemeral=ephemeral
                    )
                )
        if len(result) > 10:
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "attachments": {
                        "_errors": [
                            {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 10 or fewer in length."}
                        ]
                    }
                },
            )
        return result

    def _new_message(
        self,
        channel: dict[str, Any],
        author: Mapping[str, Any],
        *,
        content: str = "",
        tts: bool = False,
        flags: int = 0,
        attachments: list[dict[str, Any]] | None = None,
        embeds: list[dict[str, Any]] | None = None,
        components: list[dict[str, Any]] | None = None,
        mentions: list[dict[str, Any]] | None = None,
        mention_roles: list[str] | None = None,
        mention_everyone: bool = False,
        nonce: Any = None,
        reference: dict[str, Any] | None = None,
        webhook_id: str | None = None,
        interaction: FakeInteraction | None = None,
    ) -> dict[str, Any]:
        components = components or []
        _assign_component_ids(components)
        mtype = 0
        msg: dict[str, Any] = {
            "id": self.snowflake(),
            "channel_id": channel["id"],
            "author": dict(author),
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": tts,
            "mention_everyone": mention_everyone,
            "mentions": mentions or [],
            "mention_roles": mention_roles or [],
            "attachments": attachments or [],
            "embeds": embeds or [],
            "pinned": False,
            "type": 0,
            "flags": flags,
            "components": components,
        }
        if nonce is not None:
            msg["nonce"] = nonce
        if reference is not None:
            mtype = 19
            msg["message_reference"] = {k: v for k, v in reference.items() if k != "referenced_message"}
            msg["referenced_message"] = reference["referenced_message"]
        if webhook_id is not None:
            msg["webhook_id"] = webhook_id
            msg["application_id"] = self.application_id
        if interaction is not None:
            metadata: dict[str, Any] = {
                "id": interaction.id,
                "type": interaction.type,
                "user": dict(interaction.user),
                "authorizing_integration_owners": interaction.payload["authorizing_integration_owners"],
            }
            if interaction.type == 2:
                mtype = 20 if interaction.payload["data"].get("type", 1) == 1 else 23
                metadata["name"] = interaction.payload["data"]["name"]
                metadata["command_type"] = interaction.payload["data"].get("type", 1)
                msg["interaction"] = {
                    "id": interaction.id,
                    "type": 2,
                    "name": metadata["name"],
                    "user": dict(interaction.user),
                }
            elif interaction.message_id is not None:
                metadata["interacted_message_id"] = interaction.message_id
            if interaction.original_message_id and interaction.response is not None:
                metadata["original_response_message_id"] = interaction.original_message_id
            msg["interaction_metadata"] = metadata
        if channel.get("type") in THREAD_TYPES:
            msg["position"] = channel["total_message_sent"]
            channel["message_count"] += 1
            channel["total_message_sent"] += 1
        msg["type"] = mtype
        if "last_message_id" in channel:
            channel["last_message_id"] = msg["id"]
        self.messages[msg["id"]] = msg
        return msg

    def _reference(self, ref: Mapping[str, Any], channel: dict[str, Any]) -> dict[str, Any]:
        mid = str(ref.get("message_id"))
        target = self.messages.get(mid)
        if target is None or target["flags"] & FLAG_EPHEMERAL:
            if ref.get("fail_if_not_exists", True):
                raise ApiError(
                    400,
                    50035,
                    "Invalid Form Body",
                    {
                        "message_reference": {
                            "_errors": [
                                {"code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "message": "Unknown message"}
                            ]
                        }
                    },
                )
            return {"type": 0, "message_id": mid, "channel_id": channel["id"], "referenced_message": None}
        out = {"type": 0, "message_id": mid, "channel_id": target["channel_id"]}
        target_channel = self.channels.get(target["channel_id"]) or {}
        if target_channel.get("guild_id"):
            out["guild_id"] = target_channel["guild_id"]
        out["referenced_message"] = _without(target, "referenced_message")
        return out

    def _apply_edit(self, message: dict[str, Any], body: dict[str, Any], files: list[UploadedFile]) -> None:
        channel = self.channels.get(message["channel_id"]) or {"id": message["channel_id"]}
        ephemeral = bool(message["flags"] & FLAG_EPHEMERAL)
        new = copy.deepcopy(message)
        if "content" in body:
            new["content"] = body["content"] or ""
            new.update(self._pings(new["content"], body.get("allowed_mentions"), channel))
        if "embeds" in body:
            new["embeds"] = copy.deepcopy(body["embeds"] or [])
        if "components" in body:
            new["components"] = copy.deepcopy(body["components"] or [])
            _assign_component_ids(new["components"])
        if "attachments" in body or files:
            new["attachments"] = self._attachments(
                body, files, channel["id"], message["attachments"], ephemeral=ephemeral, edit=True
            )
        if body.get("flags") is not None:
            requested = int(body["flags"])
            if message["flags"] & FLAG_COMPONENTS_V2 and not requested & FLAG_COMPONENTS_V2:
                _bad_flags(("flags",), "The IS_COMPONENTS_V2 flag cannot be removed")
            keep = message["flags"] & (FLAG_EPHEMERAL | FLAG_HAS_THREAD)
            new["flags"] = keep | (requested & (FLAG_SUPPRESS_EMBEDS | FLAG_COMPONENTS_V2))
        new["flags"] &= ~FLAG_LOADING
        if not (new["content"] or new["embeds"] or new["attachments"] or new["components"]):
            raise ApiError(400, 50006, "Cannot send an empty message")
        if message["flags"] & FLAG_LOADING:
            new["timestamp"] = message["timestamp"]
        else:
            new["edited_timestamp"] = _now_iso()
        message.clear()
        message.update(new)

    async def _delete_message(self, message: dict[str, Any]) -> None:
        self.messages.pop(message["id"])
        channel = self.channels.get(message["channel_id"]) or {}
        payload = {"id": message["id"], "channel_id": message["channel_id"]}
        if channel.get("guild_id"):
            payload["guild_id"] = channel["guild_id"]
        if not message["flags"] & FLAG_EPHEMERAL:
            await self._echo("MESSAGE_DELETE", payload)

    # ------------------------------------------------------------------ validation

    def _validate_message(
        self,
        body: dict[str, Any],
        files: list[UploadedFile],
        prefix: tuple[str, ...],
        *,
        allowed_flags: int,
        existing_flags: int = 0,
    ) -> None:
        """Raise 400 50035 for what Discord rejects; ``existing_flags`` are those of an edited message."""
        errors = _FormErrors()
        content = body.get("content")
        if content is not None:
            if not isinstance(content, str):
                errors.add(
                    (*prefix, "content"), "STRING_TYPE_CONVERT", "Could not interpret value as string."
                )
            elif len(content) > 2000:
                errors.add((*prefix, "content"), "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        flags = int(body.get("flags") or 0)
        if flags & ~allowed_flags:
            errors.add((*prefix, "flags"), "MESSAGE_FLAGS_INVALID", "Invalid message flags")
        v2 = bool((flags | existing_flags) & FLAG_COMPONENTS_V2)
        if v2 and (content or body.get("embeds")):
            errors.add(
                (*prefix, "content" if content else "embeds"),
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2",
            )
        embeds = body.get("embeds")
        if embeds is not None:
            _validate_embeds(embeds, (*prefix, "embeds"), errors)
        components = body.get("components")
        if components is not None:
            _validate_components(components, (*prefix, "components"), errors, v2=v2)
        nonce = body.get("nonce")
        if nonce is not None and len(str(nonce)) > 25:
            errors.add((*prefix, "nonce"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        stickers = body.get("sticker_ids")
        if stickers is not None and len(stickers) > 3:
            errors.add((*prefix, "sticker_ids"), "BASE_TYPE_MAX_LENGTH", "Must be 3 or fewer in length.")
        allowed = body.get("allowed_mentions")
        if allowed is not None:
            parse = allowed.get("parse") or []
            if set(parse) - {"users", "roles", "everyone"}:
                errors.add(
                    (*prefix, "allowed_mentions", "parse"),
                    "BASE_TYPE_CHOICES",
                    "Value must be one of {'users', 'roles', 'everyone'}.",
                )
            for kind in ("users", "roles"):
                if kind in parse and allowed.get(kind):
                    errors.add(
                        (*prefix, "allowed_mentions"),
                        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                        f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
                    )
        if len(files) > 10:
            errors.add((*prefix, "files"), "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        attachments = body.get("attachments")
        if attachments is not None and len(attachments) > 10:
            errors.add((*prefix, "attachments"), "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        errors.raise_if_any()

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        session = _GatewaySession(ws=ws, session_id=secrets.token_hex(16))
        self.gateway_sessions.append(session)
        try:
            await self._ws_send(session, {"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    break
                msg = json.loads(frame.data)
                session.received.append(msg)
                await self._gateway_op(session, msg)
                await self.notify()
        finally:
            self.gateway_sessions.remove(session)
            await self.notify()
        return ws

    async def _gateway_op(self, session: _GatewaySession, msg: dict[str, Any]) -> None:
        op, data = msg.get("op"), msg.get("d")
        if op == 1:
            await self._ws_send(session, {"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            if data.get("token") not in (self.token, f"Bot {self.token}"):
                await session.ws.close(code=4004, message=b"Authentication failed.")
                return
            session.intents = int(data.get("intents", 0))
            if session.intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
                # What Discord does when the portal has not enabled a requested privileged intent.
                await session.ws.close(code=4014, message=b"Disallowed intent(s).")
                return
            session.identified = True
            ready = {
                "v": 10,
                "user": self.bot_user,
                "guilds": [{"id": gid, "unavailable": True} for gid in self.guilds],
                "session_id": session.session_id,
                "session_type": "normal",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": self.application_id, "flags": (1 << 19) | (1 << 23)},
                "private_channels": [],
                "presences": [],
                "relationships": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "user_settings": {},
                "auth": {},
                "_trace": ["fake-discord"],
            }
            if data.get("shard"):
                ready["shard"] = data["shard"]
            await self._dispatch_to(session, "READY", ready)
            if session.intents & I_GUILDS:
                for gid in list(self.guilds):
                    await self._dispatch_to(session, "GUILD_CREATE", self.guild_create(gid))
        elif op == 6:
            session.identified = True
            await self._dispatch_to(session, "RESUMED", {"_trace": ["fake-discord"]})
        elif op == 8:
            gid = str(data.get("guild_id"))
            if gid in self.guilds:
                chunk = {
                    "guild_id": gid,
                    "members": list(self.members[gid].values()),
                    "chunk_index": 0,
                    "chunk_count": 1,
                    "not_found": [],
                }
                if data.get("nonce"):
                    chunk["nonce"] = data["nonce"]
                await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)
        # op 3 (presence) and op 4 (voice state) are only recorded in session.received

    async def _ws_send(self, session: _GatewaySession, frame: dict[str, Any]) -> None:
        session.sent.append(frame)
        if not session.ws.closed:
            await session.ws.send_str(json.dumps(frame))

    async def _dispatch_to(self, session: _GatewaySession, event: str, payload: dict[str, Any]) -> None:
        session.seq += 1
        await self._ws_send(session, {"op": 0, "t": event, "s": session.seq, "d": payload})

    async def dispatch(self, event: str, payload: Mapping[str, Any]) -> int:
        """Send a gateway event to every identified session (filtered by intents, content redacted as
        Discord does without MESSAGE_CONTENT). Returns the number of sessions it was sent to."""
        sent = 0
        for session in list(self.gateway_sessions):
            if not session.identified:
                continue
            visible = _visible_to(session.intents, event, dict(payload), self.application_id)
            if visible is not None:
                await self._dispatch_to(session, event, visible)
                sent += 1
        await self.notify()
        return sent

    async def _echo(self, event: str, payload: dict[str, Any]) -> None:
        if self.echo_events and self.gateway_sessions:
            await self.dispatch(event, payload)

    async def _echo_create(self, message: dict[str, Any]) -> None:
        if not message["flags"] & FLAG_EPHEMERAL:
            channel = self.channels.get(message["channel_id"]) or {}
            await self._echo("MESSAGE_CREATE", self._gateway_message(message, channel.get("guild_id")))

    async def _echo_update(self, message: dict[str, Any]) -> None:
        if not message["flags"] & FLAG_EPHEMERAL:
            channel = self.channels.get(message["channel_id"]) or {}
            await self._echo("MESSAGE_UPDATE", self._gateway_message(message, channel.get("guild_id")))


# ---------------------------------------------------------------------- module helpers


def _without(obj: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in obj.items() if k not in keys}


def _bad_flags(path: Sequence[str], message: str = "Invalid message flags") -> None:
    errors = _FormErrors()
    errors.add(path, "MESSAGE_FLAGS_INVALID", message)
    errors.raise_if_any()


def _option_spec(specs: list[dict[str, Any]] | None, name: str) -> dict[str, Any] | None:
    return next((s for s in specs or [] if s["name"] == name), None)


def _infer_option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    if isinstance(value, str):
        return 3
    if isinstance(value, Mapping):
        if "filename" in value and "url" in value:
            return 11
        if "username" in value:
            return 6
        if "permissions" in value and "position" in value and "type" not in value:
            return 8
        if "type" in value:
            return 7
    raise ValueError(f"cannot infer an option type for {value!r}; sync the command first")


def _visible_to(intents: int, event: str, payload: dict[str, Any], bot_id: str) -> dict[str, Any] | None:
    if event in ("READY", "RESUMED", "INTERACTION_CREATE"):
        return payload
    if event.startswith(("GUILD_", "CHANNEL_", "THREAD_")) and not intents & I_GUILDS:
        return None
    if event.startswith("MESSAGE_"):
        needed = I_GUILD_MESSAGES if payload.get("guild_id") else I_DIRECT_MESSAGES
        if not intents & needed:
            return None
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and not intents & I_MESSAGE_CONTENT:
            author = payload.get("author", {}).get("id")
            mentioned = any(m.get("id") == bot_id for m in payload.get("mentions", []))
            if author != bot_id and not mentioned and payload.get("guild_id"):
                payload = {**payload, "content": "", "embeds": [], "attachments": [], "components": []}
    return payload


def _validate_embeds(embeds: Any, path: tuple[str, ...], errors: _FormErrors) -> None:
    if not isinstance(embeds, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
        return
    if len(embeds) > 10:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    limits = {"title": 256, "description": 4096}
    for i, embed in enumerate(embeds):
        for key, hi in limits.items():
            value = embed.get(key) or ""
            total += len(value)
            if len(value) > hi:
                errors.add((*path, i, key), "BASE_TYPE_MAX_LENGTH", f"Must be {hi} or fewer in length.")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.add((*path, i, "fields"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, fld in enumerate(fields):
            for key, hi in (("name", 256), ("value", 1024)):
                value = str(fld.get(key) or "")
                total += len(value)
                if not value:
                    errors.add((*path, i, "fields", j, key), "BASE_TYPE_REQUIRED", "This field is required")
                elif len(value) > hi:
                    errors.add(
                        (*path, i, "fields", j, key),
                        "BASE_TYPE_MAX_LENGTH",
                        f"Must be {hi} or fewer in length.",
                    )
        for key, sub, hi in (("footer", "text", 2048), ("author", "name", 256)):
            value = (embed.get(key) or {}).get(sub) or ""
            total += len(value)
            if len(value) > hi:
                errors.add((*path, i, key, sub), "BASE_TYPE_MAX_LENGTH", f"Must be {hi} or fewer in length.")
    if total > 6000:
        errors.add(path, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _validate_components(components: Any, path: tuple[str, ...], errors: _FormErrors, *, v2: bool) -> None:
    if not isinstance(components, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
        return
    custom_ids: set[str] = set()
    if v2:
        total = sum(1 for _ in _walk_components(components))
        if total > 40:
            errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in length.")
        for i, comp in enumerate(components):
            if comp.get("type") not in V2_TOP_LEVEL_TYPES:
                errors.add(
                    (*path, i, "type"),
                    "UNION_TYPE_CHOICES",
                    f'Value of field "type" must be one of {sorted(V2_TOP_LEVEL_TYPES)}.',
                )
        for comp in _walk_components(components):
            if comp.get("type") in INTERACTIVE_TYPES:
                _validate_interactive(comp, path, errors, custom_ids)
        return
    if len(components) > 5:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for i, row in enumerate(components):
        rpath = (*path, i)
        if row.get("type") != 1:
            errors.add(
                (*rpath, "type"),
                "COMPONENT_TYPE_INVALID",
                "Top level components must be action rows (type 1).",
            )
            continue
        children = row.get("components")
        if not isinstance(children, list) or not 1 <= len(children) <= 5:
            errors.add((*rpath, "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
            continue
        kinds = {c.get("type") for c in children}
        if kinds & SELECT_TYPES and len(children) > 1:
            errors.add(
                (*rpath, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        if kinds - {2} - SELECT_TYPES:
            errors.add(
                (*rpath, "components"),
                "COMPONENT_TYPE_INVALID",
                "Action rows in messages hold buttons or one select.",
            )
        for j, comp in enumerate(children):
            _validate_interactive(comp, (*rpath, "components", j), errors, custom_ids)


def _validate_interactive(
    comp: dict[str, Any], path: tuple, errors: _FormErrors, custom_ids: set[str]
) -> None:
    ctype = comp.get("type")
    needs_custom_id = True
    if ctype == 2:
        style = comp.get("style")
        if style not in (1, 2, 3, 4, 5, 6):
            errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3, 4, 5, 6).")
        label = comp.get("label")
        if label is not None and len(label) > 80:
            errors.add((*path, "label"), "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length.")
        if style == 5:
            needs_custom_id = False
            url = comp.get("url")
            if not url or len(url) > 512:
                errors.add((*path, "url"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 512 in length.")
            if comp.get("custom_id"):
                errors.add(
                    (*path, "custom_id"),
                    "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                    "Link buttons cannot have a custom_id",
                )
        elif style == 6:
            needs_custom_id = False
            if not comp.get("sku_id"):
                errors.add((*path, "sku_id"), "BASE_TYPE_REQUIRED", "This field is required")
        elif not label and not comp.get("emoji"):
            errors.add(
                (*path, "label"),
                "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED",
                "A label or an emoji is required",
            )
    elif ctype in SELECT_TYPES:
        placeholder = comp.get("placeholder")
        if placeholder is not None and len(placeholder) > 150:
            errors.add((*path, "placeholder"), "BASE_TYPE_MAX_LENGTH", "Must be 150 or fewer in length.")
        lo, hi = comp.get("min_values", 1), comp.get("max_values", 1)
        if not 0 <= lo <= 25 or not 1 <= hi <= 25 or lo > hi:
            errors.add(
                (*path, "max_values"), "SELECT_COMPONENT_VALUES_INVALID", "min_values/max_values out of range"
            )
        if ctype == 3:
            options = comp.get("options")
            errors.length((*path, "options"), options, 1, 25)
            for k, opt in enumerate(options or []):
                for key in ("label", "value"):
                    errors.length((*path, "options", k, key), opt.get(key), 1, 100)
    cid = comp.get("custom_id")
    if needs_custom_id:
        if not isinstance(cid, str) or not 1 <= len(cid) <= 100:
            errors.add((*path, "custom_id"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        elif cid in custom_ids:
            errors.add(
                (*path, "custom_id"),
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        else:
            custom_ids.add(cid)


def _validate_modal(data: dict[str, Any]) -> None:
    errors = _FormErrors()
    p = ("data",)
    errors.length((*p, "custom_id"), data.get("custom_id"), 1, 100)
    errors.length((*p, "title"), data.get("title"), 1, 45)
    components = data.get("components")
    errors.length((*p, "components"), components, 1, 5)
    custom_ids: set[str] = set()
    for i, comp in enumerate(components or []):
        cpath = (*p, "components", i)
        if comp.get("type") == 1:
            children = comp.get("components") or []
            if len(children) != 1 or children[0].get("type") != 4:
                errors.add(cpath, "MODAL_ACTION_ROW_INVALID", "Modal action rows hold exactly one text input")
                continue
            _validate_text_input(children[0], (*cpath, "components", 0), errors, custom_ids, needs_label=True)
        elif comp.get("type") == 18:
            errors.length((*cpath, "label"), comp.get("label"), 1, 45)
            inner = comp.get("component") or {}
            if inner.get("type") == 4:
                _validate_text_input(inner, (*cpath, "component"), errors, custom_ids, needs_label=False)
            elif inner.get("type") in SELECT_TYPES | {19}:
                _validate_interactive(inner, (*cpath, "component"), errors, custom_ids)
            else:
                errors.add(
                    (*cpath, "component", "type"), "COMPONENT_TYPE_INVALID", "Invalid component in label"
                )
        elif comp.get("type") != 10:
            errors.add(
                (*cpath, "type"), "COMPONENT_TYPE_INVALID", "Modals hold action rows, labels or text displays"
            )
    errors.raise_if_any()


def _validate_text_input(
    comp: dict, path: tuple, errors: _FormErrors, ids: set[str], *, needs_label: bool
) -> None:
    _validate_interactive(comp, path, errors, ids)
    if needs_label:
        errors.length((*path, "label"), comp.get("label"), 1, 45)
    if comp.get("style") not in (1, 2):
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2).")
    lo, hi = comp.get("min_length", 0), comp.get("max_length", 4000)
    if not 0 <= lo <= 4000 or not 1 <= hi <= 4000 or lo > hi:
        errors.add((*path, "max_length"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 4000.")
    for key, limit in (("value", 4000), ("placeholder", 100)):
        value = comp.get(key)
        if value is not None and len(value) > limit:
            errors.add((*path, key), "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _validate_command(cmd: Any, path: tuple[str, ...], errors: _FormErrors) -> None:
    if not isinstance(cmd, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    ctype = cmd.get("type", 1)
    name = cmd.get("name")
    description = cmd.get("description", "")
    if ctype == 1:
        _validate_chat_name(name, (*path, "name"), errors)
        errors.length((*path, "description"), description, 1, 100)
    elif ctype in (2, 3):
        errors.length((*path, "name"), name, 1, 32)
        if description:
            errors.add(
                (*path, "description"),
                "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                "Context menu commands cannot have a description",
            )
        if cmd.get("options"):
            errors.add(
                (*path, "options"),
                "APPLICATION_COMMAND_CONTEXT_MENU_OPTIONS",
                "Context menu commands cannot have options",
            )
    elif ctype != 4:
        errors.add((*path, "type"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3, 4).")
    _validate_options(cmd.get("options") or [], (*path, "options"), errors, depth=0)


def _validate_chat_name(name: Any, path: tuple, errors: _FormErrors) -> None:
    if not isinstance(name, str) or not COMMAND_NAME_RE.fullmatch(name):
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    elif name != name.lower():
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name must be lowercase")


def _validate_options(options: list[Any], path: tuple, errors: _FormErrors, *, depth: int) -> None:
    if len(options) > 25:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    seen_optional = False
    names: set[str] = set()
    for i, opt in enumerate(options):
        opath = (*path, i)
        otype = opt.get("type")
        if otype not in range(1, 12):
            errors.add((*opath, "type"), "BASE_TYPE_CHOICES", "Value must be one of 1..11.")
            continue
        _validate_chat_name(opt.get("name"), (*opath, "name"), errors)
        errors.length((*opath, "description"), opt.get("description"), 1, 100)
        if opt.get("name") in names:
            errors.add(
                (*opath, "name"), "APPLICATION_COMMAND_OPTION_NAME_NOT_UNIQUE", "Option names must be unique"
            )
        names.add(opt.get("name"))
        if otype in (1, 2):
            if depth >= (1 if otype == 2 else 2):
                errors.add(
                    (*opath, "type"),
                    "APPLICATION_COMMAND_OPTION_INVALID_NESTING",
                    "Subcommands nested too deeply",
                )
            _validate_options(opt.get("options") or [], (*opath, "options"), errors, depth=depth + 1)
            continue
        if opt.get("required"):
            if seen_optional:
                errors.add(
                    (*opath, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = opt.get("choices")
        if choices is not None:
            errors.length((*opath, "choices"), choices, 0, 25)
            if opt.get("autocomplete"):
                errors.add(
                    (*opath, "autocomplete"),
                    "APPLICATION_COMMAND_AUTOCOMPLETE_CHOICES",
                    "Autocomplete and choices are exclusive",
                )


def _validate_thread_body(body: dict[str, Any], *, with_type: bool) -> None:
    errors = _FormErrors()
    errors.length(("name",), body.get("name"), 1, 100)
    duration = body.get("auto_archive_duration")
    if duration is not None and duration not in (60, 1440, 4320, 10080):
        errors.add(
            ("auto_archive_duration",), "BASE_TYPE_CHOICES", "Value must be one of (60, 1440, 4320, 10080)."
        )
    if with_type and body.get("type") not in (None, 10, 11, 12):
        errors.add(("type",), "BASE_TYPE_CHOICES", "Value must be one of (10, 11, 12).")
    slowmode = body.get("rate_limit_per_user")
    if slowmode is not None and not 0 <= int(slowmode) <= 21600:
        errors.add(
            ("rate_limit_per_user",), "NUMBER_TYPE_MAX", "int value should be less than or equal to 21600."
        )
    errors.raise_if_any()


# ---------------------------------------------------------------------- client helpers


@contextlib.contextmanager
def patched_discord(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at ``fake``; restore both on exit."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


def feed(client: discord.Client, event: str, payload: Mapping[str, Any]) -> None:
    """Hand a raw gateway payload to the client's parser, exactly as its websocket would."""
    client._connection.parsers[event](copy.deepcopy(dict(payload)))


@contextlib.asynccontextmanager
async def connected_client(
    client: discord.Client,
    fake: FakeDiscord,
    *,
    guilds: Sequence[Mapping[str, Any]] | None = None,
    token: str | None = None,
    ready: bool = True,
) -> AsyncIterator[discord.Client]:
    """``login()`` against the fake (no websocket), feed GUILD_CREATE for ``guilds`` (default: every guild
    of the fake), mark the client ready, and close it (and its HTTP session) on exit."""
    with patched_discord(fake):
        try:
            await client.login(token or fake.token)
            if guilds is None:
                guilds = [fake.guild_create(g) for g in fake.guilds]
            for guild in guilds:
                feed(client, "GUILD_CREATE", guild)
            if ready:
                client._ready.set()
                client.dispatch("ready")
            yield client
        finally:
            await client.close()


@contextlib.asynccontextmanager
async def running_client(
    client: discord.Client, fake: FakeDiscord, *, token: str | None = None, timeout: float = 5.0
) -> AsyncIterator[discord.Client]:
    """Run ``client.start()`` against the fake's REST API *and* gateway until ``on_ready``; close on exit.

    Build the client with a small ``guild_ready_timeout`` (e.g. 0.05): discord.py waits that long after
    the last GUILD_CREATE before it fires ``on_ready``.
    """
    with patched_discord(fake):
        task = asyncio.create_task(client.start(token or fake.token), name="fake-discord-client")
        try:

            async def ready() -> None:
                await fake.wait_for(lambda f: any(s.identified for s in f.gateway_sessions), timeout)
                await client.wait_until_ready()

            waiter = asyncio.create_task(ready())
            done, _ = await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if waiter not in done:
                waiter.cancel()
                if task in done:
                    task.result()  # re-raise why start() failed
                raise AssertionError("client never became ready against the fake gateway")
            waiter.result()
            yield client
        finally:
            await client.close()
            with contextlib.suppress(asyncio.CancelledError):
                await task
