"""Durable intake on Discord: every request is stored before it is acknowledged.

discord.py turns a raw gateway event into objects and hands them to the command tree, the
buttons and the forms in tasks of its own. The raw events our handlers answer
(INTERACTION_CREATE for commands, buttons and forms; MESSAGE_CREATE in threads) are taken
first: stored with the core's `IntakeDesk` (short, ≤ 1 s), then given to discord.py inside
`desk.handling(key)`, so the tasks it starts carry the request's key (their jobs carry it too)
and the `Delivery` below. A handler acknowledges (defers) at once, handles, and the request is
finished when the handler ends. A redelivery is dropped; a request that could not be stored in
time is answered "busy" instead of being deferred.

On start-up, requests stored but never finished are fed through the same parsers again from
their stored payloads. The handler sees `delivery.replay`: the interaction was acknowledged
already (its token is still used while it lives), and `delivery.notes` has what was done on the
way (the session thread, the status message), which is reused instead of made twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

import discord
from discord.enums import InteractionResponseType

from adapters.discord.components import BUTTON_TEMPLATE, MODAL_PREFIX
from adapters.discord.presenter import PLATFORM
from bot.intake import BUSY_TEXT, GAVE_UP_TEXT, Admission, IntakeDesk

log = logging.getLogger(f"imagebot.{__name__}")

_BUTTON = re.compile(BUTTON_TEMPLATE)
STOP_GRACE = 5.0  # seconds a graceful stop waits for requests being handled before releasing them
CLAIM_WAIT = 5.0  # seconds a replayed request may take to reach its handler

Ack = Literal["thinking", "ephemeral", "silent"]


def interaction_key(interaction_id: int | str) -> str:
    return f"discord:interaction:{interaction_id}"


def message_key(message_id: int | str) -> str:
    return f"discord:message:{message_id}"


@dataclass(eq=False)
class Delivery:
    """One stored request being handled (in this process)."""

    key: str
    kind: str
    notes: dict[str, Any]
    replay: bool = False
    claimed: bool = False  # a handler took it
    ended: asyncio.Event = field(default_factory=asyncio.Event)


current_delivery: ContextVar[Delivery | None] = ContextVar("imagebot_discord_delivery", default=None)


def interaction_kind(data: dict[str, Any]) -> str | None:
    """What a raw interaction is, if it is one our handlers answer (else it is not stored)."""
    itype = data.get("type")
    inner = data.get("data") or {}
    if itype == 2:  # Discord only sends an application its own commands
        return f"command:{inner.get('name', '')}"
    if itype == 3 and _BUTTON.fullmatch(str(inner.get("custom_id", ""))):
        return "click"
    if itype == 5 and str(inner.get("custom_id", "")).startswith(MODAL_PREFIX):
        return "form"
    return None


class DiscordIntake:
    """Stores, dispatches, finishes and replays Discord requests (see the module doc)."""

    def __init__(self, desk: IntakeDesk) -> None:
        self.desk = desk
        self.stopping = False
        self.stop_grace = STOP_GRACE
        self.client: discord.Client | None = None
        self._originals: dict[str, Callable[[dict[str, Any]], None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._active: dict[str, Delivery] = {}

    # --- taking events --------------------------------------------------------------------------
    def install(self, client: discord.Client) -> None:
        """Put the intake in front of a client's INTERACTION_CREATE and MESSAGE_CREATE parsers
        (the gateway looks parsers up in this same dict)."""
        self.client = client
        parsers = client._connection.parsers
        for event, taker in (
            ("INTERACTION_CREATE", self._take_interaction),
            ("MESSAGE_CREATE", self._take_message),
        ):
            self._originals[event] = parsers[event]
            parsers[event] = taker

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _take_interaction(self, data: dict[str, Any]) -> None:
        kind = interaction_kind(data)
        if kind is None:
            self._originals["INTERACTION_CREATE"](data)  # autocomplete, pings: nothing to store
            return
        self._spawn(self._admit("INTERACTION_CREATE", interaction_key(data["id"]), kind, data))

    def _take_message(self, data: dict[str, Any]) -> None:
        if not self._may_be_ours(data):
            self._originals["MESSAGE_CREATE"](data)  # chatter, the bot's own posts: not stored
            return
        self._spawn(self._admit("MESSAGE_CREATE", message_key(data["id"]), "thread-reply", data))

    def _may_be_ours(self, data: dict[str, Any]) -> bool:
        """A person's message in a thread the client knows (where sessions live)."""
        if (data.get("author") or {}).get("bot") or data.get("webhook_id") or self.client is None:
            return False
        guild_id = data.get("guild_id")
        guild = self.client.get_guild(int(guild_id)) if guild_id else None
        return guild is not None and guild.get_thread(int(data["channel_id"])) is not None

    async def _admit(self, event: str, key: str, kind: str, data: dict[str, Any]) -> None:
        if self.stopping:
            await self._busy(event, data)
            return
        ticket = await self.desk.receive(PLATFORM, key, kind, data)
        if ticket.admission is Admission.DUPLICATE:
            log.info("discord: a request delivered again was dropped (%s)", kind)
            return
        if ticket.admission is Admission.BUSY:
            await self._busy(event, data)
            return
        self._dispatch(event, data, Delivery(key, kind, dict(ticket.notes)))

    def _dispatch(self, event: str, data: dict[str, Any], delivery: Delivery) -> None:
        """Hand the raw event to discord.py; the tasks it starts inherit the delivery and key."""
        self._active[delivery.key] = delivery
        token = current_delivery.set(delivery)
        try:
            with self.desk.handling(delivery.key):
                self._originals[event](data)
        finally:
            current_delivery.reset(token)

    async def _busy(self, event: str, data: dict[str, Any]) -> None:
        """Say "busy" instead of acknowledging a request that could not be stored."""
        if self.client is None:
            raise RuntimeError("the Discord intake answers busy before it was installed on a client")
        try:
            if event == "INTERACTION_CREATE":
                interaction = discord.Interaction(data=data, state=self.client._connection)  # type: ignore[arg-type]  # raw gateway dict, not discord.py's TypedDict
                await interaction.response.send_message(BUSY_TEXT, ephemeral=True)
            else:
                channel = self.client.get_partial_messageable(int(data["channel_id"]))
                await channel.send(BUSY_TEXT)
        except discord.HTTPException as error:
            log.warning("discord: could not answer busy (%s)", error.status)

    # --- handling -------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def handle(
        self, interaction: discord.Interaction | None = None, *, ack: Ack | None = None
    ) -> AsyncIterator[Delivery]:
        """Around a handler: acknowledge (`ack`; skipped on a replay, it was acknowledged before),
        handle, and finish the request when the handler ends."""
        delivery = current_delivery.get()
        if delivery is None or delivery.claimed:  # not stored here (or already taken)
            delivery = Delivery("", "untracked", {})
        delivery.claimed = True
        try:
            if interaction is not None and ack is not None:
                await self.acknowledge(interaction, ack, delivery)
            yield delivery
        except asyncio.CancelledError:
            self._release(delivery)
            raise
        except BaseException:
            if not delivery.ended.is_set():
                await self._end(delivery, failed=True)
            raise
        else:
            if not delivery.ended.is_set():
                await self._end(delivery)

    async def acknowledge(self, interaction: discord.Interaction, ack: Ack, delivery: Delivery) -> None:
        if delivery.replay:
            # Acknowledged by the run that stored it: continue as discord.py would after a defer.
            deferred = InteractionResponseType.deferred_message_update
            if ack != "silent" or interaction.type is discord.InteractionType.application_command:
                deferred = InteractionResponseType.deferred_channel_message
            interaction.response._response_type = deferred
            return
        await interaction.response.defer(ephemeral=ack == "ephemeral", thinking=ack != "silent")

    async def note(self, delivery: Delivery, name: str, value: Any) -> None:
        """Remember a fact for a replay (the thread made, the status message posted)."""
        delivery.notes[name] = value
        if delivery.key:
            await self.desk.note(delivery.key, name, value)

    async def _end(self, delivery: Delivery, *, failed: bool = False) -> None:
        """Finish a handled request. One whose handler failed while stopping (its client was
        closed under it) is released instead: the next start handles it again."""
        delivery.ended.set()
        if not delivery.key:
            return
        self._active.pop(delivery.key, None)
        if failed and self.stopping:
            self.desk.release(delivery.key)
            return
        try:
            await self.desk.finish(delivery.key)
        except Exception as exc:  # noqa: BLE001 - the row stays unfinished: a replay finds the same job
            log.warning("discord: could not mark a request handled (%s)", exc)

    def _release(self, delivery: Delivery) -> None:
        delivery.ended.set()
        if delivery.key:
            self._active.pop(delivery.key, None)
            self.desk.release(delivery.key)

    # --- start-up and stop ----------------------------------------------------------------------
    async def replay(self) -> int:
        """Handle again what a previous run stored but never finished; tell the senders of
        requests given up on. Returns once every replayed request was handled (or timed out)."""
        again, given_up = await self.desk.replayable(PLATFORM)
        for row in given_up:
            await self._gave_up(row.kind, row.payload)
        deliveries = []
        for row in again:
            event = "MESSAGE_CREATE" if row.kind == "thread-reply" else "INTERACTION_CREATE"
            log.info("discord: handling again a request the last run did not finish (%s)", row.kind)
            delivery = Delivery(row.key, row.kind, dict(row.notes), replay=True)
            deliveries.append(delivery)
            try:
                self._dispatch(event, row.payload, delivery)
            except Exception:
                log.exception("discord: a stored request could not be read again (%s)", row.kind)
                await self._end(delivery)
        if deliveries:
            await self._await_ends(deliveries, timeout=CLAIM_WAIT)
            for delivery in deliveries:
                if not delivery.claimed and not delivery.ended.is_set():
                    await self._end(delivery)  # no handler takes it (e.g. a message no longer ours)
            await self._await_ends(deliveries, timeout=60.0)
        return len(deliveries)

    async def _gave_up(self, kind: str, payload: dict[str, Any]) -> None:
        """A request that kept failing: its sender is told to send it again."""
        if self.client is None:
            raise RuntimeError("the Discord intake gives up on a request before it was installed on a client")
        try:
            channel = self.client.get_partial_messageable(int(payload["channel_id"]))
            await channel.send(GAVE_UP_TEXT)
        except (discord.HTTPException, KeyError, ValueError) as error:
            log.warning("discord: could not say a request was given up on (%s)", error)

    @staticmethod
    async def _await_ends(deliveries: list[Delivery], timeout: float) -> None:
        waits = [asyncio.ensure_future(d.ended.wait()) for d in deliveries if not d.ended.is_set()]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=timeout)
            for waiter in pending:
                waiter.cancel()

    async def stop(self) -> None:
        """Take no more requests (they are answered busy), give the ones being handled
        `stop_grace` seconds, and release the rest: their rows stay for the next start."""
        self.stopping = True
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._await_ends(list(self._active.values()), timeout=self.stop_grace)
        for delivery in list(self._active.values()):
            self._release(delivery)
