"""Status messages kept current at about one update per second per channel."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

from adapters.slack.errors import slack_error
from adapters.slack.tasks import TaskSet
from bot.answers import Button

log = logging.getLogger(f"imagebot.{__name__}")


def bounded(mapping: dict[Any, Any], limit: int = 5000) -> None:
    if len(mapping) > limit:
        for key in list(mapping)[: limit // 2]:
            del mapping[key]


@dataclass
class _Pending:
    text: str
    buttons: tuple[Button, ...]


class StatusBoard:
    """Status-message updates, at most about one per `interval` per channel.

    A non-final update that comes too soon waits as the message's pending state (a newer one
    replaces it) and a timer sends it when the channel's window opens; a final update (done,
    failed, cancelled) goes at once and drops whatever was pending for that message.
    """

    def __init__(
        self,
        send: Callable[[str, str, str, Sequence[Button]], Awaitable[None]],
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send_fn = send
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._pending: dict[str, dict[str, _Pending]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._final: dict[tuple[str, str], None] = {}  # an ordered set of finished messages
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._tasks = TaskSet()
        self._closing = False

    async def update(
        self, channel: str, ts: str, text: str, buttons: Sequence[Button] = (), *, final: bool = False
    ) -> None:
        key = (channel, ts)
        payload = _Pending(text, tuple(buttons))
        if final:
            self._final[key] = None
            bounded(self._final)
            self._pending.get(channel, {}).pop(ts, None)
            await self._send(key, payload, final=True)
            return
        if key in self._final:
            return
        pending = self._pending.setdefault(channel, {})
        wait = self._last.get(channel, float("-inf")) + self.interval - self._clock()
        if wait <= 0 and not pending and channel not in self._timers:
            await self._send(key, payload, final=False)
            return
        pending[ts] = payload
        self._arm(channel, max(wait, 0.0))

    def _arm(self, channel: str, delay: float) -> None:
        if channel in self._timers or self._closing:
            return
        loop = asyncio.get_running_loop()
        self._timers[channel] = loop.call_later(delay, self._fire, channel)

    def _fire(self, channel: str) -> None:
        self._timers.pop(channel, None)
        if not self._closing:
            self._tasks.spawn(self._flush(channel), name=f"slack-status-{channel}")

    async def _flush(self, channel: str) -> None:
        pending = self._pending.get(channel)
        if not pending:
            return
        ts = next(iter(pending))
        payload = pending.pop(ts)
        await self._send((channel, ts), payload, final=False)
        if pending:
            self._arm(channel, self.interval)

    async def _send(self, key: tuple[str, str], payload: _Pending, *, final: bool) -> None:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if not final and key in self._final:
                return  # a final state was shown meanwhile; never go back from it
            self._last[key[0]] = self._clock()
            try:
                await self._send_fn(key[0], key[1], payload.text, payload.buttons)
            except SlackApiError as error:
                log.warning("status update in %s failed: %s", key[0], slack_error(error))
        if final:
            self._locks.pop(key, None)

    async def close(self) -> None:
        """Drop pending updates and wait for the ones being sent (final updates still work)."""
        self._closing = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._pending.clear()
        await self._tasks.drain(5.0)
