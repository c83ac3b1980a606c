"""The fake Discord itself: its state, lifecycle, waiting, fault injection and accessors. The
payload builders, REST routes, message building and the gateway are mixins in their own modules."""

from __future__ import annotations

import asyncio
import copy
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from .constants import (
    API_PREFIX,
    DEFAULT_FILE_SIZE_LIMIT,
    DISCORD_EPOCH_MS,
    FLAG_EPHEMERAL,
    PRIVILEGED_INTENTS,
)
from .gateway import Gateway
from .interactions import InteractionBuilders
from .messages import MessageBuilding
from .payloads import WorldBuilders
from .records import (
    ApiError,
    Call,
    FakeInteraction,
    SnowflakeDict,
    _Fault,
    _GatewaySession,
    _Hold,
    _json_response,
    _RateLimit,
)
from .rest import RestApi
from .routes import RestRoutes

Predicate = Callable[["FakeDiscord"], object]


class FakeDiscord(WorldBuilders, InteractionBuilders, RestApi, RestRoutes, MessageBuilding, Gateway):
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
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)  # bursts of hundreds (bench)
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
        seconds: float | None,
        path_pattern: str,
        *,
        method: str | None = None,
        status: int = 503,
        retry_after: float = 0.5,
    ) -> None:
        """For ``seconds`` from now (with ``None``: until ``recover(path_pattern)``), answer every
        request whose API path fully matches the regex ``path_pattern`` with ``status`` and no
        effect: 429 (a rate limit as Discord sends it, with ``Via`` and ``retry_after``) or a 5xx."""
        until = math.inf if seconds is None else time.monotonic() + seconds
        self._faults.append(_Fault(method, re.compile(path_pattern), until, status, retry_after))

    def recover(self, path_pattern: str) -> None:
        """End the fail_for() faults given this ``path_pattern`` now (the outage is over)."""
        self._faults = [f for f in self._faults if f.path.pattern != path_pattern]

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
