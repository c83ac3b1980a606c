"""Slash commands, generated from the core's command registry, and message context menus.

Each registry command becomes a slash command: its arguments' kinds become option types
(choices, ranges, attachments, autocomplete for models), its descriptions Discord's. One
callback runs them all: acknowledge (public "thinking…" or private), read attachments, open a
session thread when the command does, call the command's handler, answer.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
from typing import TYPE_CHECKING, Any, Optional, Protocol

import discord
from discord import app_commands

from adapters.discord.components import MODAL_PREFIX, edit_form, submitted_values
from adapters.discord.forms import command_form, form_id, read_form_id, slash_args
from adapters.discord.intake import Delivery, DiscordIntake
from adapters.discord.places import where_of
from adapters.discord.senders import Answering, answering
from bot.answers import Images, Outcome
from bot.command_model import Answer, Arg, ArgKind, ArgValue, Call, Command, OpenSession
from bot.commands import Surface
from bot.directives import split_directives
from bot.domain import Attachment, SessionKey, UserRef
from bot.errors import BotError, ErrorKind
from bot.model_catalog import known_models
from bot.options import split_flags
from bot.text import display_text

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.service import ImageBot


class CommandHost(Protocol):
    """What the commands need of the Discord adapter (adapters/discord/app.py)."""

    bot: ImageBot
    settings: Settings
    intake: DiscordIntake

    def actor(self, interaction: discord.Interaction) -> UserRef: ...

    async def read_or_refuse(
        self,
        interaction: discord.Interaction,
        attachments: list[discord.Attachment],
        delivery: Delivery | None = None,
    ) -> list[Attachment] | None: ...

    async def answer(
        self,
        interaction: discord.Interaction,
        outcome: Outcome,
        *,
        thread_id: int | None = None,
        delivery: Delivery | None = None,
    ) -> None: ...


log = logging.getLogger(f"imagebot.{__name__}")

THREAD_ALREADY_MADE = 160004  # Discord's error code: "A thread has already been created for this message"
THREAD_NAME_LIMIT = 100  # Discord's limit for a thread (channel) name
FALLBACK_THREAD_NAME = "imagebot session"
DISCORD = Surface("discord", fields=True, files=True)


def register_commands(tree: app_commands.CommandTree, adapter: CommandHost) -> None:
    bot = adapter.bot

    @tree.error
    async def on_command_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        # Never leave someone looking at "thinking…": say something, only to them.
        if adapter.intake.stopping:
            return  # cut off by a stop: the request was left for the next start to handle
        log.error("command %s failed", interaction.command and interaction.command.name, exc_info=error)
        text = "Something went wrong on our side; please try again."
        try:
            if interaction.response.is_done():
                # After a public defer, the first followup would replace the channel-visible
                # "thinking…" message: remove that first, so only the person sees the error.
                with contextlib.suppress(discord.HTTPException):
                    await interaction.delete_original_response()
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            pass

    for command in DISCORD.commands():
        tree.add_command(slash_command(command, adapter))

    def here(interaction: discord.Interaction) -> SessionKey:

        return where_of(interaction.channel, interaction.guild_id)

    @tree.context_menu(name="Edit image")
    async def edit_image(interaction: discord.Interaction, message: discord.Message) -> None:
        async with adapter.intake.handle(interaction) as delivery:
            if delivery.replay:
                return  # a form or a direct answer can only be given at once
            if not _images_of(message):
                await interaction.response.send_message("That message has no image to edit.", ephemeral=True)
                return
            form = f"{MODAL_PREFIX}edit-message:{message.channel.id}:{message.id}"
            await interaction.response.send_modal(edit_form(form))

    @tree.context_menu(name="Vary image")
    async def vary_image(interaction: discord.Interaction, message: discord.Message) -> None:
        images = _images_of(message)
        if not images:
            await _no_image(adapter, interaction, "vary")
            return
        async with adapter.intake.handle(interaction, ack="thinking") as delivery:
            where = here(interaction)
            uploads = await adapter.read_or_refuse(interaction, images[:1], delivery)
            if uploads is None:
                return
            (upload,) = uploads
            title = f"Variations of {upload.filename}"
            open_session, created = open_session_for(interaction, where, title, adapter, delivery)
            with answering(Answering(delivery, interaction=interaction, created=created)):
                reply = await bot.vary_upload(
                    adapter.actor(interaction), where, upload, open_session=open_session
                )
            await adapter.answer(interaction, reply, thread_id=created.get("thread"), delivery=delivery)

    @tree.context_menu(name="Describe image")
    async def describe_image(interaction: discord.Interaction, message: discord.Message) -> None:
        """/describe for an image anyone posted: the suggestions where the menu was used."""
        images = _images_of(message)
        if not images:
            await _no_image(adapter, interaction, "describe")
            return
        async with adapter.intake.handle(interaction, ack="thinking") as delivery:
            uploads = await adapter.read_or_refuse(interaction, images[:1], delivery)
            if uploads is None:
                return
            reply = await bot.describe(adapter.actor(interaction), here(interaction), uploads[0])
            await adapter.answer(interaction, reply, delivery=delivery)


def slash_command(command: Command, adapter: CommandHost) -> app_commands.Command[Any, ..., None]:
    """A registry command as a discord.py slash command (its signature built from the arguments)."""

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        if command.form is not None:
            await open_form(adapter, command, interaction, values)
        else:
            await run_command(adapter, command, interaction, values)

    parameters = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    args = fields_of(command)  # a form command's are its field-only ones (the form has the rest)
    for arg in args:
        optional = arg.kind is not ArgKind.SWITCH and not arg.required
        default: object = inspect.Parameter.empty
        if not arg.required:
            default = False if arg.kind is ArgKind.SWITCH else None
        annotation = _option_type(arg)
        parameters.append(
            inspect.Parameter(
                arg.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Optional[annotation] if optional else annotation,  # noqa: UP045
                default=default,
            )
        )
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]  # read by discord.py
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]  # as @describe sets it
        arg.name: arg.description for arg in args
    }
    # Choices given as such, not as a Literal: typing caches Optional[Literal[...]] by equality,
    # which ignores order, so a Literal could come back in another module's order.
    callback.__discord_app_commands_param_choices__ = {  # type: ignore[attr-defined]  # as @choices sets it
        arg.name: [app_commands.Choice(name=c, value=c) for c in arg.choices]
        for arg in args
        if arg.kind is ArgKind.CHOICE
    }
    slash: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=command.name, description=command.description, callback=callback
    )
    allowed = adapter.settings.imagebot_allowed_models or known_models()

    async def models(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=m, value=m) for m in allowed if current.lower() in m.lower()][:25]

    for arg in args:
        if arg.kind is ArgKind.MODEL:
            slash.autocomplete(arg.name)(models)
    return slash


def fields_of(command: Command) -> list[Arg]:
    """The command's options: an IMAGES argument becomes one attachment field per image (image1,
    image2…, the first `low` required); Discord wants the required ones first."""
    fields: list[Arg] = []
    for arg in slash_args(command):
        if arg.kind is not ArgKind.IMAGES:
            fields.append(arg)
            continue
        for i in range(1, (arg.high or 0) + 1):
            required = i <= (arg.low or 0)
            fields.append(Arg(f"{arg.name}{i}", f"{arg.description} ({i})", ArgKind.IMAGE, required))
    return sorted(fields, key=lambda arg: not arg.required)


def _option_type(arg: Arg) -> Any:
    """The Discord option type of an argument kind."""
    if arg.kind is ArgKind.NUMBER:
        return app_commands.Range[int, arg.low, arg.high]
    if arg.kind is ArgKind.SWITCH:
        return bool
    if arg.kind is ArgKind.IMAGE:
        return discord.Attachment
    return str


async def run_command(
    adapter: CommandHost, command: Command, interaction: discord.Interaction, values: dict[str, Any]
) -> None:
    """Acknowledge, read the attachments, open a session thread if the command does, call its
    handler and answer: in the channel (public) or only to the person (private)."""
    public = command.answer is Answer.PUBLIC
    async with adapter.intake.handle(interaction, ack="thinking" if public else "ephemeral") as delivery:
        where = where_of(interaction.channel, interaction.guild_id)
        args: dict[str, ArgValue] = {k: v for k, v in values.items() if not isinstance(v, discord.Attachment)}
        attached = [(name, v) for name, v in values.items() if isinstance(v, discord.Attachment)]
        if attached:
            uploads = await adapter.read_or_refuse(interaction, [v for _, v in attached], delivery)
            if uploads is None:
                return
            args.update({name: upload for (name, _), upload in zip(attached, uploads, strict=True)})
        open_session: OpenSession | None = None
        created: dict[str, int] = {}
        if command.session_title is not None:
            title = str(values.get(command.session_title) or "")
            open_session, created = open_session_for(interaction, where, title, adapter, delivery)
        call = Call(adapter.actor(interaction), where, DISCORD, args, open_session)
        with answering(Answering(delivery, interaction=interaction, created=created)):
            outcome = await command.run(adapter.bot, call)
        if public:
            await adapter.answer(interaction, outcome, thread_id=created.get("thread"), delivery=delivery)
        else:
            # A private answer may show pictures too (a style's references as a grid).
            views = outcome.images if isinstance(outcome, Images) else ()
            files = [discord.File(io.BytesIO(v.data), filename=v.filename) for v in views]
            await _private_answer(interaction, outcome.text, delivery, files)


async def open_form(
    adapter: CommandHost, command: Command, interaction: discord.Interaction, values: dict[str, Any]
) -> None:
    """A form command (/build): its form, as the first answer; the options given travel in the
    form's id, each checked first so nobody fills in a form its options would refuse."""
    async with adapter.intake.handle(interaction) as delivery:
        if delivery.replay:
            return  # a form can only be the first response, long gone after a restart
        try:
            custom_id = form_id(command, values)
        except BotError as error:
            await interaction.response.send_message(error.message, ephemeral=True)
            return
        await interaction.response.send_modal(command_form(command, custom_id))


