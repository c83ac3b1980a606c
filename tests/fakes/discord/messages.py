"""Building, editing and validating messages (fields, pings, attachments, references), as the REST
routes and interaction callbacks share them."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from .constants import (
    FLAG_COMPONENTS_V2,
    FLAG_EPHEMERAL,
    FLAG_HAS_THREAD,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    P_MENTION_EVERYONE,
    THREAD_TYPES,
)
from .records import (
    ApiError,
    Call,
    FakeInteraction,
    UploadedFile,
    _assign_component_ids,
    _FormErrors,
    _now_iso,
)
from .validators import _bad_flags, _validate_components, _validate_embeds, _without


class MessageBuilding:
    """Mixin of FakeDiscord: message objects made from request bodies, checked like Discord."""

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
