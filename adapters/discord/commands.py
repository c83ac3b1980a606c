"""Slash commands and message context-menu commands, each a thin call into the core."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands

from adapters.discord.components import MODAL_PREFIX, edit_form
from bot.domain import OptionOverrides, SessionKey
from bot.errors import BotError, ErrorKind
from bot.model_catalog import known_models
from bot.options import split_flags
from bot.text import display_text

if TYPE_CHECKING:
    from adapters.discord.app import DiscordAdapter
    from adapters.discord.intake import Delivery

log = logging.getLogger(f"imagebot.{__name__}")

Aspect = Literal["1:1", "16:9", "9:16", "3:2", "2:3", "4:3", "3:4", "21:9"]
Quality = Literal["auto", "low", "medium", "high", "xhigh", "max"]
Format = Literal["png", "webp", "jpeg"]
BackgroundChoice = Literal["auto", "transparent", "opaque"]
Scope = Literal["me", "channel", "workspace"]

THREAD_ALREADY_MADE = 160004  # Discord's error code: "A thread has already been created for this message"
THREAD_NAME_LIMIT = 100  # Discord's limit for a thread (channel) name
FALLBACK_THREAD_NAME = "imagebot session"


def register_commands(tree: app_commands.CommandTree, adapter: DiscordAdapter) -> None:
    from adapters.discord.app import where_of

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

    allowed = adapter.settings.imagebot_allowed_models or known_models()

    def here(interaction: discord.Interaction) -> SessionKey:
        return where_of(interaction.channel, interaction.guild_id)

    async def models_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=m, value=m) for m in allowed if current.lower() in m.lower()][:25]

    @tree.command(name="imagine", description="Make images from a prompt (--flags work too)")
    @app_commands.describe(
        prompt="What to draw; options like --ar 16:9 --n 2 work here too",
        aspect="Aspect ratio",
        n="How many images (1-10)",
        quality="Rendering quality",
        model="Image model",
        format="File format",
        background="Background",
        reference1="A reference image",
        reference2="Another reference image",
        reference3="Another reference image",
    )
    @app_commands.autocomplete(model=models_autocomplete)
    async def imagine(
        interaction: discord.Interaction,
        prompt: str,
        aspect: Aspect | None = None,
        n: app_commands.Range[int, 1, 10] | None = None,
        quality: Quality | None = None,
        model: str | None = None,
        format: Format | None = None,
        background: BackgroundChoice | None = None,
        reference1: discord.Attachment | None = None,
        reference2: discord.Attachment | None = None,
        reference3: discord.Attachment | None = None,
    ) -> None:
        async with adapter.intake.handle(interaction, ack="thinking") as delivery:
            where = here(interaction)
            refs = await adapter.read_or_refuse(
                interaction, [a for a in (reference1, reference2, reference3) if a], delivery
            )
            if refs is None:
                return
            overrides = OptionOverrides(
                aspect=aspect, n=n, quality=quality, model=model, output_format=format, background=background
            )
            open_session, created = open_session_for(interaction, where, prompt, adapter, delivery)
            reply = await bot.imagine(
                adapter.actor(interaction), where, prompt, overrides, refs, open_session=open_session
            )
            await adapter.answer(interaction, reply, thread_id=created.get("thread"), delivery=delivery)

    @tree.command(name="edit", description="Edit an uploaded image with an instruction")
    @app_commands.describe(
        image="The image to edit", instruction="What to change", mask="Transparent where it may change"
    )
    async def edit(
        interaction: discord.Interaction,
        image: discord.Attachment,
        instruction: str,
        mask: discord.Attachment | None = None,
    ) -> None:
        async with adapter.intake.handle(interaction, ack="thinking") as delivery:
            where = here(interaction)
            uploads = await adapter.read_or_refuse(interaction, [image, mask] if mask else [image], delivery)
            if uploads is None:
                return
            upload, mask_upload = uploads[0], (uploads[1] if mask else None)
            open_session, created = open_session_for(interaction, where, instruction, adapter, delivery)
            reply = await bot.edit_upload(
                adapter.actor(interaction), where, upload, instruction, mask_upload, open_session=open_session
            )
            await adapter.answer(interaction, reply, thread_id=created.get("thread"), delivery=delivery)

    @tree.command(name="settings", description="Show or change default options")
    @app_commands.describe(scope="Whose defaults", changes="Options like --n 2 --ar 16:9, or reset")
    async def settings(
        interaction: discord.Interaction, scope: Scope | None = None, changes: str | None = None
    ) -> None:
        async with adapter.intake.handle(interaction, ack="ephemeral") as delivery:
            actor = adapter.actor(interaction)
            if scope and changes:
                reply = await bot.update_settings(actor, here(interaction), scope, changes)
            else:
                reply = await bot.settings_view(actor, here(interaction))
            await _private_answer(interaction, reply.text, delivery)

    @tree.command(name="show", description="Re-post an earlier image or set, with working buttons")
    @app_commands.describe(id="The image or set id (see /history)")
    async def show(interaction: discord.Interaction, id: str) -> None:
        async with adapter.intake.handle(interaction, ack="thinking") as delivery:
            reply = await bot.show(adapter.actor(interaction), here(interaction), id)
            await adapter.answer(interaction, reply, delivery=delivery)

    @tree.command(name="history", description="Recent images with their ids")
    @app_commands.describe(mine="Only mine, from everywhere")
    async def history(interaction: discord.Interaction, mine: bool = False) -> None:
        await _ephemeral(
            adapter,
            interaction,
            lambda: bot.history(adapter.actor(interaction), here(interaction), mine=mine),
        )

    @tree.command(name="queue", description="What is queued or running, and where you stand")
    async def queue(interaction: discord.Interaction) -> None:
        await _ephemeral(
            adapter, interaction, lambda: bot.queue(adapter.actor(interaction), here(interaction))
        )

    @tree.command(name="cancel", description="Cancel your job (the latest one if no id is given)")
    @app_commands.describe(job="The job id")
    async def cancel(interaction: discord.Interaction, job: str | None = None) -> None:
        await _ephemeral(
            adapter, interaction, lambda: bot.cancel(adapter.actor(interaction), here(interaction), job)
        )

    @tree.command(name="usage", description="Your images and estimated spend (admins: the team's)")
    async def usage(interaction: discord.Interaction) -> None:
        await _ephemeral(
            adapter, interaction, lambda: bot.usage(adapter.actor(interaction), here(interaction))
        )

    @tree.command(name="help", description="How to use imagebot, with prompt tips")
    async def help_command(interaction: discord.Interaction) -> None:
        async with adapter.intake.handle(interaction) as delivery:
            if not delivery.replay:  # a direct answer can only be given at once
                await interaction.response.send_message(bot.help().text[:2000], ephemeral=True)

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
            async with adapter.intake.handle(interaction) as delivery:
                if not delivery.replay:
                    await interaction.response.send_message(
                        "That message has no image to vary.", ephemeral=True
                    )
            return
        async with adapter.intake.handle(interaction, ack="thinking") as delivery:
            where = here(interaction)
            uploads = await adapter.read_or_refuse(interaction, images[:1], delivery)
            if uploads is None:
                return
            (upload,) = uploads
            title = f"Variations of {upload.filename}"
            open_session, created = open_session_for(interaction, where, title, adapter, delivery)
            reply = await bot.vary_upload(
                adapter.actor(interaction), where, upload, open_session=open_session
            )
            await adapter.answer(interaction, reply, thread_id=created.get("thread"), delivery=delivery)


def _images_of(message: discord.Message) -> list[discord.Attachment]:
    return [a for a in message.attachments if (a.content_type or "").startswith("image/")]


def thread_name(title: str) -> str:
    """A session thread's name: what was asked, without its --flags, as one clean line within
    Discord's limit (the name is shown in the channel list and thread header)."""
    try:
        prompt, _ = split_flags(title)
    except BotError:
        prompt = title  # the core refuses such flags before any thread is opened
    return display_text(prompt, THREAD_NAME_LIMIT) or FALLBACK_THREAD_NAME


def open_session_for(
    interaction: discord.Interaction,
    where: SessionKey,
    title: str,
    adapter: DiscordAdapter | None = None,
    delivery: Delivery | None = None,
):
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


async def _ephemeral(adapter: DiscordAdapter, interaction: discord.Interaction, pending) -> None:
    async with adapter.intake.handle(interaction, ack="ephemeral") as delivery:
        reply = await pending()
        await _private_answer(interaction, reply.text, delivery)


async def _private_answer(interaction: discord.Interaction, text: str, delivery: Delivery) -> None:
    """Edit a private deferred answer; after a restart its token may be gone (nothing to do then)."""
    try:
        await interaction.edit_original_response(content=text[:2000])
    except discord.HTTPException as error:
        if not delivery.replay:
            raise
        log.info("discord: a private answer could not be given after a restart (%s)", error.status)
