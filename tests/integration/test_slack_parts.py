"""The Slack adapter's parts on their own: Block Kit limits, markup, dedupe keys, status throttling,
user lookups, the file fetcher's token safety, and Socket Mode end to end against a minimal local
WebSocket "Slack" (FakeSlack serves HTTP only)."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import SlackAdapter
from adapters.slack.blocks import (
    action_blocks,
    edit_modal,
    message_blocks,
    mrkdwn,
    parse_edit_metadata,
    plain_text,
    shown,
)
from adapters.slack.deliveries import ADMIN_COMMAND, IMAGINE_COMMAND, delivery_key
from adapters.slack.errors import slack_error
from adapters.slack.files import FileFetcher
from adapters.slack.status_board import StatusBoard
from adapters.slack.users import SlackUser, Users, users_info_lookup
from bot.answers import Button
from bot.domain import SessionKey
from bot.errors import BotError
from storage.store import Store
from tests.fakes.slack import (
    DEFAULT_SCOPES,
    FakeSlack,
    slash_command_body,
    validate_blocks,
    validate_view,
)
from tests.helpers import build_bot, make_settings

# --- Block Kit ------------------------------------------------------------------------------------


def test_buttons_keep_within_slack_limits() -> None:
    buttons = [Button("u", "set1", f"U{k}", arg=str(k)) for k in range(1, 31)]
    buttons += [Button("u", "set1", "U1 again", arg="1")]
    with pytest.raises(ValueError, match="at most 100"):  # too long for any platform: never made
        Button("upscale", "x" * 300, "Too long")
    buttons.append(Button("cancel", "job1", "Cancel " + "x" * 100, style="danger"))
    blocks = message_blocks("hello", buttons)
    assert validate_blocks(blocks) == []
    assert [len(b["elements"]) for b in blocks[1:]] == [25, 5, 1]
    ids = [e["action_id"] for b in blocks[1:] for e in b["elements"]]
    assert len(ids) == len(set(ids)) == 31  # the duplicate is left out
    cancel = blocks[-1]["elements"][0]
    assert cancel["style"] == "danger"
    assert len(cancel["text"]["text"]) == 75
    assert "style" not in blocks[1]["elements"][0]  # "secondary" is Slack's default, not a value


def test_picks_and_variations_sit_on_their_own_rows() -> None:
    buttons = [Button("u", "s", "U1", arg="1"), Button("v", "s", "V1", arg="1"), Button("reroll", "s", "🔄")]
    rows = [[e["text"]["text"] for e in block["elements"]] for block in action_blocks(buttons)]
    assert rows == [["U1"], ["V1"], ["🔄"]]
    assert action_blocks(buttons)[0]["elements"][0]["value"] == "ib:u:s:1"


def test_edit_modal_is_valid_and_carries_the_session() -> None:
    where = SessionKey("slack", "T1", "C1", "1712345678.000100")
    view = edit_modal("abcd1234", where)
    assert validate_view(view) == []
    assert parse_edit_metadata(view["private_metadata"], "slack") == ("abcd1234", where)
    for bad in ("", "{}", "[1]", json.dumps({"i": "x", "w": "T", "c": "C", "t": ""})):
        with pytest.raises(ValueError, match="not an imagebot edit form"):
            parse_edit_metadata(bad, "slack")


def test_markup_both_ways() -> None:
    assert mrkdwn("**Make images** for <@U1> & co") == "*Make images* for &lt;@U1&gt; &amp; co"
    text = "<@UBOT> a sign that says &lt;OPEN&gt; &amp; <https://x.example|our logo> for <@U2|bob> in <#C1|general>"
    assert plain_text(text, "UBOT") == "a sign that says <OPEN> & our logo for @bob in #general"
    assert (
        plain_text("make it <!here> blue <https://x.example/a>", None)
        == "make it @here blue https://x.example/a"
    )
    assert plain_text("ask <!subteam^S123|@designers> or <!channel>") == "ask @designers or @channel"


def test_mrkdwn_drops_controls_and_keeps_the_bots_own_layout() -> None:
    core = "**Settings**\n  • yours: `--n 2`\n“\u202eevil\u202c \x1b[31m<!channel>\x1b[0m”"
    assert mrkdwn(core) == "*Settings*\n  • yours: `--n 2`\n“evil &lt;!channel&gt;”"
    assert shown("<@U1>\u202e  says\nhi", 10) == "&lt;@U1&gt; say…"


# --- delivery keys --------------------------------------------------------------------------------


def test_delivery_keys() -> None:
    mention = {
        "type": "event_callback",
        "event_id": "Ev1",
        "team_id": "T1",
        "event": {"type": "app_mention", "channel": "C1", "ts": "1.2", "user": "U1"},
    }
    assert delivery_key(mention) == "slack:message:T1:C1:1.2"
    in_thread = {
        "type": "event_callback",
        "event_id": "Ev2",
        "team_id": "T1",
        "event": {"type": "message", "channel": "C1", "ts": "1.2", "thread_ts": "1.1", "user": "U1"},
    }
    # The same message as an app_mention and as a message event (or redelivered): one key.
    assert delivery_key(in_thread) == delivery_key(mention)
    chatter = {"type": "event_callback", "event_id": "Ev3", "event": {"type": "message", "ts": "1.1"}}
    assert delivery_key(chatter) is None  # ignored anyway, so not worth a write
    other_bot = {**in_thread, "event": {**in_thread["event"], "bot_id": "B2"}}
    assert delivery_key(other_bot) is None
    assert (
        delivery_key({"type": "event_callback", "event_id": "Ev4", "event": {"type": "reaction_added"}})
        is None
    )
    assert delivery_key({"command": "/imagine", "trigger_id": "1.2.abc"}) == "slack:trigger:1.2.abc"
    assert delivery_key({"command": "/other", "trigger_id": "1.2.abd"}) is None  # no listener for it
    action = {"type": "block_actions", "actions": [{"action_id": "ib:u:s:1", "action_ts": "17.5"}]}
    assert delivery_key(action) == "slack:action:ib:u:s:1:17.5"
    assert delivery_key({**action, "trigger_id": "9.9.x"}) == "slack:trigger:9.9.x"
    assert delivery_key({"type": "url_verification"}) is None


# --- status throttling ----------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.changed = asyncio.Condition()

    async def send(self, channel: str, ts: str, text: str, buttons: Any) -> None:
        async with self.changed:
            self.sent.append((channel, ts, text))
            self.changed.notify_all()

    async def wait_for(self, count: int) -> None:
        async with self.changed, asyncio.timeout(5):
            await self.changed.wait_for(lambda: len(self.sent) >= count)


async def test_status_updates_are_coalesced_per_channel_and_finals_go_at_once() -> None:
    recorder = Recorder()
    board = StatusBoard(recorder.send, interval=0.5)  # wide enough that a slow machine still coalesces
    await board.update("C1", "1.1", "queued #2")
    await board.update("C1", "1.1", "queued #1")  # too soon: pending...
    await board.update("C1", "1.1", "running")  # ...and replaced by a newer state
    await board.update("C1", "2.2", "other message, same channel")
    assert [s[2] for s in recorder.sent] == ["queued #2"]
    await recorder.wait_for(3)
    assert [s[2] for s in recorder.sent] == ["queued #2", "running", "other message, same channel"]

    await board.update("C2", "3.3", "queued")
    await board.update("C2", "3.3", "running")  # pending when the final comes...
    await board.update("C2", "3.3", "done", final=True)
    await board.update("C2", "3.3", "running again?")  # ...and nothing goes back from a final state
    await board.close()
    assert [s[2] for s in recorder.sent if s[0] == "C2"] == ["queued", "done"]


# --- users ----------------------------------------------------------------------------------------


class StubClient:
    def __init__(self, users: dict[str, dict[str, Any]]) -> None:
        self.users = users
        self.calls = 0

    async def users_info(self, user: str) -> dict[str, Any]:
        self.calls += 1
        if user not in self.users:
            raise SlackApiError("missing_scope", {"ok": False, "error": "missing_scope"})  # type: ignore[arg-type]
        return {"ok": True, "user": self.users[user]}


async def test_users_info_names_and_admins_are_cached() -> None:
    stub = StubClient(
        {
            "U1": {"name": "al", "profile": {"display_name": "Alice", "real_name": "Alice A"}},
            "U2": {
                "name": "boss",
                "is_owner": True,
                "profile": {"display_name": "", "real_name": "The Boss"},
            },
        }
    )
    users = Users(users_info_lookup(stub))  # type: ignore[arg-type]
    alice = await users.actor("T1", "U1")
    assert (alice.platform, alice.id, alice.name, alice.is_admin) == ("slack", "U1", "Alice", False)
    boss = await users.actor("T1", "U2")
    assert boss.name == "The Boss"
    assert boss.is_admin
    await users.actor("T1", "U1")
    assert stub.calls == 2  # cached
    nobody = await users.actor("T1", "U3", "carol")
    assert nobody.name == "carol"
    assert not nobody.is_admin  # users.info refused: a name hint, no rights


async def test_an_injected_lookup_replaces_users_info() -> None:
    async def lookup(team: str, user: str) -> SlackUser | None:
        return SlackUser("Root", is_admin=True)

    assert (await Users(lookup).actor("T1", "U9")).is_admin


# --- file fetching --------------------------------------------------------------------------------


def test_the_token_only_goes_to_slack_file_hosts() -> None:
    fetcher = FileFetcher(AsyncWebClient(token="xoxb-x"), api_url="http://127.0.0.1:5555/api/")
    assert fetcher.token_allowed("https://files.slack.com/files-pri/T1-F1/download/a.png")
    assert fetcher.token_allowed("http://127.0.0.1:5555/files-pri/T1-F1/a.png")
    assert not fetcher.token_allowed("http://files.slack.com/files-pri/T1-F1/a.png")  # not over plain HTTP
    assert not fetcher.token_allowed("https://files.slack.com.evil.example/a.png")
    assert not fetcher.token_allowed("https://evil.example/files.slack.com/a.png")
    assert not fetcher.token_allowed("http://127.0.0.1:5556/a.png")


@pytest.fixture
async def redirector() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A local 'file host' that redirects every download to another host (another port)."""
    seen: list[dict[str, str]] = []

    async def elsewhere(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(body=b"stolen?", content_type="image/png")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.1:{other_port}/grab")

    other = web.Application()
    other.router.add_get("/grab", elsewhere)
    other_runner = web.AppRunner(other)
    await other_runner.setup()
    await web.TCPSite(other_runner, "127.0.0.1", 0).start()
    other_port = other_runner.addresses[0][1]
    app = web.Application()
    app.router.add_get("/files-pri/{tail:.*}", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    finally:
        await runner.cleanup()
        await other_runner.cleanup()


async def test_a_redirect_elsewhere_never_carries_the_token(
    redirector: tuple[str, list[dict[str, str]]],
) -> None:
    base, seen = redirector
    fetcher = FileFetcher(AsyncWebClient(token="xoxb-secret"), api_url=f"{base}/api/")
    file = {
        "id": "F1",
        "name": "a.png",
        "mimetype": "image/png",
        "url_private_download": f"{base}/files-pri/a.png",
    }
    with pytest.raises(BotError, match="insecure link"):
        await fetcher.fetch_all([file])
    assert seen == []  # the other host was not even asked (plain HTTP, not a Slack host)


async def test_a_sign_in_page_means_the_files_read_scope_is_missing() -> None:
    async with FakeSlack(scopes=[s for s in DEFAULT_SCOPES if s != "files:read"]) as slack:
        shared = slack.add_user_file("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
        fetcher = FileFetcher(
            AsyncWebClient(token=slack.bot_token, base_url=slack.api_url), api_url=slack.api_url
        )
        with pytest.raises(BotError, match="files:read"):
            await fetcher.fetch_all([shared])
        assert slack.downloads[0]["authorized"] is False


async def test_files_are_checked_before_any_download() -> None:
    async with FakeSlack() as slack:
        photo = slack.add_user_file("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
        video = slack.add_user_file("clip.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4")
        fetcher = FileFetcher(
            AsyncWebClient(token=slack.bot_token, base_url=slack.api_url), api_url=slack.api_url
        )
        with pytest.raises(BotError, match=r"clip\.mp4 is not an image \(MP4\)"):
            await fetcher.fetch_all([photo, video])
        assert slack.downloads == []
        big = dict(photo, size=80 * 1024 * 1024)
        with pytest.raises(BotError, match="80 MB; images must be under 50 MB"):
            await fetcher.fetch_all([big])
        # A stub file object (file_access: check_file_info) is completed with files.info first.
        stub = {"id": photo["id"], "file_access": "check_file_info"}
        [attachment] = await fetcher.fetch_all([stub])
        assert attachment.filename == "photo.png"
        assert attachment.data == slack.file_bytes(photo["id"])


# --- the manifest ---------------------------------------------------------------------------------


def test_the_manifest_asks_for_what_the_adapter_uses() -> None:
    manifest = (Path(__file__).resolve().parents[2] / "slack-app-manifest.yml").read_text(encoding="utf-8")
    lines = {line.split("#")[0].strip() for line in manifest.splitlines()}
    scopes = ("chat:write", "commands", "files:write", "files:read", "app_mentions:read")
    for scope in (*scopes, "channels:history", "groups:history", "users:read"):
        assert f"- {scope}" in lines, scope
    for event in ("app_mention", "message.channels", "message.groups"):
        assert f"- {event}" in lines, event
    for command in (IMAGINE_COMMAND, ADMIN_COMMAND):
        assert f"- command: {command}" in lines, command
    assert "socket_mode_enabled: true" in lines
    assert "is_enabled: true" in lines


# --- Socket Mode, end to end ------------------------------------------------------------------------


@pytest.fixture
async def socket_slack() -> AsyncIterator[dict[str, Any]]:
    """A minimal Slack for Socket Mode: apps.connections.open, a WebSocket that sends one slash
    command envelope, and an ok for every other Web API call (FakeSlack has no WebSocket)."""
    state: dict[str, Any] = {"calls": [], "acks": [], "acked": asyncio.Event(), "auth": []}

    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        state["calls"].append(method)
        state["auth"].append((method, request.headers.get("Authorization")))
        if method == "apps.connections.open":
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{request.url.port}/link"})
        if method == "auth.test":
            return web.json_response({"ok": True, "user_id": "U0BOT", "bot_id": "B0BOT", "team_id": "T1"})
        if method == "users.info":
            return web.json_response({"ok": True, "user": {"name": "alice", "is_admin": True}})
        return web.json_response({"ok": True, "message_ts": "1.000001"})

    async def link(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"type": "hello", "num_connections": 1})
        command = dict(urllib.parse.parse_qsl(slash_command_body("/imagebot", "usage", team_id="T1")))
        envelope = {"type": "slash_commands", "envelope_id": "env-1", "payload": command}
        await socket.send_json({**envelope, "accepts_response_payload": True})
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                state["acks"].append(json.loads(message.data))
                state["acked"].set()
        return socket

    app = web.Application()
    app.router.add_route("*", "/api/{method}", api)
    app.router.add_get("/link", link)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state["api_url"] = f"http://127.0.0.1:{runner.addresses[0][1]}/api/"
    try:
        yield state
    finally:
        await runner.cleanup()


async def test_socket_mode_connects_with_the_app_token_acks_and_answers(
    tmp_path: Path, socket_slack: dict[str, Any]
) -> None:
    settings = make_settings(
        tmp_path / "data",
        slack_bot_token="xoxb-test",
        slack_app_token="xapp-test",
        slack_api_url=socket_slack["api_url"],
    )
    store = await Store.open(settings.database_path, settings.blobs_dir)
    bot = build_bot(settings, store)
    adapter = SlackAdapter(bot, settings)  # the default users.info lookup, this time
    await bot.start()
    try:
        await adapter.start_socket_mode()
        async with asyncio.timeout(5):
            await socket_slack["acked"].wait()
        await adapter.wait_idle(5)
    finally:
        await adapter.stop()
        await bot.stop()
        await store.close()
    assert socket_slack["acks"] == [{"envelope_id": "env-1"}]
    assert socket_slack["calls"][:2] == ["apps.connections.open", "auth.test"]
    assert "users.info" in socket_slack["calls"]
    assert socket_slack["calls"][-1] == "chat.postEphemeral"
    tokens = dict(socket_slack["auth"])
    assert tokens["apps.connections.open"] == "Bearer xapp-test"  # the app token only opens the socket
    assert tokens["chat.postEphemeral"] == "Bearer xoxb-test"


def test_slack_errors_are_named_even_when_the_answer_is_not_json() -> None:
    class Response:
        def __init__(self, data: Any, status_code: int) -> None:
            self.data, self.status_code = data, status_code

    assert (
        slack_error(SlackApiError("x", Response({"ok": False, "error": "not_in_channel"}, 200)))
        == "not_in_channel"
    )
    assert slack_error(SlackApiError("x", Response("<html>Bad gateway</html>", 502))) == "HTTP 502"


async def test_start_runs_until_close_in_the_mode_the_settings_allow(
    tmp_path: Path, socket_slack: dict[str, Any]
) -> None:
    settings = make_settings(
        tmp_path / "data",
        slack_bot_token="xoxb-test",
        slack_app_token="xapp-test",
        slack_api_url=socket_slack["api_url"],
    )
    store = await Store.open(settings.database_path, settings.blobs_dir)
    bot = build_bot(settings, store)
    adapter = SlackAdapter(bot, settings)
    await bot.start()
    running = asyncio.create_task(adapter.start())  # Socket Mode: an app token is set
    try:
        async with asyncio.timeout(5):
            await socket_slack["acked"].wait()
        assert not running.done()
        await adapter.close()
        async with asyncio.timeout(5):
            await running
    finally:
        await adapter.stop()
        await bot.stop()
        await store.close()
