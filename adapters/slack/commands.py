"""Slack's slash commands: /imagine (its own command) and /imagebot <subcommand>, from the
core's command registry (bot.commands)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError

from adapters.slack.blocks import mrkdwn, plain_text, shown
from adapters.slack.deliveries import (
    ADMIN_COMMAND,
    INTAKE_KEY,
    INTAKE_NOTES,
    explain_post_failure,
    team_of,
    who_of,
)
from adapters.slack.errors import slack_error
from adapters.slack.forms import field_errors, first_block, form_modal, read_form
from adapters.slack.poster import Poster
from adapters.slack.presenter import SlackPresenter
from adapters.slack.users import PLATFORM, Users
from bot.answers import Images, Queued
from bot.command_model import Answer, ArgKind, ArgValue, Call, Command
from bot.commands import COMMANDS, Surface, command, taking_files
from bot.domain import SessionKey, UserRef
from bot.errors import BotError, ErrorKind
from bot.service import ImageBot

log = logging.getLogger(f"imagebot.{__name__}")


# How Slack spells the registry's commands (bot.commands): /imagine is a slash command of its own,
# the rest are subcommands of /imagebot. Slash commands take no files, so a command that needs
# them (blend, describe, edit) is a mention with the files attached (adapters/slack/messages.py).
_SPELLED = Surface("slack", slash=frozenset({"imagine"}), router=f"{ADMIN_COMMAND} ")
IMAGINE = command("imagine")


def _files_wanted(found: Command) -> str:
    several = next((a for a in found.args if a.kind is ArgKind.IMAGES), None)
    return f"{several.low} to {several.high} images" if several is not None else "an image"


def _mentioned(found: Command) -> tuple[str, str]:
    """A command that needs files as a mention types it (`@imagebot blend <prompt> [--flags]`),
    and what it does."""
    typed = _SPELLED.usage(found).removeprefix(_SPELLED.spell(found))
    what = found.help or found.description[:1].lower() + found.description[1:]
    return f"`@imagebot {found.name}{typed}`", what


def how_to_mention(found: Command) -> str:
    """`/imagebot blend`: slash commands carry no files, so how to ask for it in a message."""
    typed, what = _mentioned(found)
    return (
        f"Slack commands can't carry files, so {found.name} in a message: attach {_files_wanted(found)}"
        f" to a message that says {typed} ({what})."
    )


def _help_line(found: Command) -> str:
    typed, what = _mentioned(found)
    return f"{typed} with {_files_wanted(found)} attached: {what}."


SLACK = replace(
    _SPELLED,
    extra=(
        "`@imagebot <prompt>` in a channel starts a session in the thread of your message; in a"
        " session thread, just reply (no mention needed) to edit the current image, or reply"
        " `describe` for 4 prompt suggestions for it.",
        *(_help_line(c) for c in COMMANDS if c.takes_files and not _SPELLED.offers(c)),
    ),
)


class SlashCommands:
    """The slash-command half of `SlackHandlers` (adapters/slack/handlers.py), which provides
    the parts declared here."""

    bot: ImageBot
    app: AsyncApp
    poster: Poster
    presenter: SlackPresenter
    users: Users

    # SlackHandlers' own: run a request's work as a tracked task; mark a request answered.
    _spawn: Callable[..., None]
    _answered: Callable[[Mapping[str, Any]], None]

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
            context, self._imagine(body, team_of(body, context), context), "slack-imagine", **who_of(body)
        )

    async def _imagine(self, body: dict[str, Any], team: str, context: Mapping[str, Any]) -> None:
        channel, user = str(body["channel_id"]), str(body["user_id"])
        actor = await self.users.actor(team, user, str(body.get("user_name") or ""))
        text = plain_text(str(body.get("text") or ""))
        head = f"🎨 /imagine by *{shown(actor.label, 80)}*: “{shown(text, 150)}”"
        where = SessionKey(PLATFORM, team, channel, "")
        await self._in_new_thread(
            IMAGINE, {"prompt": text}, actor, where, head, context, body.get("response_url")
        )

    async def _in_new_thread(
        self,
        found: Command,
        args: dict[str, ArgValue],
        actor: UserRef,
        where: SessionKey,
        head: str,
        context: Mapping[str, Any],
        response_url: str | None = None,
    ) -> None:
        """A command that starts a session (/imagine, a /build form): once the core accepts it,
        a parent message headed `head` (mrkdwn) opens the thread and carries the job's status."""
        team, channel, user = where.workspace, where.channel, actor.id
        key: str | None = context.get(INTAKE_KEY)
        noted = (context.get(INTAKE_NOTES) or {}).get("parent_ts")
        parent: dict[str, str] = {}

        async def open_session() -> SessionKey:
            # Called by the core only once the request is valid, so a refused one posts nothing.
            if noted:  # an earlier attempt posted it before the process stopped: use that one
                parent["ts"] = str(noted)
                self.presenter.status_is(channel, parent["ts"])
                return SessionKey(PLATFORM, team, channel, parent["ts"])
            try:
                parent["ts"] = await self.poster.post(channel, None, f"{head}\n⏳ Starting…")
            except SlackApiError as error:
                raise explain_post_failure(error) from None
            if key is not None:
                try:
                    await self.bot.intake.note(key, "parent_ts", parent["ts"])
                except Exception as exc:  # noqa: BLE001 - only a replay after a crash would miss it: go on
                    log.warning("could not note a Slack parent message (%s)", type(exc).__name__)
            # The parent is the job's status line: the presenter shows the job's QUEUED event there.
            self.presenter.status_is(channel, parent["ts"])
            return SessionKey(PLATFORM, team, channel, parent["ts"])

        try:
            reply = await found.run(self.bot, Call(actor, where, SLACK, args, open_session))
        except Exception:
            if "ts" in parent:  # never leave "Starting…" behind
                await self._parent_failed(
                    channel, parent["ts"], head, "Something went wrong on our side; please try again."
                )
            raise
        if isinstance(reply, Queued):
            return  # the presenter put its status line on the parent (the job's QUEUED event)
        if "ts" in parent:  # refused after the thread was opened: say so there and on the parent
            self.presenter.forget_status(channel, parent["ts"])
            await self._parent_failed(channel, parent["ts"], head, reply.text)
            await self.poster.try_post(channel, parent["ts"], mrkdwn(reply.text))
        else:
            await self.poster.ephemeral(channel, user, mrkdwn(reply.text), response_url=response_url)

    async def _parent_failed(self, channel: str, ts: str, head: str, reason: str) -> None:
        line = mrkdwn(reason) if reason.startswith("❌") else f"❌ {mrkdwn(reason)}"
        await self.presenter.board.update(channel, ts, f"{head}\n{line}", final=True)

    # --- /imagebot <subcommand> -----------------------------------------------------------------
    async def on_imagebot(self, ack: Any, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        self._spawn(context, self._imagebot(body, team_of(body, context)), "slack-imagebot", **who_of(body))

    async def _imagebot(self, body: dict[str, Any], team: str) -> None:
        channel, user = str(body["channel_id"]), str(body["user_id"])
        response_url = body.get("response_url")
        actor = await self.users.actor(team, user, str(body.get("user_name") or ""))
        word, _, rest = plain_text(str(body.get("text") or "")).partition(" ")
        where = SessionKey(PLATFORM, team, channel, "")
        found = SLACK.find(word or "help")
        needs_files = taking_files(word) if found is None else None
        if needs_files is not None:  # blend, describe, edit: files, which slash commands can't carry
            await self.poster.ephemeral(channel, user, how_to_mention(needs_files), response_url=response_url)
            return
        if found is None or found not in SLACK.routed():
            choices = ", ".join(SLACK.usage(c).removeprefix(SLACK.router) for c in SLACK.routed())
            text = f"I don't know `{ADMIN_COMMAND} {word.lower()}`. Try one of: {choices}."
            await self.poster.ephemeral(channel, user, mrkdwn(text), response_url=response_url)
            return
        if found.form is not None:
            await self._open_form(body, found, where, rest)
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
                raise BotError(ErrorKind.UNAVAILABLE, explain_post_failure(error).message) from None
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

    # --- commands asked in a form (/imagebot build) ---------------------------------------------
    async def _open_form(
        self, body: Mapping[str, Any], found: Command, where: SessionKey, first: str
    ) -> None:
        try:
            # The trigger id is valid for 3 seconds after the command: open the form right away.
            await self.app.client.views_open(
                trigger_id=str(body.get("trigger_id")), view=form_modal(found, where, first)
            )
        except SlackApiError as error:
            log.info("views.open failed: %s", slack_error(error))
            await self.poster.ephemeral(
                where.channel,
                str(body.get("user_id") or ""),
                f"I couldn't open the form ({slack_error(error)}); try `{SLACK.spell(found)}` again.",
                response_url=body.get("response_url"),
            )

    async def on_form_submit(self, ack: Any, body: dict[str, Any], context: AsyncBoltContext) -> None:
        view = body.get("view") or {}
        try:
            name, where, values = read_form(view, PLATFORM)
            found = SLACK.find(name)
            if found is None or found.form is None:
                raise ValueError(f"no form command {name!r}")
        except ValueError:
            await ack(
                response_action="errors",
                errors={first_block(view) or "": "This form is out of date; run its command again."},
            )
            self._answered(context)
            return
        refused = field_errors(found, values)
        if refused:  # said next to the fields, the form still open with what was typed
            await ack(response_action="errors", errors=refused)
            self._answered(context)
            return
        await ack()
        user_info = body.get("user") or {}
        user = str(user_info.get("id") or "")
        self._spawn(
            context,
            self._submitted(found, where, values, user, str(user_info.get("name") or ""), context),
            "slack-form",
            channel=where.channel,
            user=user,
        )

    async def _submitted(
        self,
        found: Command,
        where: SessionKey,
        values: dict[str, str],
        user: str,
        name: str,
        context: Mapping[str, Any],
    ) -> None:
        actor = await self.users.actor(where.workspace, user, name)
        args: dict[str, ArgValue] = {arg.name: values[arg.name] for arg in found.args if arg.name in values}
        title = str(args.get(found.session_title or "") or "")
        head = f"🧱 {SLACK.spell(found)} by *{shown(actor.label, 80)}*: “{shown(title, 150)}”"
        await self._in_new_thread(found, args, actor, where, head, context)
