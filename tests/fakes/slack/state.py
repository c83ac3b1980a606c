"""The fake Slack itself: its state, lifecycle, scripting (failures, holds), inspection and waiting.
The Web API plumbing and methods, the file routes and Socket Mode are mixins in their own modules."""

from __future__ import annotations

import asyncio
import math
import mimetypes
import secrets
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from .constants import (
    DEFAULT_APP_ID,
    DEFAULT_BOT_ID,
    DEFAULT_BOT_USER_ID,
    DEFAULT_SCOPES,
    DEFAULT_TEAM_DOMAIN,
    DEFAULT_TEAM_ID,
    DEFAULT_USER_ID,
    _new_id,
    new_ts,
)
from .files import FileRoutes
from .methods import WebApiMethods
from .records import Call, _Failure, _filetype_for, _image_dims, _StoredFile, _Window
from .rest import WebApiPlumbing
from .socket_mode import SocketMode

# ----------------------------------------------------------------------------------------------
# The fake server
# ----------------------------------------------------------------------------------------------


class FakeSlack(WebApiPlumbing, WebApiMethods, FileRoutes, SocketMode):
    """A strict, stateful local Slack Web API. Use as ``async with FakeSlack() as fake:``."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
        team_id: str = DEFAULT_TEAM_ID,
        team_domain: str = DEFAULT_TEAM_DOMAIN,
        bot_user_id: str = DEFAULT_BOT_USER_ID,
        bot_id: str = DEFAULT_BOT_ID,
        app_id: str = DEFAULT_APP_ID,
        scopes: Iterable[str] = DEFAULT_SCOPES,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.scopes: set[str] = set(scopes)

        self.calls: list[Call] = []
        self.unexpected: list[str] = []
        self.uploads: list[dict[str, Any]] = []  # one per upload-URL POST
        self.views: list[dict[str, Any]] = []  # current state of every opened view
        self.view_calls: list[dict[str, Any]] = []  # every views.open/push/update
        self.ephemerals: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []  # posts to response_url
        self.downloads: list[dict[str, Any]] = []
        self.streamed: list[dict[str, Any]] = []  # streamed downloads: bytes sent, and whether done
        self.channels: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.files: dict[str, _StoredFile] = {}
        self._messages: list[dict[str, Any]] = []
        self._deleted: list[dict[str, Any]] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._triggers_used: set[str] = set()
        self._triggers_expired: set[str] = set()
        self._response_urls: dict[str, dict[str, Any]] = {}
        self._event = asyncio.Event()
        self._holds: dict[str, asyncio.Event] = {}
        self._windows: dict[str, _Window] = {}
        self._answer_holds: dict[str, tuple[Callable[[dict[str, Any]], bool], asyncio.Event]] = {}
        self.held: list[str] = []  # methods of calls that arrived while held (see hold())
        self.dropped: list[str] = []  # held calls whose caller hung up before the release
        self.sockets: list[web.WebSocketResponse] = []  # open Socket Mode connections, oldest first
        self.acks: list[dict[str, Any]] = []  # every message the app sent over a socket
        self._tickets: set[str] = set()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/{upload_id}", self._handle_upload)
        app.router.add_get("/files-pri/{team_file}/download/{name}", self._handle_download)
        app.router.add_get("/files-pri/{team_file}/{name}", self._handle_download)
        app.router.add_post("/response/{rid}", self._handle_response_url)
        app.router.add_get("/link/", self._handle_socket)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)  # bursts of hundreds (bench)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        for socket in list(self.sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close()
        if self.unexpected:
            report = "FakeSlack saw unexpected requests:\n  " + "\n  ".join(self.unexpected)
            if exc is not None:
                exc.add_note(report)
                return
            raise AssertionError(report)

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """For ``AsyncWebClient(base_url=...)`` (trailing slash included, as slack-sdk expects)."""
        return f"{self.base_url}/api/"

    # -- scripting ------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        error: str | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail.

        ``status=429`` answers HTTP 429 with an integer ``Retry-After`` header (slack-sdk does
        ``int(header)``: it must be an integer) and ``{"ok": false, "error": "ratelimited"}``.
        ``status=500``/``503`` answer a server error; ``status=200`` answers ``ok: false`` with
        ``error`` (e.g. ``channel_not_found``, ``not_in_channel``). ``method`` may also be
        ``"upload"``, ``"download"`` or ``"response_url"``.
        """
        if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, int)):
            raise TypeError("retry_after must be an int: Slack sends integer seconds and slack-sdk int()s it")
        if error is None:
            error = {429: "ratelimited", 200: "internal_error"}.get(status, "internal_error")
        self._failures.setdefault(method, []).append(
            _Failure(
                status=status, retry_after=retry_after if status == 429 else None, error=error, times=times
            )
        )

    def fail_for(
        self, method: str, seconds: float | None, *, status: int = 429, retry_after: int | None = 1
    ) -> None:
        """Make every call of ``method`` fail for the next ``seconds`` (a rate limit or an outage
        that lasts, not a number of calls), or with ``None`` until ``recover(method)``:
        ``status=429`` answers ``ratelimited`` with an integer ``Retry-After``; ``500``/``503`` a
        server error. ``method`` may be ``"upload"`` (the upload URL). Failed calls are recorded
        in ``calls`` with their status."""
        if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, int)):
            raise TypeError("retry_after must be an int: Slack sends integer seconds and slack-sdk int()s it")
        error = "ratelimited" if status == 429 else "internal_error"
        self._windows[method] = _Window(
            status=status,
            retry_after=retry_after if status == 429 else None,
            error=error,
            until=math.inf if seconds is None else time.monotonic() + seconds,
        )
        if seconds is not None:
            # The end of the window is a change that wait_for() sees (see failing()).
            asyncio.get_running_loop().call_later(seconds, self._changed)

    def recover(self, method: str) -> None:
        """End a fail_for() window of ``method`` now (the outage is over)."""
        self._windows.pop(method, None)
        self._changed()

    def failing(self, method: str) -> bool:
        """Whether a fail_for() window of ``method`` is still open."""
        window = self._windows.get(method)
        return window is not None and time.monotonic() < window.until

    def hold_answer(self, method: str, when: Callable[[dict[str, Any]], bool] = lambda args: True) -> None:
        """Carry out calls of ``method`` whose arguments match ``when`` (the message is posted)
        but hold their answer until :meth:`release`: counted in ``held`` on arrival, so a test can
        kill the caller after Slack did the work and before the caller learnt of it."""
        self._answer_holds[method] = (when, asyncio.Event())

    def hold(self, method: str) -> None:
        """Hold calls of ``method`` (e.g. ``chat.postMessage``) until :meth:`release`: each is
        counted in ``held`` on arrival and waits. A held call whose caller has gone away by the
        release (a killed process) is dropped, as if it had never reached Slack."""
        self._holds.setdefault(method, asyncio.Event())

    def release(self, method: str) -> None:
        gate = self._holds.pop(method, None)
        if gate is not None:
            gate.set()
        answer = self._answer_holds.pop(method, None)
        if answer is not None:
            answer[1].set()

    def add_channel(
        self, channel_id: str, *, name: str | None = None, is_member: bool = True, is_private: bool = False
    ) -> dict[str, Any]:
        """Register a channel. Unregistered ids that look like channel ids are accepted as member."""
        info = {
            "id": channel_id,
            "name": name or channel_id.lower(),
            "is_channel": not is_private and channel_id.startswith("C"),
            "is_group": is_private,
            "is_im": channel_id.startswith("D"),
            "is_private": is_private,
            "is_member": is_member,
            "is_archived": False,
            "created": int(time.time()),
            "context_team_id": self.team_id,
        }
        self.channels[channel_id] = info
        self._changed()
        return info

    def expire_trigger(self, trigger_id: str) -> None:
        """Make ``trigger_id`` expired (views.open answers ``expired_trigger_id``)."""
        self._triggers_expired.add(trigger_id)

    def response_url(
        self, channel_id: str, *, user_id: str | None = None, message_ts: str | None = None
    ) -> str:
        """Mint a response_url on this server (as Slack puts in commands and interactive payloads)."""
        rid = secrets.token_hex(8)
        self._response_urls[rid] = {
            "channel": channel_id,
            "user": user_id,
            "message_ts": message_ts,
            "uses": 0,
        }
        return f"{self.base_url}/response/{rid}"

    def add_user_file(
        self,
        filename: str,
        data: bytes,
        mimetype: str | None = None,
        *,
        user_id: str = DEFAULT_USER_ID,
        title: str | None = None,
        size: int | None = None,
        stream_bytes: int | None = None,
    ) -> dict[str, Any]:
        """Register a file uploaded by a user; returns the Slack file object for event fixtures.

        ``size`` makes the file object declare a size other than the real one. ``stream_bytes``
        serves that many bytes (``data``, then zeros) in chunks without a Content-Length, as a
        host whose metadata lied would; ``fake.streamed`` records how much was actually sent
        before the client stopped reading.
        """
        mimetype = mimetype or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        sf = _StoredFile(
            id=_new_id("F"),
            name=filename,
            title=title or filename.rsplit(".", 1)[0],
            mimetype=mimetype,
            filetype=_filetype_for(filename, mimetype),
            data=bytes(data),
            user=user_id,
            created=int(time.time()),
            completed=True,
            size=size,
            stream_bytes=stream_bytes,
        )
        self.files[sf.id] = sf
        self._changed()
        return self.file_object(sf.id)

    def add_user_message(
        self,
        channel: str,
        text: str,
        *,
        user_id: str = DEFAULT_USER_ID,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Record a message posted by a user (e.g. the parent of a thread) and return it."""
        msg: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "user": user_id,
            "text": text,
            "ts": new_ts(),
            "team": self.team_id,
        }
        if thread_ts:
            msg["thread_ts"] = thread_ts
        if files:
            msg["files"] = files
            msg["upload"] = False
        self._messages.append(msg)
        self._changed()
        return dict(msg)

    # -- inspection -----------------------------------------------------------------------------

    def messages(
        self, channel: str | None = None, thread_ts: str | None = None, *, top_level: bool = False
    ) -> list[dict[str, Any]]:
        """Messages (bot and user) in ``channel`` in posting order.

        With ``thread_ts``: only the replies in that thread (the parent excluded). With
        ``top_level=True``: only messages that are not replies.
        """
        out = []
        for m in self._messages:
            if channel is not None and m["channel"] != channel:
                continue
            if thread_ts is not None and (m.get("thread_ts") != thread_ts or m["ts"] == thread_ts):
                continue
            if top_level and m.get("thread_ts") not in (None, m["ts"]):
                continue
            out.append(m)
        return out

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        for m in self._messages:
            if m["channel"] == channel and m["ts"] == ts:
                return m
        return None

    @property
    def deleted_messages(self) -> list[dict[str, Any]]:
        return list(self._deleted)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def file_bytes(self, file_id: str) -> bytes | None:
        sf = self.files.get(file_id)
        return sf.data if sf else None

    def file_object(self, file_id: str) -> dict[str, Any]:
        sf = self.files[file_id]
        tf = f"{self.team_id}-{sf.id}"
        quoted = urllib.parse.quote(sf.name)
        obj: dict[str, Any] = {
            "id": sf.id,
            "created": sf.created,
            "timestamp": sf.created,
            "name": sf.name,
            "title": sf.title,
            "mimetype": sf.mimetype,
            "filetype": sf.filetype,
            "pretty_type": sf.filetype.upper(),
            "user": sf.user,
            "user_team": self.team_id,
            "editable": False,
            "size": sf.size if sf.size is not None else len(sf.data) if sf.data is not None else 0,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": True,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{self.base_url}/files-pri/{tf}/{quoted}",
            "url_private_download": f"{self.base_url}/files-pri/{tf}/download/{quoted}",
            "permalink": f"{self.base_url}/files/{sf.user}/{sf.id}/{quoted}",
            "permalink_public": f"{self.base_url}/{tf}-{secrets.token_hex(5)}",
            "has_rich_preview": False,
            "file_access": "visible",
        }
        if sf.alt_txt:
            obj["alt_txt"] = sf.alt_txt
        dims = _image_dims(sf.data) if sf.mimetype.startswith("image/") else None
        if dims:
            obj["original_w"], obj["original_h"] = dims
        obj.update(sf.extra)
        return obj

    # -- waiting --------------------------------------------------------------------------------

    def _changed(self) -> None:
        ev, self._event = self._event, asyncio.Event()
        ev.set()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every state change); return its value.

        Fails at once if the fake has seen an unexpected request, and with an AssertionError after
        ``timeout`` seconds listing the recent calls.
        """

        async def loop() -> Any:
            while True:
                ev = self._event
                if self.unexpected:
                    raise AssertionError("FakeSlack saw unexpected requests: " + "; ".join(self.unexpected))
                result = predicate()
                if result:
                    return result
                await ev.wait()

        try:
            return await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            recent = ", ".join(f"{c.method}->{c.status}" for c in self.calls[-15:])
            raise AssertionError(
                f"FakeSlack.wait_for timed out after {timeout}s; recent calls: {recent}"
            ) from None
