"""The Discord adapter: a discord.py client whose events become core requests.

Every interaction is acknowledged at once (defer, or a form for Edit…), then the core decides.
A session is a thread: the first /imagine in a channel creates a thread from its own response
message (Discord gives that thread the message's id), and everything later happens in it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any

import discord
import yarl
from discord import app_commands

from adapters.discord.commands import open_session_for, register_commands, submit_form
from adapters.discord.components import MODAL_PREFIX, ImagebotButton, edit_form, submitted_values
from adapters.discord.files import AttachmentReader
from adapters.discord.intake import Delivery, DiscordIntake
from adapters.discord.places import where_of
from adapters.discord.presenter import PLATFORM, DiscordPresenter, StatusTarget
from adapters.discord.senders import Answering, OutcomeSenders, answering
from bot.answers import Problem, Queued
from bot.buttons import ButtonId
from bot.config import Settings
from bot.domain import Attachment, Job, SessionKey, UserRef
from bot.errors import BotError, ErrorKind
from bot.replies import error_reply
from bot.service import ImageBot

log = logging.getLogger(f"imagebot.{__name__}")

THREAD_TYPES = (discord.ChannelType.public_thread, discord.ChannelType.private_thread)
_MENTION = re.compile(r"<@!?(\d+)>")


def user_ref(user: discord.abc.User, permissions: discord.Permissions | None = None) -> UserRef:
    """Admins are whoever Discord lets manage the server."""
    admin = bool(permissions and (permissions.administrator or permissions.manage_guild))
    return UserRef(PLATFORM, str(user.id), user.display_name, is_admin=admin)


class ImagebotClient(discord.Client):
    def __init__(self, adapter: DiscordAdapter, *, intents: discord.Intents, **options: Any) -> None:
        super().__init__(intents=intents, **options)
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        settings = self.adapter.settings
        if settings.discord_api_base_url:
            # A plain Client dials the hard-coded gateway; ask this API which one to use.
            _, url, _ = await self.http.get_bot_gateway()
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        self.add_dynamic_items(ImagebotButton)
        register_commands(self.tree, self.adapter)
        if settings.discord_guild_ids:
            for guild_id in settings.discord_guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()
        log.info("discord: commands synced (%s)", settings.discord_guild_ids or "global")

    async def on_ready(self) -> None:
        log.info("discord: connected as %s", self.user)
        await self.adapter.on_connected()

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is discord.InteractionType.modal_submit:
            data: Mapping[str, Any] = interaction.data or {}
            custom_id = data.get("custom_id", "")
            if isinstance(custom_id, str) and custom_id.startswith(MODAL_PREFIX):
                await self.adapter.on_form(interaction, custom_id)


class DiscordAdapter(OutcomeSenders):
    def __init__(
        self, bot: ImageBot, settings: Settings, *, client_options: dict[str, Any] | None = None
    ) -> None:
        self.bot = bot
        self.settings = settings
        self.client_options = client_options or {}
        self.ready = asyncio.Event()  # set once connected (tests and `imagebot run` wait on it)
        self.message_content = settings.discord_message_content
        self.files = AttachmentReader()
        self.intake = DiscordIntake(bot.intake)
        self.client = self._new_client()
        self.presenter = DiscordPresenter(
            self.client,
            record_post=bot.deliveries.record,
            restore=self.restore_target,
            announce=self.announce_queued,
        )
        bot.register_presenter(PLATFORM, self.presenter)
        self._tasks: set[asyncio.Task[None]] = set()

    def _new_client(self) -> ImagebotClient:
        intents = discord.Intents.default()
        intents.message_content = self.message_content
        # Prompts, instructions and file names are echoed everywhere (captions, thread posts,
        # errors): nothing in a message may ping unless a call names whom, by id.
        options = {**self.client_options, "allowed_mentions": discord.AllowedMentions.none()}
        client = ImagebotClient(self, intents=intents, **options)
        self.intake.install(client)
        return client

    # --- life cycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Log in and run until closed; falls back to mentions-only if the intent is refused."""
        if self.settings.discord_api_base_url:
            discord.http.Route.BASE = self.settings.discord_api_base_url.rstrip("/")
        if self.settings.discord_token is None:
            raise RuntimeError("the Discord adapter started without DISCORD_TOKEN (the CLI checks it first)")
        token = self.settings.discord_token.get_secret_value()
        try:
            await self.client.start(token)
        except discord.PrivilegedIntentsRequired:
            log.error(
                "discord: the gateway refused the Message Content intent. Plain thread replies need it: "
                "Developer Portal → your application → Bot → Privileged Gateway Intents → enable "
                "'MESSAGE CONTENT INTENT' (or set DISCORD_MESSAGE_CONTENT=false). Running on mentions "
                "and reply-pings only for now."
            )
            await self.client.close()
            self.message_content = False
            self.client = self._new_client()
            self.presenter.client = self.client
            await self.client.start(token)

    async def close(self) -> None:
        """Stop taking requests (answered busy from now on), let those being handled end or
        leave them for the next start, then close the client."""
        await self.intake.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.presenter.close()
        # discord.py waits up to `guild_ready_timeout` after READY before it dispatches `ready`,
        # and its close() leaves that task running: closed meanwhile (a SIGTERM just after
        # connecting), the task ends on a client with no loop and prints a traceback.
        ready = self.client._connection._ready_task  # noqa: SLF001 - no public handle on it
        if ready is not None:
            ready.cancel()
        await self.client.close()

    async def on_connected(self) -> None:
        """Once per process: handle again the requests a previous run stored but did not
        finish, then deliver results it stored but never posted (over their status messages)."""
        self.presenter.connected.set()
        if not self.ready.is_set():
            try:
                await self.intake.replay()
            except Exception:
                log.exception("discord: replaying unfinished requests failed")
            for job, reply in await self.bot.undelivered(PLATFORM):
                log.info("job %s [discord]: delivering a result the last run did not post", job.id)
                try:
                    target = self.presenter.targets.pop(job.id, None) or await self.restore_target(job)
                    # Posted before a kill but not recorded? Found in the thread, recorded, not
                    # posted again. Not postable now? Retried in the background, never recorded.
                    await self.presenter.deliver(job.id, reply, target, catch_up=True)
                except Exception:
                    log.exception("job %s [discord]: delivering its outcome failed", job.id)
        self.ready.set()

    async def restore_target(self, job: Job) -> StatusTarget:
        """Where a job's status message is, when this process did not make it (a restart): read
        back from the request's notes, with the interaction rebuilt from its stored payload so
        its token can still edit the response while it lives."""
        target = StatusTarget(thread_id=int(job.where.thread))
        row = await self.bot.deliveries.request(job)
        if row is None:
            return target
        status = row.notes.get("status") or {}
        if status.get("channel") and status.get("message"):
            target.channel_id, target.message_id = int(status["channel"]), int(status["message"])
        if status.get("original") and row.kind != "thread-reply":
            try:
                interaction = discord.Interaction(data=row.payload, state=self.client._connection)  # type: ignore[arg-type]  # stored gateway dict, not discord.py's TypedDict
            except Exception as exc:  # noqa: BLE001 - a payload discord.py no longer reads, whatever it raises: use the bot token
                log.info("job %s [discord]: its interaction could not be rebuilt (%s)", job.id, exc)
            else:
                interaction.response._response_type = discord.InteractionResponseType.deferred_channel_message
                target.interaction = interaction
                target.file_limit = interaction.filesize_limit
        return target

    # --- helpers --------------------------------------------------------------------------------
    def actor(self, interaction: discord.Interaction) -> UserRef:
        return user_ref(interaction.user, interaction.permissions)

    async def read_attachments(self, attachments: list[discord.Attachment]) -> list[Attachment]:
        """Their bytes; BotError (for the person) if one is not an image or is too big."""
        return await self.files.read_all(attachments)

    async def read_or_refuse(
        self,
        interaction: discord.Interaction,
        attachments: list[discord.Attachment],
        delivery: Delivery | None = None,
    ) -> list[Attachment] | None:
        """For a deferred command: the attachments' bytes, or None once the person has been told
        (privately) why they cannot be used."""
        try:
            return await self.read_attachments(attachments)
        except BotError as error:
            await self.answer(interaction, error_reply(error), delivery=delivery)
            return None

    # --- buttons and forms ----------------------------------------------------------------------
    async def on_click(self, interaction: discord.Interaction, custom_id: str) -> None:
        try:
            button = ButtonId.decode(custom_id)
        except BotError as error:  # one of ours in shape, but not a button this version knows
            async with self.intake.handle(interaction, ack="silent") as delivery:
                await self._private(interaction, error.message, delivery)
            return
        where = self._where_of_click(interaction)
        if button.verb.opens_form:
            async with self.intake.handle(interaction) as delivery:
                if delivery.replay:
                    return  # a form can only be the first response, long gone after a restart
                # A form must be the first response; the image id travels in its custom_id.
                form = edit_form(f"{MODAL_PREFIX}edit:{button.target}")
                await interaction.response.send_modal(form)
            return
        async with self.intake.handle(interaction, ack="silent") as delivery:
            asked = Answering(delivery, thread_id=int(where.thread), file_limit=interaction.filesize_limit)
            with answering(asked):
                reply = await self.bot.press(self.actor(interaction), where, button)
            await self.after_click(interaction, where, reply, delivery)

    def _where_of_click(self, interaction: discord.Interaction) -> SessionKey:
        """A click in a thread belongs to it; one on a thread's starter message (whose id is the
        thread's) too; elsewhere the channel is the session."""
        message = interaction.message
        starter = message.id if message is not None and message.flags.has_thread else None
        return where_of(interaction.channel, interaction.guild_id, thread_hint=starter)

    async def on_form(self, interaction: discord.Interaction, custom_id: str) -> None:
        """A submitted form (works after restarts: nothing about it lives in memory)."""
        if await submit_form(self, interaction, custom_id):
            return  # a registry command's form (/build)
        instruction = submitted_values(interaction.data or {}).get("instruction", "")
        _, kind, *rest = custom_id.split(":")
        actor = self.actor(interaction)
        if kind == "edit" and rest:  # Edit… under an image: the result joins that image's thread
            async with self.intake.handle(interaction, ack="ephemeral") as delivery:
                where = self._where_of_click(interaction)
                thread = int(where.thread)
                with answering(Answering(delivery, thread_id=thread, file_limit=interaction.filesize_limit)):
                    outcome = await self.bot.edit_image(actor, where, rest[0], instruction)
                if not isinstance(outcome, Queued):
                    await self._private(interaction, outcome.text, delivery)
                    return
                if not delivery.replay:
                    await self._private(interaction, f"Working on it: job `{outcome.job.id}`.", delivery)
        elif kind == "edit-message" and len(rest) == 2:  # "Edit image" on any message: a new session
            async with self.intake.handle(interaction, ack="thinking") as delivery:
                await self._edit_message_image(
                    interaction, actor, int(rest[0]), int(rest[1]), instruction, delivery
                )

    async def _edit_message_image(
        self,
        interaction: discord.Interaction,
        actor: UserRef,
        channel_id: int,
        message_id: int,
        instruction: str,
        delivery: Delivery,
    ) -> None:
        message = await self.client.get_partial_messageable(channel_id).fetch_message(message_id)
        images = [a for a in message.attachments if (a.content_type or "").startswith("image/")]
        if not images:
            refusal = Problem(ErrorKind.INVALID_INPUT, "That message has no image to edit.")
            await self.answer(interaction, refusal, delivery=delivery)
            return
        uploads = await self.read_or_refuse(interaction, images[:1], delivery)
        if uploads is None:
            return
        (upload,) = uploads
        where = where_of(interaction.channel, interaction.guild_id)
        open_session, created = open_session_for(interaction, where, instruction, self, delivery)
        with answering(Answering(delivery, interaction=interaction, created=created)):
            reply = await self.bot.edit_upload(actor, where, upload, instruction, open_session=open_session)
        await self.answer(interaction, reply, thread_id=created.get("thread"), delivery=delivery)

    # --- thread replies -------------------------------------------------------------------------
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or not isinstance(message.channel, discord.Thread):
            return
        async with self.intake.handle() as delivery:
            await self._thread_reply(message, delivery)

    async def _thread_reply(self, message: discord.Message, delivery: Delivery) -> None:
        if not isinstance(message.channel, discord.Thread):
            raise RuntimeError("a thread reply that is not in a thread (on_message filters those)")
        client_user = self.client.user
        mentioned = client_user is not None and client_user.mentioned_in(message)
        if not self.message_content and not mentioned:
            return  # without the intent only mentions and reply-pings carry content
        where = where_of(message.channel, message.guild.id if message.guild else None)
        if await self.bot.session_state(where) is None:
            return  # not one of our threads
        text = _MENTION.sub("", message.content).strip()
        if not text and not message.attachments:
            return
        try:
            attachments = await self.read_attachments(list(message.attachments))
        except BotError as error:
            await self.post_in_thread(message.channel.id, error_reply(error, public=True), delivery=delivery)
            return
        permissions = (
            message.channel.permissions_for(message.author)
            if isinstance(message.author, discord.Member)
            else None
        )
        with answering(Answering(delivery, thread_id=message.channel.id)):
            reply = await self.bot.reply(user_ref(message.author, permissions), where, text, attachments)
        await self.post_in_thread(message.channel.id, reply, delivery=delivery)
