"""Slack messages as requests: @mentions, and replies in the thread of an imagebot session.

A mention whose first word names a registry command that takes images (`bot.commands.taking_files`:
blend, describe, style, edit…) runs that command: the files attached are its image arguments and
the rest of the text its arguments, read as `/imagebot` reads them. Any other mention outside a
session asks for an image from its prompt; a reply in a session thread (which needs no mention)
goes to the core as a reply. Edits, deletions, joins and other bots' messages are not requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from adapters.slack.blocks import mrkdwn, plain_text
from adapters.slack.commands import SLACK
from adapters.slack.deliveries import MESSAGE_SUBTYPES, team_of, who_of_event
from adapters.slack.files import FileFetcher
from adapters.slack.poster import Poster
from adapters.slack.users import PLATFORM, Users
from bot.answers import Outcome, Problem
from bot.command_model import Call, Command
from bot.commands import taking_files
from bot.domain import SessionKey
from bot.errors import BotError, ErrorKind
from bot.service import ImageBot


class MessageHandlers:
    """The message half of `SlackHandlers` (adapters/slack/handlers.py), which provides the
    parts declared here."""

    bot: ImageBot
    poster: Poster
    users: Users
    fetcher: FileFetcher

    # SlackHandlers' own: run a request's work as a tracked task; mark a request answered; put
    # an outcome where it belongs.
    _spawn: Callable[..., None]
    _answered: Callable[[Mapping[str, Any]], None]
    deliver: Callable[[Outcome, str, str, str], Awaitable[None]]

    async def on_mention(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        self._spawn(
            context,
            self._message(event, body, context, mentioned=True),
            "slack-mention",
            **who_of_event(event),
        )

    async def on_message(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        thread = event.get("thread_ts")
        if not thread or thread == event.get("ts") or event.get("subtype") not in MESSAGE_SUBTYPES:
            self._answered(context)
            return  # only replies in threads matter here; top-level mentions come as app_mention
        self._spawn(
            context,
            self._message(event, body, context, mentioned=False),
            "slack-message",
            **who_of_event(event),
        )

    async def _message(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext, *, mentioned: bool
    ) -> None:
        if event.get("subtype") not in MESSAGE_SUBTYPES or event.get("bot_id") or not event.get("user"):
            return  # edits, deletions, joins and other bots' messages are not requests
        bot_user = context.bot_user_id
        if bot_user and event.get("user") == bot_user:
            return  # our own posts (Bolt drops them too): never edit in reply to ourselves
        raw = str(event.get("text") or "")
        mentioned = mentioned or bool(bot_user and f"<@{bot_user}" in raw)
        team = team_of(body, context) or str(event.get("team") or "")
        channel, user, ts = str(event["channel"]), str(event["user"]), str(event["ts"])
        thread = event.get("thread_ts")
        if thread and thread != ts:
            where = SessionKey(PLATFORM, team, channel, str(thread))
            session = await self.bot.session_state(where)
            if session is None and not mentioned:
                return  # a thread that is not an imagebot session
        else:
            if not mentioned:
                return
            where, session = SessionKey(PLATFORM, team, channel, ts), None
        # A mention in a thread arrives twice (app_mention and message): both carry the same
        # intake key (the message's ts, see delivery_key), so only the first gets this far.
        actor = await self.users.actor(team, user)
        text = plain_text(raw, bot_user)
        words = text.split(None, 1)
        found = taking_files(words[0]) if mentioned and words else None
        rest = words[1] if len(words) > 1 else ""
        if found is not None and session is not None and not found.reads(rest):
            found = None  # "@imagebot style it like Monet" in a session thread: an edit, as replies are
        files = [f for f in event.get("files") or [] if isinstance(f, Mapping)]
        try:
            # Counted against the command's image arguments before any download (a file that is
            # not an image is named before any download too: FileFetcher).
            slots = list(found.bind_files(files)) if found is not None else []
            attachments = await self.fetcher.fetch_all(files) if files else []
        except BotError as error:
            hint = f" {too_few_hint(found)}" if found is not None and len(files) < found.fewest_files else ""
            await self.poster.ephemeral(channel, user, mrkdwn(error.message + hint), thread_ts=where.thread)
            return
        if found is not None:
            args = {**SLACK.parse(found, rest), **dict(zip(slots, attachments, strict=True))}
            missing = SLACK.missing(found, args)
            call = Call(actor, where, SLACK, args)
            reply = Problem(ErrorKind.INVALID_INPUT, missing) if missing else await found.run(self.bot, call)
        elif session is None:
            reply = await self.bot.imagine(actor, where, text, references=attachments)
        else:
            reply = await self.bot.reply(actor, where, text, attachments)
        await self.deliver(reply, channel, where.thread, user)


def too_few_hint(found: Command) -> str:
    """Said after "needs 2 to 5 images": "@imagebot blend of coffee beans" may have meant a picture."""
    return (
        f"Attach them to the message that says `@imagebot {found.name}`;"
        " for a picture of something else, use `/imagine`."
    )
