"""Who is asking: Slack users as core `UserRef`s, with names and admin rights from `users.info`.

Admins are the workspace's own admins and owners. The lookup is injectable (tests,
or a team that keeps its admin list elsewhere) and cached, so a busy channel costs one
`users.info` per person every few minutes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import slack_error
from bot.domain import UserRef

log = logging.getLogger(f"imagebot.{__name__}")

PLATFORM = "slack"


@dataclass(frozen=True)
class SlackUser:
    name: str
    is_admin: bool


UserLookup = Callable[[str, str], Awaitable[SlackUser | None]]  # (team id, user id) -> user


def users_info_lookup(client: AsyncWebClient) -> UserLookup:
    """The default lookup: `users.info` (scope users:read); None when Slack will not say."""
    warned: set[str] = set()

    async def lookup(team_id: str, user_id: str) -> SlackUser | None:
        try:
            response = await client.users_info(user=user_id)
        except SlackApiError as error:
            reason = slack_error(error)
            if reason not in warned:  # once per reason, not once per message
                warned.add(reason)
                log.warning(
                    "users.info failed (%s): names fall back to ids and nobody is an admin;"
                    " does the app have the users:read scope?",
                    reason,
                )
            return None
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        name = (
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
            or user_id
        )
        admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        return SlackUser(str(name), admin)

    return lookup


class Users:
    def __init__(
        self, lookup: UserLookup, *, ttl: float = 600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, SlackUser | None]] = {}

    async def actor(self, team_id: str, user_id: str, name_hint: str = "") -> UserRef:
        key = (team_id, user_id)
        now = self._clock()
        cached = self._cache.get(key)
        if cached is None or now - cached[0] > self._ttl:
            try:
                found = await self._lookup(team_id, user_id)
            except Exception:
                log.exception("user lookup failed for a %s user", PLATFORM)
                found = None
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now, found)
            cached = self._cache[key]
        user = cached[1]
        if user is None:
            return UserRef(PLATFORM, user_id, name_hint or user_id, is_admin=False)
        return UserRef(PLATFORM, user_id, user.name or name_hint or user_id, is_admin=user.is_admin)
