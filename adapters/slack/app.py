"""The Slack adapter: a slack-bolt AsyncApp wired to the core, in Socket Mode or over HTTP.

adapter = SlackAdapter(bot, settings)      # registers the "slack" presenter
await bot.start()
await adapter.start_socket_mode()          # or: await adapter.start_http(port)
...
await adapter.stop()                       # then stop the bot and close the store
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.doctor import HTTP_MODE_NEEDS, SOCKET_MODE_NEEDS, slack_uses_http
from adapters.slack.deliveries import REPLAY
from adapters.slack.files import FileFetcher
from adapters.slack.handlers import SlackHandlers
from adapters.slack.http import Refused, check_signature, parse_body
from adapters.slack.poster import DEFAULT_MAX_UPLOAD_BYTES, Poster
from adapters.slack.presenter import OWED_NOTICE_SECONDS, RETRY_FIRST_SECONDS, SlackPresenter
from adapters.slack.status_board import StatusBoard
from adapters.slack.tasks import TaskSet
from adapters.slack.users import PLATFORM, UserLookup, Users, users_info_lookup
from bot.config import Settings
from bot.service import ImageBot

log = logging.getLogger(f"imagebot.{__name__}")

EVENTS_PATH = "/slack/events"  # Bolt's default: events, commands and interactivity on one path
ACCEPT_BACKLOG = 1024  # connections waiting to be accepted (the kernel caps it at somaxconn)


API_RETRIES = 3  # per call, by slack-sdk; an owed result is then retried by the presenter


def _retry_handlers(retries: int = API_RETRIES) -> list[AsyncRetryHandler]:
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=min(retries, 2)),
        AsyncRateLimitErrorRetryHandler(max_retry_count=retries),
        AsyncServerErrorRetryHandler(max_retry_count=retries),
    ]


def configure_client(
    client: AsyncWebClient, api_url: str | None = None, *, retries: int = API_RETRIES
) -> AsyncWebClient:
    """Point `client` at SLACK_API_URL (when set) and make it retry connection errors, 429s
    (after Retry-After) and 5xx; returns it."""
    client.base_url = api_url or AsyncWebClient.BASE_URL
    client.retry_handlers = _retry_handlers(retries)
    return client


def build_client(token: str, api_url: str | None = None) -> AsyncWebClient:
    """A Web API client that retries connection errors, 429s (after Retry-After) and 5xx."""
    return configure_client(AsyncWebClient(token=token), api_url)


class SlackAdapter:
    def __init__(
        self,
        bot: ImageBot,
        settings: Settings,
        *,
        client: AsyncWebClient | None = None,
        user_lookup: UserLookup | None = None,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        status_interval: float = 1.0,
        api_retries: int = API_RETRIES,
        owed_notice: float = OWED_NOTICE_SECONDS,
        retry_first: float = RETRY_FIRST_SECONDS,
    ) -> None:
        """Build the Bolt app and register the presenter (before `bot.start()`, so jobs resumed
        from a previous run report to Slack too)."""
        self.bot = bot
        self.settings = settings
        # Empty in Socket Mode, where Bolt skips signature checks; start_http() requires it.
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
        if client is None:
            if settings.slack_bot_token is None:
                raise ValueError("SLACK_BOT_TOKEN is not set (the Bot User OAuth Token, xoxb-…)")
            # Bolt gets the token only and builds the client, which is then pointed and tuned.
            # Given a client, Bolt also reads SLACK_BOT_TOKEN from the environment and warns on
            # every start that it is unused.
            self.app = AsyncApp(
                name="imagebot", token=settings.slack_bot_token.get_secret_value(), signing_secret=secret
            )
            client = configure_client(self.app.client, settings.slack_api_url, retries=api_retries)
        else:
            self.app = AsyncApp(name="imagebot", client=client, signing_secret=secret)
        self.client = client
        self.tasks = TaskSet()
        self.poster = Poster(client, max_upload_bytes=max_upload_bytes)
        self.board = StatusBoard(self.poster.update, interval=status_interval)
        self.presenter = SlackPresenter(
            self.poster, self.board, bot.deliveries, owed_notice=owed_notice, retry_first=retry_first
        )
        self.users = Users(user_lookup or users_info_lookup(client))
        self.fetcher = FileFetcher(client, api_url=settings.slack_api_url)
        self._accepting = True
        self.handlers = SlackHandlers(
            bot,
            self.app,
            poster=self.poster,
            presenter=self.presenter,
            users=self.users,
            fetcher=self.fetcher,
            tasks=self.tasks,
            accepting=lambda: self._accepting,
        )
        self.handlers.register()
        bot.register_presenter(PLATFORM, self.presenter)
        self._closed = asyncio.Event()
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None

    async def _catch_up(self) -> None:
        """At start: post results a previous run left unposted, and handle again the requests it
        stored (and acknowledged) but did not finish. (The core forgets week-old requests.)"""
        for job, reply in await self.bot.undelivered(PLATFORM):
            log.info("job %s [slack]: delivering a result the last run did not post", job.id)
            await self.presenter.deliver_missed(job, reply)
        for job, reply in await self.bot.unfinalised(PLATFORM):
            log.info("job %s [slack]: ending a status message the last run left open", job.id)
            await self.presenter.finish_status(job, reply)
        await self.replay()

    async def replay(self) -> None:
        """Dispatch each stored, unfinished request into the app again, as if Slack had sent it
        (its acks go nowhere); tell the senders of requests given up on after three tries."""
        again, given_up = await self.bot.intake.replayable(PLATFORM)
        for row in given_up:
            try:
                await self.handlers.gave_up(row)
            except Exception:
                log.exception("slack: could not tell the sender of a request given up on")
        for row in again:
            log.info("slack: handling again a %s request the last run did not finish", row.kind)
            request = AsyncBoltRequest(body=row.payload, mode="socket_mode", context={REPLAY: row})
            try:
                response = await self.app.async_dispatch(request)
            except Exception:
                log.exception("slack: could not handle a stored request again")
                response = None
            if response is None or response.status != 200:
                self.bot.intake.release(row.key)  # left for the next start

    async def start_socket_mode(self) -> None:
        """Connect to Slack over Socket Mode (SLACK_APP_TOKEN); returns once connected."""
        if self.settings.slack_app_token is None:
            raise ValueError(SOCKET_MODE_NEEDS)
        await self._catch_up()
        self._socket = AsyncSocketModeHandler(
            self.app, self.settings.slack_app_token.get_secret_value(), web_client=self.client
        )
        await self._socket.connect_async()  # type: ignore[no-untyped-call]  # slack-bolt leaves it unannotated
        log.info("slack: connected in Socket Mode")

    def web_app(self) -> web.Application:
        """The aiohttp application serving POST /slack/events (and GET /healthz)."""

        secret = (
            self.settings.slack_signing_secret.get_secret_value()
            if self.settings.slack_signing_secret
            else ""
        )

        async def events(request: web.Request) -> web.Response:
            # While stopping, requests still get in: the intake answers them busy (see handlers).
            raw = await request.read()
            try:
                # Nothing reads the body before its signature is known to be Slack's.
                check_signature(secret, raw, request.headers)
                body = parse_body(raw, request.headers.get("Content-Type", ""))
            except Refused as refused:
                log.warning(
                    "slack: refused a request to %s (%d): %s", EVENTS_PATH, refused.status, refused.reason
                )
                return web.json_response({"error": "invalid request"}, status=refused.status)
            # Verified above on the raw bytes, so the parsed payload goes in as Socket Mode
            # envelopes do (Bolt skips its own check and its form parser, see parse_body).
            bolt_request = AsyncBoltRequest(
                body=body, query=request.query_string, headers=dict(request.headers), mode="socket_mode"
            )
            return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

        async def health(request: web.Request) -> web.Response:
            return web.Response(text="ok")

        application = web.Application()
        application.router.add_post(EVENTS_PATH, events)
        application.router.add_get("/healthz", health)
        return application

    async def start_http(self, port: int | None = None, host: str = "0.0.0.0") -> int:
        """Serve the Events API, slash commands and interactivity at /slack/events, with
        signature verification. Returns the port listened on (useful with port 0)."""
        if self.settings.slack_signing_secret is None:
            raise ValueError(HTTP_MODE_NEEDS)
        await self._catch_up()
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        # A deep accept queue: with aiohttp's default (128), a burst of more requests at once has
        # its extra connections dropped and retried by the sender's kernel a second later.
        port = self.settings.slack_http_port if port is None else port
        site = web.TCPSite(self._runner, host, port, backlog=ACCEPT_BACKLOG)
        await site.start()
        bound = int(self._runner.addresses[-1][1])
        log.info("slack: serving %s on %s:%s", EVENTS_PATH, host, bound)
        return bound

    async def start(self, *, http: bool | None = None, port: int | None = None) -> None:
        """Connect and run until `close()` (the shape `imagebot run` drives every adapter in).

        `http=None` picks Socket Mode when SLACK_APP_TOKEN is set, else HTTP when
        SLACK_SIGNING_SECRET is; ValueError (with what to set) when neither is.
        """
        if slack_uses_http(self.settings, http):
            await self.start_http(port)
        else:
            await self.start_socket_mode()
        await self._closed.wait()

    async def close(self) -> None:
        await self.stop()

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until the work started by deliveries so far is finished (tests, graceful stop)."""
        await self.tasks.wait_idle(timeout)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking deliveries, let started work finish (up to `grace` s), stop status timers.

        The presenter keeps working, so jobs that finish while the bot stops still post results;
        call this before `bot.stop()`.
        """
        self._accepting = False
        self._closed.set()
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]  # slack-bolt leaves it unannotated
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.tasks.drain(grace)
        await self.presenter.close()
        await self.board.close()
