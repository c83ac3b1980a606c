"""The Slack fake, driven by the REAL slack-sdk AsyncWebClient and slack-bolt AsyncApp."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import (
    FORM,
    JSON,
    FakeSlack,
    app_mention_event,
    block_actions_body,
    event_body,
    message_event,
    signed_request,
    slash_command_body,
    url_verification_body,
    validate_blocks,
    view_submission_body,
)

SECRET = "test-signing-secret"
CHANNEL = "C0GENERAL"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
async def fake():
    async with FakeSlack() as f:
        yield f


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)


def _button(action_id: str, value: str = "v", text: str = "Go") -> dict:
    return {
        "type": "button",
        "action_id": action_id,
        "value": value,
        "text": {"type": "plain_text", "text": text},
    }


# --------------------------------------------------------------------------------------------
# Web API through AsyncWebClient
# --------------------------------------------------------------------------------------------


async def test_auth_test(fake: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.auth_test()
    assert resp["ok"] is True
    assert (resp["user_id"], resp["bot_id"], resp["team_id"]) == (fake.bot_user_id, fake.bot_id, fake.team_id)
    assert fake.calls[-1].headers["authorization"] == "Bearer xoxb-test"


async def test_wrong_token_is_invalid_auth(fake: FakeSlack) -> None:
    bad = AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url)
    with pytest.raises(SlackApiError) as ei:
        await bad.chat_postMessage(channel=CHANNEL, text="hi")
    assert ei.value.response["error"] == "invalid_auth"
    assert fake.messages(CHANNEL) == []


async def test_post_in_thread_and_update(fake: FakeSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="parent")
    reply = await client.chat_postMessage(
        channel=CHANNEL,
        thread_ts=parent["ts"],
        text="working",
        blocks=[{"type": "actions", "elements": [_button("retry", "job-1")]}],
    )
    assert reply["ts"] > parent["ts"]
    [msg] = fake.messages(CHANNEL, thread_ts=parent["ts"])
    assert msg["text"] == "working"
    assert msg["bot_id"] == fake.bot_id
    assert msg["user"] == fake.bot_user_id
    assert msg["blocks"][0]["elements"][0]["value"] == "job-1"
    # chat.* arrives as a JSON body
    assert "application/json" in fake.calls_to("chat.postMessage")[-1].headers["content-type"]

    upd = await client.chat_update(channel=CHANNEL, ts=reply["ts"], text="done", blocks=[])
    assert upd["ts"] == reply["ts"]
    assert fake.message(CHANNEL, reply["ts"])["text"] == "done"
    assert "blocks" not in fake.message(CHANNEL, reply["ts"])
    assert fake.messages(CHANNEL, top_level=True) == [fake.message(CHANNEL, parent["ts"])]

    with pytest.raises(SlackApiError) as ei:
        await client.chat_update(channel=CHANNEL, ts="1.000001", text="x")
    assert ei.value.response["error"] == "message_not_found"


async def test_post_ephemeral_requires_user(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.chat_postEphemeral(channel=CHANNEL, user="U0ALICE", text="only you")
    assert fake.ephemerals[-1]["user"] == "U0ALICE"
    with pytest.raises(SlackApiError):
        await client.api_call("chat.postEphemeral", json={"channel": CHANNEL, "text": "nobody"})


async def test_channel_membership(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_channel("C0SECRET", is_member=False)
    with pytest.raises(SlackApiError) as ei:
        await client.chat_postMessage(channel="C0SECRET", text="hi")
    assert ei.value.response["error"] == "not_in_channel"
    with pytest.raises(SlackApiError) as ei:
        await client.chat_postMessage(channel="#general", text="hi")
    assert ei.value.response["error"] == "channel_not_found"


async def test_files_upload_v2_in_thread(fake: FakeSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="a cat")
    resp = await client.files_upload_v2(
        channel=CHANNEL, thread_ts=parent["ts"], file=PNG, filename="cat.png", initial_comment="here"
    )
    assert resp["file"]["name"] == "cat.png"
    assert resp["file"]["size"] == len(PNG)
    assert resp["file"]["mimetype"] == "image/png"
    assert resp["file"]["url_private_download"].startswith(fake.base_url)

    [up] = fake.uploads
    assert up["data"] == PNG
    assert up["authorization"] is None
    assert up["encoding"] == "raw"
    assert up["content_type"] == "application/octet-stream"
    assert up["completed"]
    assert up["thread_ts"] == parent["ts"]
    assert up["channel_id"] == CHANNEL
    # files.* arrive as query params
    step1 = fake.calls_to("files.getUploadURLExternal")[0]
    assert step1.args["filename"] == "cat.png"
    assert step1.args["length"] == str(len(PNG))

    [file_msg] = fake.messages(CHANNEL, thread_ts=parent["ts"])
    assert file_msg["text"] == "here"
    assert file_msg["upload"] is True
    assert [f["id"] for f in file_msg["files"]] == [resp["file"]["id"]]
    assert fake.file_bytes(resp["file"]["id"]) == PNG


async def test_files_upload_v2_two_files(fake: FakeSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="variations")
    resp = await client.files_upload_v2(
        channel=CHANNEL,
        thread_ts=parent["ts"],
        file_uploads=[
            {"file": PNG, "filename": "a.png", "title": "A"},
            {"file": PNG + b"2", "filename": "b.png", "title": "B", "alt_txt": "second"},
        ],
    )
    assert [f["title"] for f in resp["files"]] == ["A", "B"]
    assert "file" not in resp.data
    assert [u["data"] for u in fake.uploads] == [PNG, PNG + b"2"]
    [file_msg] = fake.messages(CHANNEL, thread_ts=parent["ts"])
    assert [f["name"] for f in file_msg["files"]] == ["a.png", "b.png"]
    assert file_msg["files"][1]["alt_txt"] == "second"


async def test_upload_accepts_multipart_and_rejects_unknown_completion(fake: FakeSlack) -> None:
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    step1 = await client.files_getUploadURLExternal(filename="x.png", length=len(PNG))
    async with aiohttp.ClientSession() as http:
        form = aiohttp.FormData()
        form.add_field("file", PNG, filename="x.png", content_type="image/png")
        async with http.post(step1["upload_url"], data=form) as r:
            assert r.status == 200
    assert fake.uploads[-1]["encoding"] == "multipart"
    assert fake.uploads[-1]["data"] == PNG
    with pytest.raises(SlackApiError) as ei:
        await client.files_completeUploadExternal(files=[{"id": "F0NOPE"}], channel_id=CHANNEL)
    assert ei.value.response["error"] == "file_not_found"
    done = await client.files_completeUploadExternal(files=[{"id": step1["file_id"]}])
    assert done["files"][0]["id"] == step1["file_id"]
    assert fake.messages(CHANNEL) == []  # no channel: private file, no message


async def test_invalid_blocks(fake: FakeSlack, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as ei:
        await client.chat_postMessage(
            channel=CHANNEL, text="x", blocks=[{"type": "actions", "elements": [_button("a" * 256)]}]
        )
    assert ei.value.response["error"] == "invalid_blocks"
    assert any("/blocks/0/elements/0/action_id" in e for e in ei.value.response["errors"])

    many = [_button(f"b{i}") for i in range(26)]
    with pytest.raises(SlackApiError) as ei:
        await client.chat_postMessage(
            channel=CHANNEL, text="x", blocks=[{"type": "actions", "elements": many}]
        )
    assert any("less than 26 items" in e for e in ei.value.response["errors"])

    parent = await client.chat_postMessage(channel=CHANNEL, text="ok")
    with pytest.raises(SlackApiError) as ei:
        await client.chat_update(
            channel=CHANNEL,
            ts=parent["ts"],
            text="x",
            blocks=[{"type": "actions", "elements": [_button("dup"), _button("dup")]}],
        )
    assert any("duplicate action_id" in e for e in ei.value.response["errors"])
    assert fake.messages(CHANNEL) == [fake.message(CHANNEL, parent["ts"])]


def test_validate_blocks_limits() -> None:
    assert validate_blocks([{"type": "divider"}] * 50) == []
    assert validate_blocks([{"type": "divider"}] * 51)
    assert validate_blocks([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}])
    assert validate_blocks([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}])
    assert validate_blocks([{"type": "actions", "elements": [_button("a", text="x" * 76)]}])
    assert validate_blocks([{"type": "actions", "elements": [_button("a", value="x" * 2001)]}])
    assert validate_blocks(
        [{"type": "section", "block_id": "x" * 256, "text": {"type": "mrkdwn", "text": "t"}}]
    )
    assert validate_blocks([{"type": "image", "image_url": "https://e.x/a.png"}])  # alt_text missing
    assert validate_blocks([{"type": "image", "image_url": "https://e.x/a.png", "alt_text": "a"}]) == []
    assert validate_blocks([{"type": "sectoin"}])


async def test_ratelimit_retried_with_handler(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=0)
    client = AsyncWebClient(
        token=fake.bot_token,
        base_url=fake.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    # The handler sleeps int(Retry-After) + random() seconds: < 1 s with "0".
    resp = await client.chat_postMessage(channel=CHANNEL, text="hi")
    assert resp["ok"]
    calls = fake.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert len(fake.messages(CHANNEL)) == 1


async def test_ratelimit_raises_without_handler(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=1)
    with pytest.raises(SlackApiError) as ei:
        await client.chat_postMessage(channel=CHANNEL, text="hi")
    assert ei.value.response.status_code == 429
    assert ei.value.response["error"] == "ratelimited"
    assert ei.value.response.headers["Retry-After"] == "1"
    assert fake.messages(CHANNEL) == []
    with pytest.raises(TypeError):
        fake.fail_next("chat.postMessage", retry_after=1.5)  # type: ignore[arg-type]


async def test_server_error_retried(fake: FakeSlack) -> None:
    fake.fail_next("files.completeUploadExternal", status=500, times=1)
    client = AsyncWebClient(
        token=fake.bot_token,
        base_url=fake.api_url,
        retry_handlers=[AsyncServerErrorRetryHandler(1, FixedValueRetryIntervalCalculator(0.01))],
    )
    resp = await client.files_upload_v2(channel=CHANNEL, file=PNG, filename="a.png")
    assert resp["file"]["size"] == len(PNG)
    assert [c.status for c in fake.calls_to("files.completeUploadExternal")] == [500, 200]


async def test_scripted_api_error(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", status=200, error="is_archived")
    with pytest.raises(SlackApiError) as ei:
        await client.chat_postMessage(channel=CHANNEL, text="hi")
    assert ei.value.response["error"] == "is_archived"
    assert (await client.chat_postMessage(channel=CHANNEL, text="hi"))["ok"]


async def test_unknown_method_is_loud() -> None:
    fake = FakeSlack()
    with pytest.raises(AssertionError, match=r"conversations\.kick"):  # noqa: PT012 - raised on leaving the fake
        async with fake:
            client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
            with pytest.raises(SlackApiError) as ei:
                await client.conversations_kick(channel=CHANNEL, user="U1")
            assert ei.value.response["error"] == "unknown_method"
            with pytest.raises(AssertionError, match="unexpected"):
                await fake.wait_for(lambda: False, timeout=1)


async def test_missing_scope() -> None:
    async with FakeSlack(scopes=["chat:write"]) as fake:
        c = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
        with pytest.raises(SlackApiError) as ei:
            await c.files_upload_v2(channel=CHANNEL, file=PNG, filename="a.png")
        assert ei.value.response["error"] == "missing_scope"
        assert ei.value.response["needed"] == "files:write"


async def test_views_open_validation(fake: FakeSlack, client: AsyncWebClient) -> None:
    view = {
        "type": "modal",
        "callback_id": "edit",
        "title": {"type": "plain_text", "text": "Edit image"},
        "submit": {"type": "plain_text", "text": "Go"},
        "private_metadata": "job-1",
        "blocks": [
            {
                "type": "input",
                "block_id": "prompt",
                "label": {"type": "plain_text", "text": "Prompt"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
    }
    trigger = "12345.678.0123456789abcdef"
    with pytest.raises(SlackApiError) as ei:
        await client.views_open(
            trigger_id=trigger, view={**view, "title": {"type": "plain_text", "text": "x" * 25}}
        )
    assert ei.value.response["error"] == "invalid_arguments"
    with pytest.raises(SlackApiError):
        await client.views_open(trigger_id=trigger, view={**view, "private_metadata": "x" * 3001})
    opened = await client.views_open(trigger_id=trigger, view=view)
    assert fake.views[-1]["id"] == opened["view"]["id"]
    assert fake.views[-1]["private_metadata"] == "job-1"
    with pytest.raises(SlackApiError) as ei:
        await client.views_open(trigger_id=trigger, view=view)
    assert ei.value.response["error"] == "exchanged_trigger_id"
    updated = await client.views_update(
        view_id=opened["view"]["id"], view={**view, "private_metadata": "job-2"}
    )
    assert updated["view"]["id"] == opened["view"]["id"]
    assert fake.views[-1]["private_metadata"] == "job-2"


# --------------------------------------------------------------------------------------------
# File downloads
# --------------------------------------------------------------------------------------------


async def test_download_user_file_needs_token(fake: FakeSlack) -> None:
    f = fake.add_user_file("photo.png", PNG, "image/png")
    assert f["filetype"] == "png"
    assert f["size"] == len(PNG)
    assert f["id"].startswith("F")
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {fake.bot_token}"}
        async with http.get(f["url_private_download"], headers=headers) as r:
            assert r.status == 200
            assert r.content_type == "image/png"
            assert await r.read() == PNG
        async with http.get(f["url_private"], headers=headers) as r:
            assert await r.read() == PNG
        async with http.get(f["url_private_download"]) as r:
            assert r.status == 200
            assert r.content_type == "text/html"
            assert b"<html" in await r.read()
    assert [d["authorized"] for d in fake.downloads] == [True, True, False]


async def test_a_user_file_can_declare_a_false_size_and_stream_more(fake: FakeSlack) -> None:
    f = fake.add_user_file("liar.png", PNG, "image/png", size=10, stream_bytes=len(PNG) + 100_000)
    assert f["size"] == 10
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {fake.bot_token}"}
        async with http.get(f["url_private_download"], headers=headers) as r:
            assert r.status == 200
            assert r.content_length is None  # chunked: no size up front
            body = await r.read()
    assert body == PNG + bytes(100_000)
    [stream] = await fake.wait_for(lambda: [s for s in fake.streamed if s["done"]])
    assert stream["sent"] == stream["total"] == len(body)


# --------------------------------------------------------------------------------------------
# AsyncApp in HTTP mode, signed requests
# --------------------------------------------------------------------------------------------


def _app(client: AsyncWebClient) -> AsyncApp:
    return AsyncApp(client=client, signing_secret=SECRET)


async def test_slash_command_signed(fake: FakeSlack, client: AsyncWebClient) -> None:
    app = _app(client)
    seen: list[dict] = []

    @app.command("/imagine")
    async def imagine(ack, body, respond):
        seen.append(body)
        await ack("Working on it")
        await respond(text="queued", response_type="ephemeral")

    body = slash_command_body("/imagine", "a red fox", "U0ALICE", CHANNEL, fake=fake)
    resp = await app.async_dispatch(signed_request(body, FORM, secret=SECRET))
    assert resp.status == 200
    assert "Working on it" in resp.body
    assert seen[0]["text"] == "a red fox"
    assert seen[0]["trigger_id"]
    assert "thread_ts" not in seen[0]
    assert fake.calls[0].method == "auth.test"  # Bolt's single-team authorization on first dispatch
    [r] = await fake.wait_for(lambda: fake.responses)
    assert r["body"]["text"] == "queued"
    assert r["channel"] == CHANNEL
    assert r["user"] == "U0ALICE"
    assert fake.ephemerals[-1]["via"] == "response_url"


async def test_bad_signatures_rejected(fake: FakeSlack, client: AsyncWebClient) -> None:
    app = _app(client)
    ran: list[str] = []

    @app.command("/imagine")
    async def imagine(ack, body):
        ran.append(body["text"])
        await ack()

    body = slash_command_body("/imagine", "x", fake=fake)
    forged = signed_request(body, FORM, secret=SECRET, signature="v0=" + "0" * 64)
    assert (await app.async_dispatch(forged)).status == 401
    signed = signed_request(body, FORM, secret=SECRET)
    tampered = AsyncBoltRequest(body=body.replace("text=x", "text=y"), headers=signed.headers)
    assert (await app.async_dispatch(tampered)).status == 401
    assert (await app.async_dispatch(signed_request(body, FORM, secret="other"))).status == 401
    stale = signed_request(body, FORM, secret=SECRET, timestamp=int(time.time()) - 301)
    assert (await app.async_dispatch(stale)).status == 401
    assert ran == []
    assert (await app.async_dispatch(signed_request(body, FORM, secret=SECRET))).status == 200
    assert ran == ["x"]


async def test_url_verification(client: AsyncWebClient) -> None:
    resp = await _app(client).async_dispatch(
        signed_request(url_verification_body("abc"), JSON, secret=SECRET)
    )
    assert resp.status == 200
    assert json.loads(resp.body)["challenge"] == "abc"


async def test_app_mention_and_thread_message(fake: FakeSlack, client: AsyncWebClient) -> None:
    app = _app(client)
    mentions: list[dict] = []
    messages: list[dict] = []
    retry_headers: list = []

    @app.event("app_mention")
    async def on_mention(event, say, context, request):
        mentions.append(event)
        retry_headers.append(request.headers.get("x-slack-retry-num"))
        await say(text="on it", thread_ts=context.thread_ts or event["ts"])

    @app.message()
    async def on_message(message):
        messages.append(message)

    parent = fake.add_user_message(CHANNEL, "make me a logo")
    mention = app_mention_event("a fox", thread_ts=parent["ts"], channel_id=CHANNEL)
    req = signed_request(
        event_body(mention, fake=fake),
        JSON,
        secret=SECRET,
        headers={"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"},
    )
    assert (await app.async_dispatch(req)).status == 200
    [reply] = await fake.wait_for(lambda: fake.messages(CHANNEL, thread_ts=parent["ts"]))
    assert reply["text"] == "on it"
    assert mentions[0]["thread_ts"] == parent["ts"]
    assert mentions[0]["text"].startswith(f"<@{fake.bot_user_id}>")
    assert retry_headers == [["1"]]  # Bolt header values are lists

    f = fake.add_user_file("in.png", PNG, "image/png")
    msg = message_event("edit this", thread_ts=parent["ts"], files=[f])
    assert (await app.async_dispatch(signed_request(event_body(msg), JSON, secret=SECRET))).status == 200
    await fake.wait_for(lambda: messages)
    assert messages[0]["thread_ts"] == parent["ts"]
    assert messages[0]["subtype"] == "file_share"
    assert messages[0]["files"][0]["id"] == f["id"]


async def test_self_message_ignored(fake: FakeSlack, client: AsyncWebClient) -> None:
    app = _app(client)
    seen: list[dict] = []

    @app.message()
    async def on_message(message):
        seen.append(message)

    own = message_event("echo", user_id=fake.bot_user_id)
    own["bot_id"] = fake.bot_id
    assert (await app.async_dispatch(signed_request(event_body(own), JSON, secret=SECRET))).status == 200
    other = message_event("hello")
    assert (await app.async_dispatch(signed_request(event_body(other), JSON, secret=SECRET))).status == 200
    await fake.wait_for(lambda: seen)
    assert [m["text"] for m in seen] == ["hello"]


async def test_block_action_and_view_submission(fake: FakeSlack, client: AsyncWebClient) -> None:
    app = _app(client)
    clicked: list[dict] = []
    submitted: list[dict] = []

    @app.action("edit")
    async def on_edit(ack, body, action, client, context):
        await ack()
        clicked.append(
            {"value": action["value"], "thread_ts": context.thread_ts, "channel": context.channel_id}
        )
        await client.views_open(
            trigger_id=body["trigger_id"],
            view={
                "type": "modal",
                "callback_id": "edit_modal",
                "private_metadata": action["value"],
                "title": {"type": "plain_text", "text": "Edit"},
                "submit": {"type": "plain_text", "text": "Apply"},
                "blocks": [
                    {
                        "type": "input",
                        "block_id": "prompt",
                        "label": {"type": "plain_text", "text": "Prompt"},
                        "element": {"type": "plain_text_input", "action_id": "value"},
                    }
                ],
            },
        )

    @app.view("edit_modal")
    async def on_submit(ack, view):
        await ack()
        submitted.append(view)

    parent = await client.chat_postMessage(channel=CHANNEL, text="parent")
    posted = await client.chat_postMessage(
        channel=CHANNEL,
        thread_ts=parent["ts"],
        text="result",
        blocks=[{"type": "actions", "block_id": "acts", "elements": [_button("edit", "job-42", "Edit")]}],
    )
    msg = fake.message(CHANNEL, posted["ts"])
    body = block_actions_body("edit", message=msg, fake=fake)
    assert json.loads(urllib.parse.parse_qs(body)["payload"][0])["actions"][0]["block_id"] == "acts"
    assert (await app.async_dispatch(signed_request(body, FORM, secret=SECRET))).status == 200
    [view] = await fake.wait_for(lambda: fake.views)
    assert clicked == [{"value": "job-42", "thread_ts": parent["ts"], "channel": CHANNEL}]
    assert view["private_metadata"] == "job-42"

    with pytest.raises(ValueError, match="is not in the message's blocks"):
        block_actions_body("nope", message=msg)

    sub = view_submission_body("edit_modal", {"prompt": {"value": "make it blue"}}, view=view, fake=fake)
    resp = await app.async_dispatch(signed_request(sub, FORM, secret=SECRET))
    assert resp.status == 200
    assert submitted[0]["state"]["values"]["prompt"]["value"]["value"] == "make it blue"
    assert submitted[0]["private_metadata"] == "job-42"
    assert submitted[0]["id"] == view["id"]


async def test_held_calls_wait_for_the_release_and_are_dropped_when_the_caller_hung_up(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.hold("chat.postMessage")
    waiting = asyncio.ensure_future(client.chat_postMessage(channel=CHANNEL, text="held"))
    await fake.wait_for(lambda: fake.held == ["chat.postMessage"])
    assert not waiting.done()
    assert fake.messages(CHANNEL) == []
    fake.release("chat.postMessage")
    assert (await waiting)["ok"]
    assert [m["text"] for m in fake.messages(CHANNEL)] == ["held"]

    # A caller that goes away while held (a killed process): its message never appears.
    fake.hold("chat.postMessage")
    async with aiohttp.ClientSession() as http:
        gone = asyncio.ensure_future(
            http.post(
                f"{fake.api_url}chat.postMessage",
                json={"channel": CHANNEL, "text": "lost"},
                headers={"Authorization": f"Bearer {fake.bot_token}"},
            )
        )
        await fake.wait_for(lambda: len(fake.held) == 2)
        gone.cancel()
    fake.release("chat.postMessage")
    await fake.wait_for(lambda: fake.dropped == ["chat.postMessage"])
    assert [m["text"] for m in fake.messages(CHANNEL)] == ["held"]


# --- message metadata, conversations.replies, fault windows, held answers ------------------------

RESULT_METADATA = {"event_type": "imagebot_result", "event_payload": {"job_id": "j1"}}


async def test_metadata_is_stored_and_returned_only_when_asked(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="parent")
    reply = await client.chat_postMessage(
        channel=CHANNEL, text="result", thread_ts=parent["ts"], metadata=RESULT_METADATA
    )
    assert fake.message(CHANNEL, reply["ts"])["metadata"] == RESULT_METADATA
    plain = await client.conversations_replies(channel=CHANNEL, ts=parent["ts"])
    assert [m["text"] for m in plain["messages"]] == ["parent", "result"]
    assert all("metadata" not in m for m in plain["messages"])
    full = await client.conversations_replies(channel=CHANNEL, ts=parent["ts"], include_all_metadata=True)
    assert full["messages"][1]["metadata"] == RESULT_METADATA


async def test_bad_metadata_is_refused(client: AsyncWebClient) -> None:
    for metadata in (
        {"event_type": "has spaces", "event_payload": {}},
        {"event_type": "ok_type"},
        {"event_type": "ok_type", "event_payload": "not an object"},
    ):
        with pytest.raises(SlackApiError) as caught:
            await client.chat_postMessage(channel=CHANNEL, text="x", metadata=metadata)
        assert caught.value.response["error"] == "invalid_metadata_format"


async def test_replies_paginate_and_unknown_thread_is_an_error(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="p")
    for i in range(5):
        await client.chat_postMessage(channel=CHANNEL, text=f"r{i}", thread_ts=parent["ts"])
    seen, cursor = [], None
    while True:
        page = await client.conversations_replies(channel=CHANNEL, ts=parent["ts"], limit=2, cursor=cursor)
        seen += [m["text"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == ["p", "r0", "r1", "r2", "r3", "r4"]
    with pytest.raises(SlackApiError) as caught:
        await client.conversations_replies(channel=CHANNEL, ts="1700000000.000001")
    assert caught.value.response["error"] == "thread_not_found"


async def test_fail_for_lasts_a_time_not_a_count(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_for("chat.postMessage", 0.3, status=429, retry_after=1)
    for _ in range(3):
        with pytest.raises(SlackApiError) as caught:
            await client.chat_postMessage(channel=CHANNEL, text="x")
        assert caught.value.response.status_code == 429
        assert caught.value.response.headers["Retry-After"] == "1"
    # Once the window has passed, calls go through.
    await fake.wait_for(lambda: not fake.failing("chat.postMessage"), timeout=2)
    ok = await client.chat_postMessage(channel=CHANNEL, text="x")
    assert ok["ok"]


async def test_an_open_ended_outage_lasts_until_recover(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_for("chat.postMessage", None, status=503)
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel=CHANNEL, text="x")
    assert caught.value.response.status_code == 503
    assert fake.failing("chat.postMessage")
    fake.recover("chat.postMessage")
    assert not fake.failing("chat.postMessage")
    assert (await client.chat_postMessage(channel=CHANNEL, text="x"))["ok"]


async def test_upload_url_fails_for_a_while(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_for("upload", 5, status=500)
    with pytest.raises(Exception, match="status: 500"):
        await client.files_upload_v2(channel=CHANNEL, file=PNG, filename="a.png")
    assert not fake.messages(CHANNEL)


async def test_hold_answer_posts_then_waits(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.hold_answer("chat.postMessage", lambda args: bool(args.get("metadata")))
    await client.chat_postMessage(channel=CHANNEL, text="not held")
    call = asyncio.ensure_future(
        client.chat_postMessage(channel=CHANNEL, text="held", metadata=RESULT_METADATA)
    )
    await fake.wait_for(lambda: "chat.postMessage" in fake.held)
    assert [m["text"] for m in fake.messages(CHANNEL)] == ["not held", "held"]  # posted already
    assert not call.done()
    fake.release("chat.postMessage")
    assert (await call)["ok"]


# --- Socket Mode ----------------------------------------------------------------------------------


async def test_socket_mode_takes_the_app_token_sends_envelopes_and_records_acks(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    from slack_sdk.socket_mode.aiohttp import SocketModeClient
    from slack_sdk.socket_mode.response import SocketModeResponse

    with pytest.raises(SlackApiError) as refused:  # the bot token does not open a socket
        await client.apps_connections_open(app_token=fake.bot_token)
    assert refused.value.response["error"] == "invalid_auth"

    received: list[dict] = []

    async def listener(socket: SocketModeClient, request) -> None:
        received.append(request.payload)
        await socket.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    socket = SocketModeClient(app_token=fake.app_token, web_client=client)
    socket.socket_mode_request_listeners.append(listener)
    await socket.connect()
    try:
        await fake.wait_for(lambda: fake.sockets)
        body = slash_command_body("/imagine", "a cat", fake=fake)
        first = await fake.send_envelope("slash_commands", body)
        again = await fake.send_envelope("slash_commands", body, envelope_id=first)  # a redelivery
        assert again == first
        await fake.wait_for(lambda: len(fake.acked(first)) == 2)
        assert received[0]["command"] == "/imagine"
        assert received[0] == received[1]
    finally:
        await socket.close()
    await fake.wait_for(lambda: not fake.sockets)  # the fake sees the app hang up
