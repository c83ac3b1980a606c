"""REST plumbing (route table, middleware, auth, rate limits, request bodies) and the routes for the
current user, the application, the gateway URL and application commands."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .constants import API_PREFIX, FLAG_EPHEMERAL, REQUEST_SIZE_LIMIT
from .records import _CALL, ApiError, Call, UploadedFile, _FormErrors, _json_response
from .validators import _validate_command


class RestApi:
    """Mixin of FakeDiscord: the HTTP server's plumbing and the application routes."""

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
                if (
                    path.startswith("/")
                    and request.path.startswith(API_PREFIX)
                    and self._needs_auth(path)
                    and request.headers.get("Authorization") != f"Bot {self.token}"
                ):
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