async def submit_form(adapter: CommandHost, interaction: discord.Interaction, custom_id: str) -> bool:
    """A submitted command form, run as the command with the form's fields and the options its
    id carries; False if `custom_id` is not a command form."""
    read = read_form_id(custom_id)
    if read is None:
        return False
    name, options = read
    command = DISCORD.find(name)
    if command is None or command.form is None:
        async with adapter.intake.handle(interaction, ack="ephemeral") as delivery:
            await _private_answer(interaction, "That form is out of date; run its command again.", delivery)
        return True
    given = {**options, **submitted_values(interaction.data or {})}
    values = {arg.name: given[arg.name] for arg in command.args if arg.name in given}
    await run_command(adapter, command, interaction, values)
    return True


async def _no_image(adapter: CommandHost, interaction: discord.Interaction, verb: str) -> None:
    """A message menu used on a message without an image: said once, privately."""
    async with adapter.intake.handle(interaction) as delivery:
        if not delivery.replay:
            await interaction.response.send_message(f"That message has no image to {verb}.", ephemeral=True)


def _images_of(message: discord.Message) -> list[discord.Attachment]:
    return [a for a in message.attachments if (a.content_type or "").startswith("image/")]


def thread_name(title: str) -> str:
    """A session thread's name: what was asked, without its --flags, as one clean line within
    Discord's limit (the name is shown in the channel list and thread header)."""
    try:
        rest, asked = split_directives(title)
        prompt, _ = split_flags(rest)
    except BotError:
        prompt = title  # the core refuses such flags before any thread is opened
    else:
        if asked.template:  # named after the template and what filled it: "poster jazz night"
            prompt = " ".join([asked.template, *asked.fills.values(), prompt])
    return display_text(prompt, THREAD_NAME_LIMIT) or FALLBACK_THREAD_NAME


