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
from adapters.slack.commands import SlashCommands
from adapters.slack.deliveries import (
    ADMIN_COMMAND,
    IMAGINE_COMMAND,
    INTAKE_KEY,
    INTAKE_NOTES,
    REPLAY,
    delivery_key,
    delivery_kind,
    requester,
    team_of,
    who_of,
)
from adapters.slack.errors import slack_error
from adapters.slack.files import FileFetcher
from adapters.slack.forms import FORM_CALLBACK_ID, first_block
from adapters.slack.messages import MessageHandlers
from adapters.slack.poster import Poster
from adapters.slack.presenter import SlackPresenter
from adapters.slack.tasks import TaskSet
from adapters.slack.users import PLATFORM, Users
from bot.answers import Images, JobFailed, Notice, Outcome, Problem, Queued
from bot.buttons import PATTERN as BUTTON_PATTERN
from bot.buttons import ButtonId
from bot.domain import SessionKey
from bot.errors import BotError
from bot.intake import BUSY_TEXT, GAVE_UP_TEXT, Admission
from bot.records import IntakeRow
from bot.service import ImageBot

log = logging.getLogger(f"imagebot.{__name__}")

STOPPING_TEXT = "I'm restarting right now and could not take that in; please try again in a moment."


class SlackHandlers(SlashCommands, MessageHandlers):
    """The listeners Bolt calls: slash commands (`SlashCommands`, adapters/slack/commands.py),
    @mentions and thread replies (`MessageHandlers`, adapters/slack/messages.py), and here the
    intake every request passes, buttons, the Edit… form and the replies."""

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
        app.view(FORM_CALLBACK_ID)(self.on_form_submit)

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
        except Exception as exc:  # noqa: BLE001 - the row stays open: the next start sees its job and stops there
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
            block = first_block(body.get("view") or {}) or EDIT_BLOCK_ID
            answer = {"response_action": "errors", "errors": {block: text}}
            return BoltResponse(
                status=200, body=json.dumps(answer), headers={"content-type": "application/json"}
            )
        if body.get("type") == "block_actions":
            who = who_of(body)
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

    # --- buttons --------------------------------------------------------------------------------
    async def on_action(self, ack: Any, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        actions = body.get("actions") or []
        custom_id = str(actions[0].get("action_id") or "") if actions else ""
        self._spawn(
            context,
            self._action(body, custom_id, team_of(body, context), context),
            "slack-action",
            **who_of(body),
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
                pass  # its status line was posted by the presenter, on the job's QUEUED event
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
