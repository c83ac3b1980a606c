"""Slack Web API calls for what the bot says: posts, updates, ephemerals and uploads.

Transient refusals (429, 5xx, a broken connection, a failed upload URL) surface as `NotPosted`
after the client's own retries, so a caller can keep the post owed instead of losing it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.blocks import MAX_MESSAGE_TEXT, message_blocks, mrkdwn, one_line
from adapters.slack.errors import slack_error
from bot import outbound
from bot.answers import Button, Images

log = logging.getLogger(f"imagebot.{__name__}")

# Slack's documented per-file maximum; larger results are re-encoded to fit (imaging.fit_under).
DEFAULT_MAX_UPLOAD_BYTES = 1024 * 1024 * 1024


class NotPosted(Exception):
    """Slack did not take a post for now (rate limited, a server error, a broken connection, or
    an upload URL that failed) even after the client's retries: try again later."""


def transient(error: Exception) -> bool:
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 200)
        return status == 429 or status >= 500 or slack_error(error) in ("ratelimited", "internal_error")
    # SlackRequestError: the upload URL answered other than 200 (files_upload_v2's step 2).
    return isinstance(error, SlackRequestError | aiohttp.ClientError | TimeoutError)


def note_line(note: str) -> str:
    return f"_{mrkdwn(note)}_"  # a note under a result, in italics


def job_metadata(event_type: str, job_id: str) -> dict[str, Any]:
    return {"event_type": event_type, "event_payload": {"job_id": job_id}}


class Poster:
    """Core replies as Slack messages. Text arguments are already mrkdwn."""

    def __init__(self, client: AsyncWebClient, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> None:
        self.client = client
        self.limits = outbound.Limits(upload_bytes=max_upload_bytes, text=MAX_MESSAGE_TEXT)

    async def post(
        self,
        channel: str,
        thread_ts: str | None,
        text: str,
        buttons: Sequence[Button] = (),
        *,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """chat.postMessage (into the thread when thread_ts is given); returns the ts.
        Raises SlackApiError; the client has already retried 429s and 5xx."""
        kwargs: dict[str, Any] = {"channel": channel, "text": outbound.trim(text, MAX_MESSAGE_TEXT)}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if metadata:
            kwargs["metadata"] = metadata
        if buttons:
            kwargs["blocks"] = message_blocks(text, buttons)
        response = await self.client.chat_postMessage(**kwargs)
        return str(response["ts"])

    async def try_post(
        self, channel: str, thread_ts: str | None, text: str, buttons: Sequence[Button] = ()
    ) -> str | None:
        try:
            return await self.post(channel, thread_ts, text, buttons)
        except SlackApiError as error:
            log.warning("chat.postMessage to %s failed: %s", channel, slack_error(error))
            return None

    async def update(self, channel: str, ts: str, text: str, buttons: Sequence[Button] = ()) -> None:
        await self.client.chat_update(
            channel=channel,
            ts=ts,
            text=outbound.trim(text, MAX_MESSAGE_TEXT),
            blocks=message_blocks(text, buttons),
        )

    async def delete(self, channel: str, ts: str) -> None:
        try:
            await self.client.chat_delete(channel=channel, ts=ts)
        except SlackApiError as error:
            log.warning("chat.delete in %s failed: %s", channel, slack_error(error))

    async def ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        response_url: str | None = None,
    ) -> None:
        """A message only `user` sees; through response_url when the bot cannot post here
        (e.g. a channel it was not invited to)."""
        text = outbound.trim(text, MAX_MESSAGE_TEXT)
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        try:
            await self.client.chat_postEphemeral(**kwargs)
            return
        except SlackApiError as error:
            reason = slack_error(error)
            if not response_url:
                log.warning("chat.postEphemeral in %s failed: %s", channel, reason)
                return
        response = await AsyncWebhookClient(response_url).send(text=text, response_type="ephemeral")
        if response.status_code != 200:
            log.warning("ephemeral reply failed (%s, then response_url %s)", reason, response.status_code)

    async def owed_post(
        self,
        channel: str,
        thread_ts: str | None,
        text: str,
        buttons: Sequence[Button] = (),
        *,
        metadata: dict[str, Any] | None = None,
    ) -> str | None:
        """post(), but NotPosted when Slack did not take it for now (try again later) and None
        when it refused it for good (a channel the bot left, …)."""
        try:
            return await self.post(channel, thread_ts, text, buttons, metadata=metadata)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            if transient(error):
                raise NotPosted(describe_error(error)) from None
            log.warning("chat.postMessage to %s failed: %s", channel, describe_error(error))
            return None

    async def images(
        self,
        reply: Images,
        channel: str,
        thread_ts: str,
        *,
        metadata: dict[str, Any] | None = None,
        uploaded: Callable[[], Awaitable[None]] | None = None,
        skip_upload: bool = False,
    ) -> str | None:
        """Upload a reply's images into the thread (the grid for a set, else the images), then
        post its buttons as a separate message carrying `metadata`; returns that message's ts.

        NotPosted when Slack did not take the upload or the message for now: nothing is to be
        recorded as delivered. `uploaded` is awaited once the files are in (so a retry skips to
        the message: `skip_upload`)."""
        plan = await outbound.plan_message(
            mrkdwn(reply.text),
            limits=self.limits,
            grid=reply.grid,
            images=reply.images,
            notes=reply.notes,
            note=note_line,
            with_files=not skip_upload,
        )
        alt = one_line(reply.caption.prompt, 1000)
        uploads = [
            {"file": upload.data, "filename": upload.filename, "title": upload.filename, "alt_txt": alt}
            for upload in plan.files
        ]
        comment = plan.text
        if skip_upload:
            pass
        elif uploads:
            try:
                await self.client.files_upload_v2(
                    channel=channel, thread_ts=thread_ts, file_uploads=uploads, initial_comment=comment
                )
            except (SlackApiError, SlackRequestError, aiohttp.ClientError, TimeoutError) as error:
                if transient(error):
                    log.warning(
                        "files_upload_v2 to %s did not go through: %s", channel, describe_error(error)
                    )
                    raise NotPosted(describe_error(error)) from None
                log.warning("files_upload_v2 to %s failed: %s", channel, describe_error(error))
                await self.owed_post(
                    channel, thread_ts, f"{comment}\n⚠️ Slack refused the upload ({describe_error(error)})."
                )
        else:
            await self.owed_post(channel, thread_ts, comment, metadata=None if reply.buttons else metadata)
        if uploaded is not None and not skip_upload:
            await uploaded()
        if not reply.buttons:
            return None
        target = f" for `{reply.caption.short_id}`"
        return await self.owed_post(
            channel, thread_ts, f"What next{target}?", reply.buttons, metadata=metadata
        )


def describe_error(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return slack_error(error)
    return type(error).__name__  # the message of an upload failure holds its URL: not logged