def open_session_for(
    interaction: discord.Interaction,
    where: SessionKey,
    title: str,
    adapter: CommandHost | None = None,
    delivery: Delivery | None = None,
) -> tuple[OpenSession | None, dict[str, int]]:
    """In a thread the session already exists; in a channel, the response message gets a thread.

    The thread's id is noted on the request at once, so a request handled again after a crash
    reuses it instead of opening a second one."""
    created: dict[str, int] = {}
    if isinstance(interaction.channel, discord.Thread) or interaction.guild_id is None:
        return None, created

    async def open_session() -> SessionKey:
        noted = delivery.notes.get("thread") if delivery is not None else None
        if noted:
            created["thread"] = int(noted)
            return SessionKey(where.platform, where.workspace, where.channel, str(noted))
        try:
            message = await interaction.original_response()
            try:
                thread_id = (
                    await message.create_thread(name=thread_name(title), auto_archive_duration=1440)
                ).id
            except discord.HTTPException as error:
                if error.code != THREAD_ALREADY_MADE:
                    raise
                # Made by a run that died before noting it: a message's thread has its id.
                thread_id = message.id
        except discord.Forbidden:
            raise BotError(
                ErrorKind.FORBIDDEN,
                "I need the Create Public Threads permission in this channel to start a session thread.",
            ) from None
        except discord.HTTPException as error:
            raise BotError(
                ErrorKind.UNAVAILABLE,
                f"Discord would not let me start a thread here ({error.status}); try a text channel.",
            ) from None
        if adapter is not None and delivery is not None:
            await adapter.intake.note(delivery, "thread", thread_id)
        created["thread"] = thread_id
        return SessionKey(where.platform, where.workspace, where.channel, str(thread_id))

    return open_session, created


async def _private_answer(
    interaction: discord.Interaction, text: str, delivery: Delivery, files: list[discord.File] | None = None
) -> None:
    """Edit a private deferred answer; after a restart its token may be gone (nothing to do then)."""
    try:
        if files:
            await interaction.edit_original_response(content=text[:2000], attachments=files)
        else:
            await interaction.edit_original_response(content=text[:2000])
    except discord.HTTPException as error:
        if not delivery.replay:
            raise
        log.info("discord: a private answer could not be given after a restart (%s)", error.status)
