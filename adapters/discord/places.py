"""Where a Discord request happens, as the core's session key."""

from __future__ import annotations

import discord

from adapters.discord.presenter import PLATFORM
from bot.domain import SessionKey


def where_of(
    channel: discord.abc.Snowflake | None, guild_id: int | None, *, thread_hint: int | None = None
) -> SessionKey:
    """The session key of a channel: a thread is its own session; elsewhere the hint (a starter
    message id, which is also its thread's id) or the channel itself."""
    workspace = str(guild_id) if guild_id else "dm"
    if isinstance(channel, discord.Thread):
        return SessionKey(PLATFORM, workspace, str(channel.parent_id), str(channel.id))
    channel_id = str(channel.id) if channel is not None else "unknown"
    thread = str(thread_hint) if thread_hint is not None else channel_id
    return SessionKey(PLATFORM, workspace, channel_id, thread)
