"""Payload builders for the world the bot lives in: users, members, guilds, channels, DMs, threads,
attachments and gateway MESSAGE_CREATE payloads, shaped like Discord's."""

from __future__ import annotations

import copy
import hashlib
import mimetypes
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .constants import BOT_PERMISSIONS, EVERYONE_PERMISSIONS, THREAD_TYPES
from .records import SnowflakeDict, _image_size, _now_iso
from .validators import _without


class WorldBuilders:
    """Mixin of FakeDiscord: users, guilds, channels, threads, attachments and messages."""

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
