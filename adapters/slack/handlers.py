"""Slack events, slash commands, button clicks and modal submits, as calls to the core.

Every request is stored first (the core's intake desk: its dedupe key and the Bolt body), then
acknowledged (Bolt acks events itself), then handled in a tracked task, so Slack's 3-second
deadline holds whatever the provider does, a crash after the ack loses nothing (the next start
handles the stored body again, see `SlackAdapter`), and a redelivery runs nothing twice (see
`intake_middleware`). A request that cannot be stored in time is answered "busy", not acked and
then lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, assert_never

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
from bot.answers import Images, JobFailed, Notice, Outcome, Problem, Queued
from bot.buttons import PATTERN as BUTTON_PATTERN
from bot.buttons import ButtonId
from bot.commands import Answer, ArgValue, Call, Command, Surface, command
from bot.domain import Attachment, SessionKey, UserRef
from bot.errors import BotError, ErrorKind
from bot.intake import BUSY_TEXT, GAVE_UP_TEXT, Admission
from bot.records import IntakeRow
from bot.service import ImageBot

log = logging.getLogger(f"imagebot.{__name__}")

IMAGINE_COMMAND = "/imagine"
ADMIN_COMMAND = "/imagebot"
_MESSAGE_SUBTYPES = (None, "file_share", "thread_broadcast")
DEDUPE_KEEP_SECONDS = 7 * 24 * 3600  # Slack retries within minutes; a week is plenty
# Bolt context keys: the intake key of the request being handled, what earlier attempts noted,
# and (when the next start handles a stored request again) its intake row.
INTAKE_KEY = "imagebot_intake_key"
INTAKE_NOTES = "imagebot_intake_notes"
REPLAY = "imagebot_replay"
STOPPING_TEXT = "I'm restarting right now and could not take that in; please try again in a moment."

# How Slack spells the registry's commands (bot.commands): /imagine is a slash command of its own,
# the rest are subcommands of /imagebot; slash commands take no files, so /edit is not offered.
SLACK = Surface(
    "slack",
    slash=frozenset({"imagine"}),
    router=f"{ADMIN_COMMAND} ",
    extra=(
        "`@imagebot <prompt>` in a channel starts a session in the thread of your message; in a"
        " session thread, just reply (no mention needed) to edit the current image.",
    ),
)
IMAGINE = command("imagine")


def delivery_key(body: Mapping[str, Any]) -> str | None:
    """What makes one delivery the same as another, for the requests a listener here handles
    (None for the rest, which are not stored): the user's message for @mentions and thread
    replies (a mention in a thread comes as both an app_mention and a message event, and either
    one is redelivered with its own event id); the trigger id for commands, clicks and submits
    (Socket Mode redeliveries repeat it)."""
    if body.get("type") == "event_callback":
        event = body.get("event") or {}
        kind = event.get("type")
        if kind == "message":
            thread = event.get("thread_ts")
            if not thread or thread == event.get("ts") or event.get("subtype") not in _MESSAGE_SUBTYPES:
                return None  # top-level chatter, edits, joins: ignored anyway, not worth a write
            if event.get("bot_id") or not event.get("user"):
                return None
        elif kind != "app_mention":
            return None
        if event.get("channel") and event.get("ts"):
            team = body.get("team_id") or event.get("team") or ""
            return f"slack:message:{team}:{event['channel']}:{event['ts']}"
        return f"slack:event:{body['event_id']}" if body.get("event_id") else None
    if body.get("command") is not None:
        if body.get("command") not in (IMAGINE_COMMAND, ADMIN_COMMAND):
            return None
    elif body.get("type") == "block_actions":
        actions = body.get("actions") or [{}]
        action = actions[0] if isinstance(actions[0], Mapping) else {}
        if not ButtonId.looks_like(str(action.get("action_id") or "")):
            return None
        if not body.get("trigger_id") and action.get("action_ts"):
            return f"slack:action:{action.get('action_id')}:{action['action_ts']}"
    elif body.get("type") == "view_submission":
        if (body.get("view") or {}).get("callback_id") != EDIT_CALLBACK_ID:
            return None
    else:
        return None
    return f"slack:trigger:{body['trigger_id']}" if body.get("trigger_id") else None


def delivery_kind(body: Mapping[str, Any]) -> str:
    if body.get("command"):
        return f"command:{body['command']}"
    if body.get("type") == "event_callback":
        return f"event:{(body.get('event') or {}).get('type')}"
    return str(body.get("type") or "unknown")


def requester(body: Mapping[str, Any]) -> dict[str, Any]:
    """Who asked and where, from any stored request body (commands, interactions, events)."""
    if body.get("type") == "event_callback":
        return _who_event(body.get("event") or {})
    return _who(body)


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

    def register(self) -> None:
        app = self.app
        app.middleware(self.intake_middleware)
        app.command(IMAGINE_COMMAND)(self.on_imagine)
        app.command(ADMIN_COMMAND)(self.on_imagebot)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.action(re.compile(rf"^{BUTTON_PATTERN}$"))(self.on_action)
        app.view(EDIT_CALLBACK_ID)(self.on_edit_submit)

    def _spawn(
        self,
        context: Mapping[str, Any],
        work: Coroutine[Any, Any, None],
        name: str,
        *,
        channel: str = "",
        user: str = "",
        thread: str | None = None,
        response_url: str | None = None,
    ) -> None:
        """Handle a stored request in a tracked task, as its intake key (so a second attempt after
        a crash finds the job the first one made), and finish it when handled. If the work
        crashes, the person who asked is told (only them), and that is its answer: it is finished
        too. Cancelled at shutdown, it is released and handled again on the next start."""
        key: str | None = context.get(INTAKE_KEY)

        async def guarded() -> None:
            try:
                with self.bot.intake.handling(key):
                    await work
            except asyncio.CancelledError:
                if key is not None:
                    self.bot.intake.release(key)
                raise
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
            await self._finish(key)

        self.tasks.spawn(guarded(), name=name)

    async def _finish(self, key: str | None) -> None:
        if key is None:
            return
        try:
            await self.bot.intake.finish(key)
        except Exception as exc:  # the row stays open: the next start sees its job and stops there
            log.warning("could not mark a Slack request handled (%s)", type(exc).__name__)

    def _answered(self, context: Mapping[str, Any]) -> None:
        """The listener answered in its ack (nothing more to do): the request is handled."""
        key = context.get(INTAKE_KEY)
        if key is not None:
            self.tasks.spawn(self._finish(key), name="slack-intake-finish")

    # --- delivery safety ------------------------------------------------------------------------
    async def intake_middleware(
        self, body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """Store the request before any listener acks it. Duplicates are acked and dropped; a
        request that cannot be stored in time (or arrives while stopping) is answered busy:
        commands and forms say so, events are not acked, so Slack sends them again."""
        key = delivery_key(body)
        if key is None:
            await next()
            return None
        replay: IntakeRow | None = context.get(REPLAY)
        if replay is not None:  # handled again at start-up: stored already, in hand
            context[INTAKE_KEY] = replay.key
            context[INTAKE_NOTES] = dict(replay.notes)
            await next()
            return None
        if not self.accepting():
            return self._busy(body, STOPPING_TEXT)
        ticket = await self.bot.intake.receive(PLATFORM, key, delivery_kind(body), body)
        if ticket.admission is Admission.DUPLICATE:
            log.info("dropping a repeated Slack delivery (%s)", key.split(":")[1])
            return BoltResponse(status=200, body="")
        if ticket.admission is Admission.BUSY:
            return self._busy(body, BUSY_TEXT)
        context[INTAKE_KEY] = key
        context[INTAKE_NOTES] = dict(ticket.notes)
        await next()
        return None

    def _busy(self, body: Mapping[str, Any], text: str) -> BoltResponse:
        if body.get("type") == "event_callback":
            # Not acknowledged: Slack delivers it again (HTTP: any non-2xx; Socket Mode: no ack).
            return BoltResponse(status=503, body="busy")
        if body.get("type") == "view_submission":
            answer = {"response_action": "errors", "errors": {EDIT_BLOCK_ID: text}}
            return BoltResponse(
                status=200, body=json.dumps(answer), headers={"content-type": "application/json"}
            )
        if body.get("type") == "block_actions":
            who = _who(body)
            if who["channel"] and who["user"]:
                self.tasks.spawn(
                    self.poster.ephemeral(
                        who["channel"],
                        who["user"],
                        text,
                        thread_ts=who["thread"],
                        response_url=who["response_url"],
                    ),
                    name="slack-busy",
                )
            return BoltResponse(status=200, body="")
        answer = {"response_type": "ephemeral", "text": text}
        return BoltResponse(status=200, body=json.dumps(answer), headers={"content-type": "application/json"})

    async def gave_up(self, row: IntakeRow) -> None:
        """A stored request the last runs could not finish in three tries: tell whoever asked."""
        who = requester(row.payload)
        parent = row.notes.get("parent_ts")
        if parent and who["channel"]:
            text = str(row.payload.get("text") or "")
            head = f"🎨 /imagine by <@{who['user']}>: “{shown(plain_text(text), 150)}”"
            await self.presenter.board.update(
                who["channel"], str(parent), f"{head}\n❌ {GAVE_UP_TEXT}", final=True
            )
        if who["channel"] and who["user"]:
            await self.poster.ephemeral(
                who["channel"],
                who["user"],
                GAVE_UP_TEXT,
                thread_ts=who["thread"],
                response_url=who["response_url"],
            )

    # --- /imagine -------------------------------------------------------------------------------
    async def on_imagine(self, ack: Any, body: dict[str, Any], context: AsyncBoltContext) -> None:
        if not str(body.get("text") or "").strip():
            await ack(
                "Tell me what to make, e.g. `/imagine a red fox in fresh snow, golden hour --ar 16:9`."
                " `/imagebot help` lists everything."
            )
            self._answered(context)
            return
        await ack()
        self._spawn(
            context, self._imagine(body, _team(body, context), context), "slack-imagine", **_who(body)
        )

    async def _imagine(self, body: dict[str, Any], team: str, context: Mapping[str, Any]) -> None:
        channel, user = str(body["channel_id"]), str(body["user_id"])
        response_url = body.get("response_url")
        actor = await self.users.actor(team, user, str(body.get("user_name") or ""))
        text = plain_text(str(body.get("text") or ""))
        key: str | None = context.get(INTAKE_KEY)
        noted = (context.get(INTAKE_NOTES) or {}).get("parent_ts")
        head = f"🎨 /imagine by *{shown(actor.label, 80)}*: “{shown(text, 150)}”"
        parent: dict[str, str] = {}

        async def open_session() -> SessionKey:
            # Called by the core only once the request is valid, so a refused one posts nothing.
            if noted:  # an earlier attempt posted it before the process stopped: use that one
                parent["ts"] = str(noted)
                return SessionKey(PLATFORM, team, channel, parent["ts"])
            try:
                parent["ts"] = await self.poster.post(channel, None, f"{head}\n⏳ Starting…")
            except SlackApiError as error:
                raise _explain_post_failure(error) from None
            if key is not None:
                try:
                    await self.bot.intake.note(key, "parent_ts", parent["ts"])
                except Exception as exc:  # only a replay after a crash would miss it: go on
                    log.warning("could not note a Slack parent message (%s)", type(exc).__name__)
            return SessionKey(PLATFORM, team, channel, parent["ts"])

        where = SessionKey(PLATFORM, team, channel, "")
        try:
            reply = await IMAGINE.run(self.bot, Call(actor, where, SLACK, {"prompt": text}, open_session))
        except Exception:
            if "ts" in parent:  # never leave "Starting…" behind
                await self._parent_failed(
                    channel, parent["ts"], head, "Something went wrong on our side; please try again."
                )
            raise
        status_ts = parent.get("ts") or (str(noted) if noted and isinstance(reply, Queued) else None)
        if isinstance(reply, Queued) and status_ts:
            if await self._already_over(reply.job.id, context):
                return
            await self.presenter.queued(reply, channel, status_ts, status_ts=status_ts)
        elif "ts" in parent:  # refused after the thread was opened: say so there and on the parent
            await self._parent_failed(channel, parent["ts"], head, reply.text)
            await self.poster.try_post(channel, parent["ts"], mrkdwn(reply.text))
        else:
            await self.poster.ephemeral(channel, user, mrkdwn(reply.text), response_url=response_url)

    async def _parent_failed(self, channel: str, ts: str, head: str, reason: str) -> None:
        line = mrkdwn(reason) if reason.startswith("❌") else f"❌ {mrkdwn(reason)}"
        await self.presenter.board.update(channel, ts, f"{head}\n{line}", final=True)

    async def _already_over(self, job_id: str, context: Mapping[str, Any]) -> bool:
        """Handled again after a restart, a request whose job already ended shows nothing more
        (its result and final status are posted by the job's own reports, or the catch-up)."""
        if context.get(REPLAY) is None:
            return False
        return await self.bot.job_ended(job_id)

    # --- /imagebot <subcommand> -----------------------------------------------------------------
    async def on_imagebot(self, ack: Any, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        self._spawn(context, self._imagebot(body, _team(body, context)), "slack-imagebot", **_who(body))

    async def _imagebot(self, body: dict[str, Any], team: str) -> None:
        channel, user = str(body["channel_id"]), str(body["user_id"])
        response_url = body.get("response_url")
        actor = await self.users.actor(team, user, str(body.get("user_name") or ""))
        word, _, rest = plain_text(str(body.get("text") or "")).partition(" ")
        where = SessionKey(PLATFORM, team, channel, "")
        found = SLACK.find(word or "help")
        if found is None or found not in SLACK.routed():
            choices = ", ".join(SLACK.usage(c).removeprefix(SLACK.router) for c in SLACK.routed())
            text = f"I don't know `{ADMIN_COMMAND} {word.lower()}`. Try one of: {choices}."
            await self.poster.ephemeral(channel, user, mrkdwn(text), response_url=response_url)
            return
        args = SLACK.parse(found, rest)
        if found.answer is Answer.PUBLIC:  # today: show, which opens a thread for what it shows
            await self._show(actor, team, channel, found, args, response_url)
            return
        reply = await found.run(self.bot, Call(actor, where, SLACK, args))
        await self.poster.ephemeral(channel, user, mrkdwn(reply.text), response_url=response_url)

    async def _show(
        self,
        actor: UserRef,
        team: str,
        channel: str,
        found: Command,
        args: dict[str, ArgValue],
        response_url: str | None,
    ) -> None:
        """/imagebot show <id>: the image (or set) in a new thread that becomes its session."""
        missing = SLACK.missing(found, args)
        if missing is not None:
            await self.poster.ephemeral(channel, actor.id, missing, response_url=response_url)
            return
        ident = str(args.get("id") or "")
        opened: dict[str, str] = {}

        async def open_session() -> SessionKey:
            # Posted only once the core knows the id, so an unknown one never flashes a message.
            try:
                ts = await self.poster.post(
                    channel, None, f"🖼️ *{shown(actor.label, 80)}* brought back `{shown(ident, 60)}`"
                )
            except SlackApiError as error:
                raise BotError(ErrorKind.UNAVAILABLE, _explain_post_failure(error).message) from None
            opened["ts"] = ts
            return SessionKey(PLATFORM, team, channel, ts)

        call = Call(actor, SessionKey(PLATFORM, team, channel, ""), SLACK, args, open_session)
        reply = await found.run(self.bot, call)
        if not isinstance(reply, Images):
            if "ts" in opened:
                await self.poster.delete(channel, opened["ts"])
            await self.poster.ephemeral(channel, actor.id, mrkdwn(reply.text), response_url=response_url)
            return
        await self.poster.images(reply, channel, opened["ts"])

    # --- messages: @mentions and thread replies -------------------------------------------------
    async def on_mention(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        self._spawn(
            context,
            self._message(event, body, context, mentioned=True),
            "slack-mention",
            **_who_event(event),
        )

    async def on_message(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        thread = event.get("thread_ts")
        if not thread or thread == event.get("ts") or event.get("subtype") not in _MESSAGE_SUBTYPES:
            self._answered(context)
            return  # only replies in threads matter here; top-level mentions come as app_mention
        self._spawn(
            context,
            self._message(event, body, context, mentioned=False),
            "slack-message",
            **_who_event(event),
        )

    async def _message(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext, *, mentioned: bool
    ) -> None:
        if event.get("subtype") not in _MESSAGE_SUBTYPES or event.get("bot_id") or not event.get("user"):
            return  # edits, deletions, joins and other bots' messages are not requests
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
        # A mention in a thread arrives twice (app_mention and message): both carry the same
        # intake key (the message's ts, see delivery_key), so only the first gets this far.
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
        if isinstance(reply, Queued) and await self._already_over(reply.job.id, context):
            return
        await self.deliver(reply, channel, where.thread, user)

    async def _attachments(self, event: Mapping[str, Any]) -> list[Attachment]:
        files = [f for f in event.get("files") or [] if isinstance(f, Mapping)]
        return await self.fetcher.fetch_all(files) if files else []

    # --- buttons --------------------------------------------------------------------------------
    async def on_action(self, ack: Any, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        actions = body.get("actions") or []
        custom_id = str(actions[0].get("action_id") or "") if actions else ""
        self._spawn(
            context,
            self._action(body, custom_id, _team(body, context), context),
            "slack-action",
            **_who(body),
        )

    async def _action(
        self, body: dict[str, Any], custom_id: str, team: str, context: Mapping[str, Any]
    ) -> None:
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
        try:
            button = ButtonId.decode(custom_id)
        except BotError as error:  # one of ours in shape, but not a button this version knows
            await self.poster.ephemeral(channel, user, mrkdwn(error.message), thread_ts=thread)
            return
        if button.verb.opens_form:
            await self._open_edit(body, button.target, where, user)
            return
        actor = await self.users.actor(
            team, user, str(user_info.get("name") or user_info.get("username") or "")
        )
        reply = await self.bot.press(actor, where, button)
        if isinstance(reply, Queued) and await self._already_over(reply.job.id, context):
            return
        await self.deliver(reply, channel, thread, user, response_url=body.get("response_url"))

    async def _open_edit(self, body: Mapping[str, Any], image_id: str, where: SessionKey, user: str) -> None:
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
            self._answered(context)
            return
        try:
            image_id, where = parse_edit_metadata(str(view.get("private_metadata") or ""), PLATFORM)
        except ValueError:
            await ack(
                response_action="errors",
                errors={EDIT_BLOCK_ID: "This form is out of date; click Edit… again."},
            )
            self._answered(context)
            return
        await ack()
        user_info = body.get("user") or {}
        self._spawn(
            context,
            self._edit(where, image_id, instruction, user_info, context),
            "slack-edit",
            channel=where.channel,
            user=str(user_info.get("id") or ""),
            thread=where.thread,
        )

    async def _edit(
        self,
        where: SessionKey,
        image_id: str,
        instruction: str,
        user_info: Mapping[str, Any],
        context: Mapping[str, Any],
    ) -> None:
        user = str(user_info.get("id") or "")
        actor = await self.users.actor(where.workspace, user, str(user_info.get("name") or ""))
        # Modal input is plain text already (no Slack markup to undo).
        reply = await self.bot.edit_image(actor, where, image_id, instruction)
        if isinstance(reply, Queued) and await self._already_over(reply.job.id, context):
            return
        await self.deliver(reply, where.channel, where.thread, user)

    # --- replies --------------------------------------------------------------------------------
    async def deliver(
        self, outcome: Outcome, channel: str, thread: str, user: str, *, response_url: str | None = None
    ) -> None:
        """Put an outcome where it belongs, one sender per kind: notes and refusals only for
        `user`; a queued job's status message, images with their buttons, or a job's failure in
        the thread."""
        match outcome:
            case Queued():
                # Before any await: updates from the job must find (or wait for) this status message.
                self.presenter.reserve(outcome.job.id)
                await self.presenter.queued(outcome, channel, thread)
            case Problem(buttons=()) | Notice(buttons=()):
                await self.poster.ephemeral(
                    channel, user, mrkdwn(outcome.text), thread_ts=thread, response_url=response_url
                )
            case Problem() | Notice() | JobFailed():
                # A private note here carries no buttons, so a question with choices ("which
                # image?") is asked in the thread.
                await self.poster.try_post(channel, thread, mrkdwn(outcome.text), outcome.buttons)
            case Images():
                await self.poster.images(outcome, channel, thread)
            case _:
                assert_never(outcome)
