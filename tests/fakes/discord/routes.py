"""REST routes for interaction callbacks and their webhooks, channels, messages, threads,
reactions, typing and the CDN."""

from __future__ import annotations

import copy
import mimetypes
import time
from typing import Any

import aiohttp
from aiohttp import web

from .constants import (
    CHANNEL_MESSAGE_FLAGS,
    FLAG_EPHEMERAL,
    FLAG_HAS_THREAD,
    FLAG_LOADING,
    INTERACTION_MESSAGE_FLAGS,
    P_ADD_REACTIONS,
    P_ATTACH_FILES,
    P_CREATE_PRIVATE_THREADS,
    P_CREATE_PUBLIC_THREADS,
    P_EMBED_LINKS,
    P_MANAGE_MESSAGES,
    P_READ_MESSAGE_HISTORY,
    P_SEND_MESSAGES,
    P_SEND_MESSAGES_IN_THREADS,
    P_VIEW_CHANNEL,
    TEXT_CHANNEL_TYPES,
    THREAD_TYPES,
)
from .records import ApiError, FakeInteraction, UploadedFile, _assign_component_ids, _FormErrors, _truthy
from .validators import _bad_flags, _validate_modal, _validate_thread_body, _without


class RestRoutes:
    """Mixin of FakeDiscord: interaction, webhook, channel and message routes."""

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
