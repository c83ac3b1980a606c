"""Slack events, slash commands, button clicks and modal submits, as calls to the core.

Every listener acks first (Bolt acks events itself) and does the work in a tracked task, so
Slack's 3-second deadline holds whatever the provider does. Deliveries are deduplicated before
any listener runs (see `dedupe_middleware`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from adapters.slack.blocks import (
    EDIT_ACTION_ID,
    EDIT_BLOCK_ID,
    EDIT_CALLBACK_ID,
    edit_modal,
    mrkdwn,
    parse_edit_metadata,
    plain_text,
    shown,
)
from adapters.slack.errors import slack_error
from adapters.slack.files import FileFetcher
from adapters.slack.presenter import Poster, SlackPresenter
from adapters.slack.tasks import TaskSet
from adapters.slack.users import PLATFORM, Users
from bot.domain import Attachment, Reply, SessionKey, UserRef
from bot.errors import BotError, ErrorKind
from bot.service import ImageBot
from storage.dedupe import first_time, forget_before

log = logging.getLogger(__name__)

IMAGINE_COMMAND = "/imagine"
ADMIN_COMMAND = "/imagebot"
_MESSAGE_SUBTYPES = (None, "file_share", "thread_broadcast")
DEDUPE_KEEP_SECONDS = 7 * 24 * 3600  # Slack retries within minutes; a week is plenty
PRUNE_EVERY = 5000  # deliveries remembered between two clean-ups of old ones

SLACK_HELP = """\
*imagebot on Slack*
• `/imagine <prompt> [--flags]` posts a message and makes the images in its thread.
• `@imagebot <prompt>` in a channel starts a session in the thread of your message.
• In a session thread, just reply (no mention needed) to edit the current image; attach images to \
use them as references. Buttons under each result: U1–U4, V1–V4, 🔄, Upscale, Vary, Edit…, Zoom out, \
Make square / 16:9 / 9:16, Remove background, Undo.
• `/imagebot settings` — your defaults; `/imagebot settings me --n 2 --ar 16:9`, admins also \
`channel` or `workspace`; `reset` clears a layer.
• `/imagebot show <id>` brings back any image or set · `/imagebot history [mine]` · `/imagebot queue` \
· `/imagebot cancel [job]` · `/imagebot usage` · `/imagebot help`
"""

SUBCOMMANDS = "help, settings, show <id>, history [mine], queue, cancel [job], usage"


def delivery_key(body: Mapping[str, Any]) -> str | None:
    """What makes one delivery the same as another: the event id for Events API callbacks, the
    trigger id for commands, clicks and submits (Socket Mode redeliveries repeat it)."""
    if body.get("type") == "event_callback" and body.get("event_id"):
        event = body.get("event") or {}
        if event.get("type") == "message" and not event.get("thread_ts"):
            return None  # top-level chatter, ignored anyway: no need to remember it
        return f"slack:event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"slack:trigger:{body['trigger_id']}"
    if body.get("type") == "block_actions":
        actions = body.get("actions") or [{}]
        action = actions[0] if isinstance(actions[0], Mapping) else {}
        if action.get("action_ts"):
            return f"slack:action:{action.get('action_id')}:{action['action_ts']}"
    return None


def _team(body: Mapping[str, Any], context: AsyncBoltContext) -> str:
    team = body.get("team")
    team_id = body.get("team_id") or (team.get("id") if isinstance(team, Mapping) else None)
    return str(team_id or context.team_id or context.enterprise_id or "")


def _who(body: Mapping[str, Any]) -> dict[str, Any]:
    """Where to tell the person about a crash, from a command or an interaction payload."""
    user = body.get("user")
    container = body.get("container") or {}
    channel = body.get("channel")
    return {
        "channel": str(
            body.get("channel_id") or (channel.get("id") if isinstance(channel, Mapping) else "") or ""
        ),
        "user": str(body.get("user_id") or (user.get("id") if isinstance(user, Mapping) else "") or ""),
        "thread": container.get("thread_ts") or container.get("message_ts"),
        "response_url": body.get("response_url"),
    }


def _who_event(event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "channel": str(event.get("channel") or ""),
        "user": str(event.get("user") or ""),
        "thread": event.get("thread_ts") or event.get("ts"),
    }


def _explain_post_failure(error: SlackApiError) -> BotError:
    reason = slack_error(error)
    if reason in ("not_in_channel", "channel_not_found"):
        return BotError(
            ErrorKind.FORBIDDEN,
            "I can't post in this channel yet: invite me with `/invite @imagebot`, then try again.",
        )
    if reason == "is_archived":
        return BotError(ErrorKind.INVALID_INPUT, "This channel is archived, so I can't post in it.")
    return BotError(ErrorKind.UNAVAILABLE, f"Slack did not let me post here ({reason}); please try again.")


class SlackHandlers:
    def __init__(
        self,
        bot: ImageBot,
        app: AsyncApp,
        *,
        poster: Poster,
        presenter: SlackPresenter,
        users: Users,
        fetcher: FileFetcher,
        tasks: TaskSet,
        accepting: Callable[[], bool],
    ) -> None:
        self.bot = bot
        self.app = app
        self.poster = poster
        self.presenter = presenter
        self.users = users
        self.fetcher = fetcher
        self.tasks = tasks
        self.accepting = accepting
        self._remembered = 0

    def register(self) -> None:
        app = self.app
        app.middleware(self.dedupe_middleware)
        app.command(IMAGINE_COMMAND)(self.on_imagine)
        app.command(ADMIN_COMMAND)(self.on_imagebot)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.action(re.compile(r"^ib:"))(self.on_action)
        app.view(EDIT_CALLBACK_ID)(self.on_edit_submit)

    def _spawn(
        self,
        work: Coroutine[Any, Any, None],
        name: str,
        *,
        channel: str = "",
        user: str = "",
        thread: str | None = None,
        response_url: str | None = None,
    ) -> None:
        """Run `work` as a tracked task; if it crashes, the person who asked is told (only them)."""

        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("slack %s failed", name)
                if channel and user:
                    await self.poster.ephemeral(
                        channel,
                        user,
                        "Something went wrong on our side; please try again.",
                        thread_ts=thread,
                        response_url=response_url,
                    )

        self.tasks.spawn(guarded(), name=name)

    # --- delivery safety ------------------------------------------------------------------------
    async def dedupe_middleware(
        self, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        key = delivery_key(body)
        if key is not None:
            try:
                fresh = await first_time(self.bot.store.db, key)
            except Exception:
                log.exception("delivery dedupe failed; handling the delivery anyway")
                fresh = True
            if not fresh:
                log.info("dropping a repeated Slack delivery (%s)", key.split(":")[1])
                return BoltResponse(status=200, body="")
            self._remembered += 1
            if self._remembered % PRUNE_EVERY == 0:
                await forget_before(self.bot.store.db, time.time() - DEDUPE_KEEP_SECONDS)
        await next()
        return None

    # --- /imagine -------------------------------------------------------------------------------
    async def on_imagine(self, ack: Any, body: dict[str, Any], context: AsyncBoltContext) -> None:
        if not str(body.get("text") or "").strip():
            await ack(
                "Tell me what to make, e.g. `/imagine a red fox in fresh snow, golden hour --ar 16:9`."
                " `/imagebot help` lists everything."
            )
            return
        await ack()
        self._spawn(self._imagine(body, _team(body, context)), "slack-imagine", **_who(body))

    async def _imagine(self, body: dict[str, Any], team: str) -> None:
        channel, user = str(body["channel_id"]), str(body["user_id"])
        response_url = body.get("response_url")
        actor = await self.users.actor(team, user, str(body.get("user_name") or ""))
        text = plain_text(str(body.get("text") or ""))
        parent: dict[str, str] = {}

        async def open_session() -> SessionKey:
            # Called by the core only once the request is valid, so a refused one posts nothing.
            opening = f"🎨 /imagine by *{shown(actor.label, 80)}*: “{shown(text, 150)}”\n⏳ Starting…"
            try:
                parent["ts"] = await self.poster.post(channel, None, opening)
            except SlackApiError as error:
                raise _explain_post_failure(error) from None
            return SessionKey(PLATFORM, team, channel, parent["ts"])

        where = SessionKey(PLATFORM, team, channel, "")
        reply = await self.bot.imagine(actor, where, text, open_session=open_session)
        if reply.job_id and reply.queue_position is not None and "ts" in parent:
            await self.presenter.queued(reply, channel, parent["ts"], status_ts=parent["ts"])
        elif "ts" in parent:  # refused after the thread was opened: say so there
            await self.poster.try_post(channel, parent["ts"], mrkdwn(reply.text))
        else:
            await self.poster.ephemeral(channel, user, mrkdwn(reply.text), response_url=response_url)

    # --- /imagebot <subcommand> -----------------------------------------------------------------
    async def on_imagebot(self, ack: Any, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        self._spawn(self._imagebot(body, _team(body, context)), "slack-imagebot", **_who(body))

    async def _imagebot(self, body: dict[str, Any], team: str) -> None:
        channel, user = str(body["channel_id"]), str(body["user_id"])
        response_url = body.get("response_url")
        actor = await self.users.actor(team, user, str(body.get("user_name") or ""))
        word, _, rest = plain_text(str(body.get("text") or "")).partition(" ")
        word, rest = word.lower(), rest.strip()
        where = SessionKey(PLATFORM, team, channel, "")
        bot = self.bot
        reply: Reply
        if word in ("", "help", "?"):
            reply = bot.help(SLACK_HELP)
        elif word == "settings":
            scope, _, changes = rest.partition(" ")
            if not scope:
                reply = await bot.settings_view(actor, where)
            else:
                reply = await bot.update_settings(actor, where, scope.lower(), changes)
        elif word == "show":
            await self._show(actor, team, channel, rest, response_url)
            return
        elif word == "history":
            reply = await bot.history(actor, where, mine=rest.lower() == "mine")
        elif word == "queue":
            reply = await bot.queue(actor, where)
        elif word == "cancel":
            reply = await bot.cancel(actor, where, rest or None)
        elif word == "usage":
            reply = await bot.usage(actor, where)
        else:
            reply = Reply(
                text=f"I don't know `/imagebot {word}`. Try one of: {SUBCOMMANDS}.",
                ephemeral=True,
                error_kind=ErrorKind.INVALID_INPUT.value,
            )
        await self.poster.ephemeral(channel, user, mrkdwn(reply.text), response_url=response_url)

    async def _show(
        self, actor: UserRef, team: str, channel: str, ident: str, response_url: str | None
    ) -> None:
        """/imagebot show <id>: the image (or set) in a new thread that becomes its session."""
        if not ident:
            await self.poster.ephemeral(
                channel,
                actor.id,
                "Which one? `/imagebot show <id>`; `/imagebot history` lists ids.",
                response_url=response_url,
            )
            return
        opened: dict[str, str] = {}

        async def open_thread() -> SessionKey:
            # Posted only once the core knows the id, so an unknown one never flashes a message.
            try:
                ts = await self.poster.post(
                    channel, None, f"🖼️ *{shown(actor.label, 80)}* brought back `{shown(ident, 60)}`"
                )
            except SlackApiError as error:
                raise BotError(ErrorKind.UNAVAILABLE, _explain_post_failure(error).message) from None
            opened["ts"] = ts
            return SessionKey(PLATFORM, team, channel, ts)

        reply = await self.bot.show(
            actor, SessionKey(PLATFORM, team, channel, ""), ident, open_session=open_thread
        )
        if reply.error_kind or reply.ephemeral:
            if "ts" in opened:
                await self.poster.delete(channel, opened["ts"])
            await self.poster.ephemeral(channel, actor.id, mrkdwn(reply.text), response_url=response_url)
            return
        await self.poster.images(reply, channel, opened["ts"])

    # --- messages: @mentions and thread replies -------------------------------------------------
    async def on_mention(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        self._spawn(self._message(event, body, context, mentioned=True), "slack-mention", **_who_event(event))

    async def on_message(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        thread = event.get("thread_ts")
        if not thread or thread == event.get("ts") or event.get("subtype") not in _MESSAGE_SUBTYPES:
            return  # only replies in threads matter here; top-level mentions come as app_mention
        self._spawn(
            self._message(event, body, context, mentioned=False), "slack-message", **_who_event(event)
        )

    async def _message(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext, *, mentioned: bool
    ) -> None:
        if event.get("subtype") not in _MESSAGE_SUBTYPES or event.get("bot_id") or not event.get("user"):
            return  # edits, deletions, joins and other bots' messages are not requests
        if not self.accepting():
            return
        bot_user = context.bot_user_id
        if bot_user and event.get("user") == bot_user:
            return  # our own posts (Bolt drops them too): never edit in reply to ourselves
        raw = str(event.get("text") or "")
        mentioned = mentioned or bool(bot_user and f"<@{bot_user}" in raw)
        team = _team(body, context) or str(event.get("team") or "")
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
        # A mention in a thread arrives twice (app_mention and message): handle the message once.
        if not await first_time(self.bot.store.db, f"slack:message:{team}:{channel}:{ts}"):
            return
        actor = await self.users.actor(team, user)
        text = plain_text(raw, bot_user)
        try:
            attachments = await self._attachments(event)
        except BotError as error:
            await self.poster.ephemeral(channel, user, mrkdwn(error.message), thread_ts=where.thread)
            return
        if session is None:
            reply = await self.bot.imagine(actor, where, text, references=attachments)
        else:
            reply = await self.bot.reply(actor, where, text, attachments)
        await self.deliver(reply, channel, where.thread, user)

    async def _attachments(self, event: Mapping[str, Any]) -> list[Attachment]:
        files = [f for f in event.get("files") or [] if isinstance(f, Mapping)]
        return await self.fetcher.fetch_all(files) if files else []

    # --- buttons --------------------------------------------------------------------------------
    async def on_action(self, ack: Any, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        actions = body.get("actions") or []
        custom_id = str(actions[0].get("action_id") or "") if actions else ""
        self._spawn(self._action(body, custom_id, _team(body, context)), "slack-action", **_who(body))

    async def _action(self, body: dict[str, Any], custom_id: str, team: str) -> None:
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
        user_info = body.get("user") or {}
        user = str(user_info.get("id") or "")
        thread = str(
            container.get("thread_ts")
            or message.get("thread_ts")
            or container.get("message_ts")
            or message.get("ts")
        )
        where = SessionKey(PLATFORM, team, channel, thread)
        if custom_id.startswith("ib:edit:"):
            await self._open_edit(body, custom_id, where, user)
            return
        actor = await self.users.actor(
            team, user, str(user_info.get("name") or user_info.get("username") or "")
        )
        reply = await self.bot.press(actor, where, custom_id)
        await self.deliver(reply, channel, thread, user, response_url=body.get("response_url"))

    async def _open_edit(self, body: Mapping[str, Any], custom_id: str, where: SessionKey, user: str) -> None:
        image_id = custom_id.split(":")[2] if custom_id.count(":") >= 2 else ""
        try:
            # The trigger id is valid for 3 seconds after the click: open the form right away.
            await self.app.client.views_open(
                trigger_id=str(body.get("trigger_id")), view=edit_modal(image_id, where)
            )
        except SlackApiError as error:
            log.info("views.open failed: %s", slack_error(error))
            await self.poster.ephemeral(
                where.channel,
                user,
                "I couldn't open the Edit… form in time; click Edit… again, or reply in the thread with"
                " what to change.",
                thread_ts=where.thread,
            )

    # --- the Edit… form -------------------------------------------------------------------------
    async def on_edit_submit(self, ack: Any, body: dict[str, Any], context: AsyncBoltContext) -> None:
        view = body.get("view") or {}
        values = (view.get("state") or {}).get("values") or {}
        instruction = str(((values.get(EDIT_BLOCK_ID) or {}).get(EDIT_ACTION_ID) or {}).get("value") or "")
        if not instruction.strip():
            await ack(
                response_action="errors",
                errors={EDIT_BLOCK_ID: "Say what should change, e.g. “make the sky stormier”."},
            )
            return
        try:
            image_id, where = parse_edit_metadata(str(view.get("private_metadata") or ""), PLATFORM)
        except ValueError:
            await ack(
                response_action="errors",
                errors={EDIT_BLOCK_ID: "This form is out of date; click Edit… again."},
            )
            return
        await ack()
        user_info = body.get("user") or {}
        self._spawn(
            self._edit(where, image_id, instruction, user_info),
            "slack-edit",
            channel=where.channel,
            user=str(user_info.get("id") or ""),
            thread=where.thread,
        )

    async def _edit(
        self, where: SessionKey, image_id: str, instruction: str, user_info: Mapping[str, Any]
    ) -> None:
        user = str(user_info.get("id") or "")
        actor = await self.users.actor(where.workspace, user, str(user_info.get("name") or ""))
        # Modal input is plain text already (no Slack markup to undo).
        reply = await self.bot.edit_image(actor, where, image_id, instruction)
        await self.deliver(reply, where.channel, where.thread, user)

    # --- replies --------------------------------------------------------------------------------
    async def deliver(
        self, reply: Reply, channel: str, thread: str, user: str, *, response_url: str | None = None
    ) -> None:
        """Put a core reply where it belongs: only for `user` when ephemeral; a status message for
        a queued job; images with their buttons; or text (with buttons) in the thread."""
        if reply.job_id and reply.queue_position is not None and not reply.ephemeral:
            # Before any await: updates from the job must find (or wait for) this status message.
            self.presenter.reserve(reply.job_id)
            await self.presenter.queued(reply, channel, thread)
        elif reply.ephemeral:
            await self.poster.ephemeral(
                channel, user, mrkdwn(reply.text), thread_ts=thread, response_url=response_url
            )
        elif reply.images or reply.grid is not None:
            await self.poster.images(reply, channel, thread)
        else:
            await self.poster.try_post(channel, thread, mrkdwn(reply.text), reply.buttons)
