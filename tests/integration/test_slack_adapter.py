"""The Slack adapter through the REAL slack-bolt AsyncApp and slack-sdk, against FakeSlack and FakeOpenAI.

Requests are signed like Slack signs them and dispatched with `app.async_dispatch`; everything
the bot says arrives at FakeSlack, where the tests wait for it with `fake.wait_for(...)` (no sleeps).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.request import SocketModeRequest

from adapters.slack import SlackAdapter, SlackUser
from bot.config import Settings
from bot.domain import SessionKey, UserRef
from bot.service import ImageBot
from storage.store import Store
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import (
    DEFAULT_CHANNEL_ID,
    DEFAULT_USER_ID,
    FORM,
    JSON,
    FakeSlack,
    app_mention_event,
    block_actions_body,
    event_body,
    message_event,
    new_trigger_id,
    signed_request,
    slash_command_body,
    view_submission_body,
)
from tests.helpers import build_bot, make_settings, png
from tests.integration.helpers import RecordingPresenter

SECRET = "test-signing-secret"
CHANNEL = DEFAULT_CHANNEL_ID
ALICE = DEFAULT_USER_ID
BOB = "U0BOB"
ROOT = "U0ROOT"
NAMES = {ALICE: "alice", BOB: "bob", ROOT: "root"}


def slack_settings(data_dir: Path, slack: FakeSlack, openai: FakeOpenAI, **extra: object) -> Settings:
    values: dict[str, object] = {
        "imagebot_provider": "openai",
        "openai_api_key": "sk-test",
        "openai_base_url": openai.base_url,
        "imagebot_partial_images": 0,
        "imagebot_openai_max_retries": 0,
        "imagebot_provider_retry_seconds": 0.0,
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": SECRET,
        "slack_api_url": slack.api_url,
    }
    values.update(extra)
    return make_settings(data_dir, **values)


async def lookup(team_id: str, user_id: str) -> SlackUser | None:
    """Stands in for users.info (which FakeSlack does not serve): root is the workspace admin."""
    return SlackUser(NAMES.get(user_id, user_id), is_admin=user_id == ROOT)


@dataclass
class Harness:
    bot: ImageBot
    adapter: SlackAdapter
    slack: FakeSlack

    async def dispatch(
        self, body: str, content_type: str = FORM, headers: dict[str, str] | None = None
    ) -> BoltResponse:
        return await self.adapter.app.async_dispatch(
            signed_request(body, content_type, secret=SECRET, headers=headers)
        )

    async def command(self, command: str, text: str, user: str = ALICE) -> BoltResponse:
        body = slash_command_body(
            command, text, user_id=user, user_name=NAMES.get(user, user), fake=self.slack
        )
        return await self.dispatch(body)

    async def ask(self, text: str, user: str = ALICE) -> str:
        """`/imagebot TEXT`, and the private answer it gets."""
        count = len(self.slack.ephemerals)
        await self.command("/imagebot", text, user=user)
        await self.slack.wait_for(lambda: len(self.slack.ephemerals) > count)
        return str(self.slack.ephemerals[-1]["text"])

    async def event(self, event: dict[str, Any], event_id: str | None = None, **headers: str) -> BoltResponse:
        body = event_body(event, event_id, fake=self.slack)
        return await self.dispatch(body, JSON, {k.replace("_", "-"): v for k, v in headers.items()})

    async def click(
        self, message: dict[str, Any], action_id: str, user: str = ALICE, trigger_id: str | None = None
    ) -> BoltResponse:
        body = block_actions_body(
            action_id,
            user_id=user,
            user_name=NAMES.get(user, user),
            message=message,
            fake=self.slack,
            trigger_id=trigger_id,
        )
        return await self.dispatch(body)

    # --- reading what the bot posted ------------------------------------------------------------
    def parents(self) -> list[dict[str, Any]]:
        return [m for m in self.slack.messages(CHANNEL, top_level=True) if m.get("bot_id")]

    def thread(self, thread_ts: str) -> list[dict[str, Any]]:
        return self.slack.messages(CHANNEL, thread_ts=thread_ts)

    def file_messages(self, thread_ts: str) -> list[dict[str, Any]]:
        return [m for m in self.thread(thread_ts) if m.get("files")]

    def action_messages(self, thread_ts: str) -> list[dict[str, Any]]:
        return [m for m in self.thread(thread_ts) if action_ids(m) and not m["text"].startswith(("⏳", "🖌"))]

    async def wait_for_files(
        self, thread_ts: str, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        return await self.slack.wait_for(
            lambda: (f := self.file_messages(thread_ts)) and len(f) >= count and f, timeout
        )

    async def wait_for_actions(self, thread_ts: str, count: int = 1, timeout: float = 10.0) -> dict[str, Any]:
        messages = await self.slack.wait_for(
            lambda: (a := self.action_messages(thread_ts)) and len(a) >= count and a, timeout
        )
        return messages[count - 1]

    def uploaded(self, message: dict[str, Any]) -> list[bytes]:
        return [self.slack.file_bytes(f["id"]) or b"" for f in message["files"]]


def action_ids(message: dict[str, Any]) -> list[str]:
    return [
        element["action_id"]
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


def button_labels(message: dict[str, Any]) -> list[str]:
    return [
        element["text"]["text"]
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


def find_action(message: dict[str, Any], predicate: Callable[[str], bool]) -> str:
    matches = [a for a in action_ids(message) if predicate(a)]
    assert matches, f"no such button in {action_ids(message)}"
    return matches[0]


def response_json(response: BoltResponse) -> dict[str, Any]:
    return json.loads(response.body) if response.body else {}


@asynccontextmanager
async def running_slack(
    settings: Settings, slack: FakeSlack, **adapter_options: Any
) -> AsyncIterator[Harness]:
    store = await Store.open(settings.database_path, settings.blobs_dir)
    bot = build_bot(settings, store)
    adapter_options.setdefault("user_lookup", lookup)  # None: the real users.info lookup
    adapter = SlackAdapter(bot, settings, **adapter_options)
    await bot.start()
    try:
        yield Harness(bot, adapter, slack)
    finally:
        await adapter.stop()
        await bot.stop()
        await bot.provider.close()
        await store.close()


# ------------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def settings(data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI) -> Settings:
    return slack_settings(data_dir, slack, fake_openai)


@pytest.fixture
async def h(settings: Settings, slack: FakeSlack) -> AsyncIterator[Harness]:
    async with running_slack(settings, slack) as harness:
        yield harness


async def imagine_and_wait(h: Harness, text: str) -> tuple[str, dict[str, Any]]:
    """/imagine, then wait for the result's buttons; returns (thread ts, the actions message)."""
    response = await h.command("/imagine", text)
    assert response.status == 200
    parent = await h.slack.wait_for(lambda: h.parents() and h.parents()[-1])
    actions = await h.wait_for_actions(parent["ts"])
    return parent["ts"], actions


# ------------------------------------------------------------------------------------------------
# /imagine
# ------------------------------------------------------------------------------------------------


async def test_imagine_is_acked_at_once_then_posts_a_grid_and_buttons_in_its_thread(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    fake_openai.gate = asyncio.Event()  # the provider takes as long as the test wants
    started = time.monotonic()
    response = await h.command("/imagine", "a red fox in fresh snow --ar 3:2")
    assert time.monotonic() - started < 3.0
    assert response.status == 200
    assert response.body == ""  # nothing public until the request is accepted

    await fake_openai.wait_for_requests(1)  # the provider is busy with it...
    [parent] = await slack.wait_for(lambda: h.parents())
    assert "a red fox in fresh snow" in parent["text"]
    assert "alice" in parent["text"]
    # ...and the parent message says where the job stands, with a Cancel button.
    # (queued or already working: which one shows depends on how fast the job starts)
    await slack.wait_for(lambda: "job `" in slack.message(CHANNEL, parent["ts"])["text"].lower())
    assert any(a.startswith("ib:cancel:") for a in action_ids(slack.message(CHANNEL, parent["ts"])))

    fake_openai.gate.set()
    [files] = await h.wait_for_files(parent["ts"])
    [grid] = files["files"]
    assert grid["name"].endswith("-grid.jpg")
    assert grid["mimetype"] == "image/jpeg"
    assert "by alice" in files["text"]
    assert "gpt-image-2" in files["text"]
    actions = await h.wait_for_actions(parent["ts"])
    labels = button_labels(actions)
    assert labels == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "🔄"]
    for block in actions["blocks"]:
        for element in block.get("elements", []):
            assert element["value"] == element["action_id"]
            assert element["action_id"].startswith("ib:")
    assert fake_openai.last.fields["size"] == "1536x1024"
    assert fake_openai.last.fields["n"] == 4
    # The parent ends as a summary, without buttons.
    await slack.wait_for(lambda: "✅ Done" in slack.message(CHANNEL, parent["ts"])["text"])
    assert action_ids(slack.message(CHANNEL, parent["ts"])) == []
    # Everything went into the thread: one top-level message only.
    assert len(slack.messages(CHANNEL, top_level=True)) == 1
    assert all(u["thread_ts"] == parent["ts"] for u in slack.uploads)


async def test_bad_flags_get_an_ephemeral_message_and_nothing_public(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    await h.command("/imagine", "a cat --bogus 3")
    await h.command("/imagine", "a cat --ar 7:1")
    await h.command("/imagine", "a cat --n 20")
    await slack.wait_for(lambda: len(slack.ephemerals) == 3)
    texts = [e["text"] for e in slack.ephemerals]
    assert "unknown option --bogus" in texts[0]
    assert "1:3" in texts[1] or "3:1" in texts[1]
    assert "--n" in texts[2]
    assert {e["user"] for e in slack.ephemerals} == {ALICE}
    assert slack.messages(CHANNEL) == []
    assert fake_openai.requests == []


async def test_empty_imagine_answers_with_usage_in_the_ack(h: Harness, slack: FakeSlack) -> None:
    response = await h.command("/imagine", "   ")
    assert response.status == 200
    assert "/imagine a red fox" in response.body
    assert slack.messages(CHANNEL) == []


async def test_a_429_from_chat_post_message_is_retried(h: Harness, slack: FakeSlack) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    await h.command("/imagine", "a lighthouse --n 1")
    await slack.wait_for(lambda: h.parents(), timeout=15)
    posts = slack.calls_to("chat.postMessage")
    assert posts[0].status == 429
    assert posts[1].ok
    assert posts[0].args["text"] == posts[1].args["text"]  # the same message, retried by the client
    [parent] = h.parents()
    await h.wait_for_actions(parent["ts"])
    assert slack.ephemerals == []


async def test_not_in_channel_is_explained_privately(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    slack.add_channel("C0SECRET", is_member=False)
    body = slash_command_body("/imagine", "a cat", channel_id="C0SECRET", fake=slack)
    await h.dispatch(body)
    # chat.postEphemeral fails there too, so the answer goes through the command's response_url.
    await slack.wait_for(lambda: slack.responses)
    assert "/invite @imagebot" in slack.responses[0]["body"]["text"]
    assert slack.responses[0]["body"]["response_type"] == "ephemeral"
    assert fake_openai.requests == []


# ------------------------------------------------------------------------------------------------
# buttons
# ------------------------------------------------------------------------------------------------


async def test_u2_posts_that_image_alone_with_its_buttons(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    thread, actions = await imagine_and_wait(h, "four owls --n 4")
    u2 = find_action(actions, lambda a: a.startswith("ib:u:") and a.endswith(":2"))
    assert (await h.click(actions, u2)).status == 200
    files = await h.wait_for_files(thread, count=2)
    [image] = h.uploaded(files[1])
    assert image == fake_openai.returned[0][1]  # the second image, at full resolution
    single = await h.wait_for_actions(thread, count=2)
    assert button_labels(single) == [
        "Upscale",
        "Vary (Subtle)",
        "Vary (Strong)",
        "Edit…",
        "Zoom out 1.5×",
        "Zoom out 2×",
        "Make 16:9",  # a square image: reframing to its own aspect is not offered
        "Make 9:16",
        "Remove background",
        "Undo",
        "Describe",
    ]
    assert len(fake_openai.requests) == 1  # selecting costs nothing
    session = await h.bot.session_state(SessionKey("slack", slack.team_id, CHANNEL, thread))
    assert session is not None
    assert session.current_image_id == files[1]["files"][0]["name"].split("-")[1].split(".")[0]


async def test_v1_makes_variations_of_image_one(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    thread, actions = await imagine_and_wait(h, "a teapot --n 2")
    v1 = find_action(actions, lambda a: a.startswith("ib:v:") and a.endswith(":1"))
    await h.click(actions, v1)
    edit = await fake_openai.wait_for_requests(2)
    assert edit.endpoint == "edits"
    assert edit.images[0].data == fake_openai.returned[0][0]
    await h.wait_for_files(thread, count=2)
    # The job had its own status message in the thread, ending as done.
    status = await slack.wait_for(lambda: [m for m in h.thread(thread) if "✅ Done" in m["text"]])
    assert "Vary (Strong)" in status[0]["text"]
    variations = await h.wait_for_actions(thread, count=2)
    assert button_labels(variations)[:2] == ["U1", "U2"]


async def test_edit_button_opens_a_modal_whose_submit_edits_that_image(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    thread, actions = await imagine_and_wait(h, "a bottle on a table --n 1")
    edit_id = find_action(actions, lambda a: a.startswith("ib:edit:"))
    image_id = edit_id.split(":")[2]
    trigger = new_trigger_id()
    await h.click(actions, edit_id, trigger_id=trigger)
    opened = await slack.wait_for(lambda: slack.view_calls)
    assert opened[0]["method"] == "views.open"
    assert opened[0]["trigger_id"] == trigger
    view = slack.views[-1]
    assert view["callback_id"] == "ib_edit"
    assert image_id in view["private_metadata"]

    empty = await h.dispatch(
        view_submission_body("ib_edit", {"instruction": {"text": "  "}}, view=view, fake=slack)
    )
    assert response_json(empty)["response_action"] == "errors"

    submit = view_submission_body(
        "ib_edit", {"instruction": {"text": "make the label gold"}}, view=view, fake=slack
    )
    response = await h.dispatch(submit)
    assert response.status == 200
    assert response.body == ""
    edit = await fake_openai.wait_for_requests(2)
    assert edit.endpoint == "edits"
    assert edit.fields["prompt"] == "make the label gold"
    assert edit.images[0].data == fake_openai.returned[0][0]
    await h.wait_for_files(thread, count=2)


async def test_a_click_on_an_old_message_works_after_a_restart(
    settings: Settings, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running_slack(settings, slack) as first:
        thread, actions = await imagine_and_wait(first, "two kites --n 2")
    # A new process: a new ImageBot and a new SlackAdapter on the same data directory.
    async with running_slack(settings, slack) as second:
        u2 = find_action(actions, lambda a: a.startswith("ib:u:") and a.endswith(":2"))
        await second.click(actions, u2)
        files = await second.wait_for_files(thread, count=2)
        assert second.uploaded(files[1]) == [fake_openai.returned[0][1]]
        single = await second.wait_for_actions(thread, count=2)
        upscale = find_action(single, lambda a: a.startswith("ib:upscale:"))
        await second.click(single, upscale)
        await second.wait_for_files(thread, count=3)
        assert fake_openai.last.endpoint == "edits"


async def test_a_failed_job_says_why_in_the_thread_with_a_retry_button(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next(503, times=2)  # the job's one extra attempt after a 5xx fails too
    await h.command("/imagine", "a storm at sea --n 1")
    [parent] = await slack.wait_for(lambda: h.parents())
    failure = await slack.wait_for(lambda: [m for m in h.thread(parent["ts"]) if m["text"].startswith("❌")])
    retry = find_action(failure[0], lambda a: a.startswith("ib:retry:"))
    await slack.wait_for(lambda: "failed" in slack.message(CHANNEL, parent["ts"])["text"])
    await h.click(failure[0], retry)
    await h.wait_for_files(parent["ts"])
    assert len(fake_openai.requests) == 3


async def test_cancel_button_on_the_parent_cancels_the_job(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    fake_openai.gate = asyncio.Event()
    await h.command("/imagine", "a slow painting --n 1")
    await fake_openai.wait_for_requests(1)
    parent = await slack.wait_for(
        lambda: (p := h.parents()) and action_ids(slack.message(CHANNEL, p[0]["ts"])) and p[0]
    )
    parent = slack.message(CHANNEL, parent["ts"])
    cancel = find_action(parent, lambda a: a.startswith("ib:cancel:"))
    await h.click(parent, cancel, user=BOB)  # not Bob's job
    await slack.wait_for(lambda: slack.ephemerals)
    assert slack.ephemerals[-1]["user"] == BOB
    assert "Only alice" in slack.ephemerals[-1]["text"]
    await h.click(parent, cancel)
    await slack.wait_for(lambda: "Cancelled" in slack.message(CHANNEL, parent["ts"])["text"])
    assert h.file_messages(parent["ts"]) == []


# ------------------------------------------------------------------------------------------------
# messages: mentions and thread replies
# ------------------------------------------------------------------------------------------------


async def test_a_thread_reply_with_an_image_edits_the_current_image_using_both(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    thread, _ = await imagine_and_wait(h, "a plain white bottle --n 1")
    logo = png(color=(10, 120, 250))
    shared = slack.add_user_file("logo.png", logo)
    event = message_event("put this logo on the bottle", thread_ts=thread, files=[shared])
    await h.event(event)
    edit = await fake_openai.wait_for_requests(2)
    assert edit.endpoint == "edits"
    assert edit.fields["prompt"] == "put this logo on the bottle"
    assert len(edit.images) == 2
    assert [f.field for f in edit.images] == ["image[]", "image[]"]
    assert edit.images[0].data == fake_openai.returned[0][0]  # the current image first
    assert edit.images[1].data == logo  # then the reference
    assert slack.downloads == [
        {"file_id": shared["id"], "authorized": True, "path": slack.downloads[0]["path"]}
    ]
    await h.wait_for_files(thread, count=2)


async def test_a_non_image_file_in_a_thread_reply_gets_a_clear_message(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    thread, _ = await imagine_and_wait(h, "a poster --n 1")
    pdf = slack.add_user_file("brief.pdf", b"%PDF-1.7 not an image", "application/pdf")
    await h.event(message_event("use this brief", thread_ts=thread, files=[pdf]))
    [note] = await slack.wait_for(lambda: slack.ephemerals)
    assert "brief.pdf is not an image" in note["text"]
    assert note["thread_ts"] == thread
    assert note["user"] == ALICE
    assert slack.downloads == []
    assert len(fake_openai.requests) == 1


async def test_a_mention_at_the_top_level_starts_a_session_in_its_thread(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    mention = app_mention_event("a paper crane --n 1", bot_user_id=slack.bot_user_id)
    user_message = slack.add_user_message(CHANNEL, mention["text"])
    mention["ts"] = mention["event_ts"] = user_message["ts"]
    await h.event(mention)
    await h.wait_for_files(user_message["ts"])
    assert fake_openai.last.fields["prompt"] == "a paper crane"  # the mention is not part of the prompt
    # Then a plain reply in that thread (no mention) edits the image.
    await h.event(message_event("make it red", thread_ts=user_message["ts"]))
    edit = await fake_openai.wait_for_requests(2)
    assert edit.fields["prompt"] == "make it red"


async def test_a_redelivered_event_does_not_run_twice(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    mention = app_mention_event("a lantern --n 1", bot_user_id=slack.bot_user_id)
    first = await h.event(mention, event_id="Ev0REDELIVER")
    again = await h.event(
        mention, event_id="Ev0REDELIVER", x_slack_retry_num="1", x_slack_retry_reason="http_timeout"
    )
    assert first.status == again.status == 200
    await h.wait_for_files(mention["ts"])
    await h.adapter.wait_idle(10)
    assert len(fake_openai.requests) == 1
    assert len(h.file_messages(mention["ts"])) == 1


async def test_a_mention_in_a_session_thread_arrives_twice_and_is_handled_once(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    thread, _ = await imagine_and_wait(h, "a cabin --n 1")
    text = f"<@{slack.bot_user_id}> add snow"
    message = message_event(text, thread_ts=thread)
    mention = app_mention_event(text, bot_user_id=slack.bot_user_id, thread_ts=thread, ts=message["ts"])
    await h.event(message)
    await h.event(mention)  # Slack sends both, with different event ids
    await h.wait_for_files(thread, count=2)
    await h.adapter.wait_idle(10)
    assert len(fake_openai.requests) == 2
    assert fake_openai.last.fields["prompt"] == "add snow"


async def test_other_threads_and_the_bots_own_messages_are_ignored(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    parent = slack.add_user_message(CHANNEL, "lunch?")
    await h.event(message_event("pizza", thread_ts=parent["ts"]))
    own = message_event("🎨 Here you go", user_id=slack.bot_user_id, thread_ts=parent["ts"])
    own["bot_id"] = slack.bot_id
    await h.event(own)
    await h.event(message_event("just chatting"))
    await h.adapter.wait_idle(10)
    assert slack.ephemerals == []
    assert fake_openai.requests == []
    assert [c.method for c in slack.calls] == ["auth.test"]


# ------------------------------------------------------------------------------------------------
# /imagebot
# ------------------------------------------------------------------------------------------------


async def test_imagebot_subcommands(h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI) -> None:
    ask = h.ask

    assert "`/imagine &lt;prompt&gt; [--flags]`" in await ask("help")  # Slack shows &lt; as <
    assert "`/imagebot help tips`" in await ask("")
    assert "Prompt tips" in await ask("help tips")
    assert "I don't know `/imagebot help` topic" not in await ask("help options")
    assert "--n 2" in await ask("settings me --n 2")
    assert "Only admins" in await ask("settings channel --n 1")
    assert "--quality high" in await ask("settings channel --quality high", user=ROOT)
    assert "This channel's defaults: --quality high" in await ask("settings")
    assert "I don't know `/imagebot frobnicate`" in await ask("frobnicate")
    assert "You have nothing queued" in await ask("queue")
    assert "You today: 0 images" in await ask("usage")
    assert "Team this month" in await ask("usage", user=ROOT)
    assert "no job queued" in await ask("cancel")

    await imagine_and_wait(h, "a comet --n 1")
    assert fake_openai.last.fields["n"] == 1  # --n 1 in the prompt beats my default of 2
    history = await ask("history mine")
    image_id = history.split("`")[1]
    assert "No image or set with id `nope`" in await ask("show nope")
    await h.command("/imagebot", f"show {image_id}")
    shown = await slack.wait_for(lambda: len(h.parents()) == 2 and h.parents()[-1])
    files = await h.wait_for_files(shown["ts"])
    assert h.uploaded(files[0]) == [fake_openai.returned[0][0]]
    # The shown image starts a session in its thread: a reply there edits it.
    await h.event(message_event("add a tail", thread_ts=shown["ts"]))
    edit = await fake_openai.wait_for_requests(2)
    assert edit.images[0].data == fake_openai.returned[0][0]
    assert slack.deleted_messages == []  # an unknown id never made it to the channel


# ------------------------------------------------------------------------------------------------
# HTTP mode, signatures, Socket Mode settings
# ------------------------------------------------------------------------------------------------


async def test_a_tampered_or_stale_signature_is_rejected(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    body = slash_command_body("/imagine", "a cat", fake=slack)
    tampered = signed_request(body, FORM, secret=SECRET, signature="v0=" + "0" * 64)
    assert (await h.adapter.app.async_dispatch(tampered)).status == 401
    wrong_secret = signed_request(body, FORM, secret="not-the-secret")
    assert (await h.adapter.app.async_dispatch(wrong_secret)).status == 401
    stale = signed_request(body, FORM, secret=SECRET, timestamp=int(time.time()) - 301)
    assert (await h.adapter.app.async_dispatch(stale)).status == 401
    await h.adapter.wait_idle(10)
    assert slack.messages(CHANNEL) == []
    assert slack.ephemerals == []
    assert fake_openai.requests == []


async def test_http_mode_serves_slack_events_with_signature_verification(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    port = await h.adapter.start_http(0, host="127.0.0.1")
    url = f"http://127.0.0.1:{port}/slack/events"

    def headers(body: str, content_type: str, **extra: str) -> dict[str, str]:
        request = signed_request(body, content_type, secret=SECRET, **extra)  # type: ignore[arg-type]
        return {k: v[0] for k, v in request.headers.items()}

    challenge = json.dumps({"token": "t", "challenge": "abc123", "type": "url_verification"})
    command = slash_command_body("/imagine", "a harbour at dawn --n 1", fake=slack)
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=challenge, headers=headers(challenge, JSON)) as response:
            assert response.status == 200
            assert (await response.json())["challenge"] == "abc123"
        bad = headers(command, FORM, signature="v0=" + "1" * 64)
        async with http.post(url, data=command, headers=bad) as response:
            assert response.status == 401
        async with http.post(url, data=command, headers=headers(command, FORM)) as response:
            assert response.status == 200
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
    [parent] = await slack.wait_for(lambda: h.parents())
    await h.wait_for_files(parent["ts"])
    assert len(fake_openai.requests) == 1  # the tampered copy did nothing


async def test_modes_say_what_is_missing(data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI) -> None:
    settings = slack_settings(data_dir, slack, fake_openai, slack_signing_secret=None)
    async with running_slack(settings, slack) as harness:
        with pytest.raises(ValueError, match="SLACK_APP_TOKEN"):
            await harness.adapter.start_socket_mode()
        with pytest.raises(ValueError, match="SLACK_SIGNING_SECRET"):
            await harness.adapter.start_http(0, host="127.0.0.1")
    store = await Store.open(settings.database_path, settings.blobs_dir)
    try:
        no_token = make_settings(data_dir, slack_api_url=slack.api_url)
        with pytest.raises(ValueError, match="SLACK_BOT_TOKEN"):
            SlackAdapter(build_bot(no_token, store), no_token)
    finally:
        await store.close()


async def test_redelivery_is_remembered_across_a_restart(
    settings: Settings, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    mention = app_mention_event("a compass --n 1", bot_user_id=slack.bot_user_id)
    async with running_slack(settings, slack) as first:
        await first.event(mention, event_id="Ev0ACROSS")
        await first.wait_for_files(mention["ts"])
    async with running_slack(settings, slack) as second:
        response = await second.event(mention, event_id="Ev0ACROSS", x_slack_retry_num="2")
        assert response.status == 200
        await second.adapter.wait_idle(10)
    assert len(fake_openai.requests) == 1


# ------------------------------------------------------------------------------------------------
# progress and upload limits
# ------------------------------------------------------------------------------------------------


async def test_queue_position_then_progress_on_the_status_message(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    settings = slack_settings(
        data_dir, slack, fake_openai, imagebot_max_concurrency=1, imagebot_partial_images=1
    )
    fake_openai.gate = asyncio.Event()
    async with running_slack(settings, slack, status_interval=0.05) as h:
        await h.command("/imagine", "first --n 1")
        await fake_openai.wait_for_requests(1)
        await h.command("/imagine", "second --n 1", user=BOB)
        second = await slack.wait_for(lambda: len(h.parents()) == 2 and h.parents()[1])
        await slack.wait_for(lambda: "#1 in line" in slack.message(CHANNEL, second["ts"])["text"])
        fake_openai.gate.set()
        await slack.wait_for(lambda: "✅ Done" in slack.message(CHANNEL, second["ts"])["text"])
        texts = [c.args["text"] for c in slack.calls_to("chat.update") if c.args["ts"] == second["ts"]]
        assert texts[-1].count("✅ Done") == 1
        assert any("#1 in line" in t for t in texts)
        assert "bob" in texts[-1]
        assert "“second”" in texts[-1]


async def test_a_result_over_the_upload_limit_is_re_encoded_and_says_so(
    settings: Settings, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running_slack(settings, slack, max_upload_bytes=6000) as h:
        thread, _ = await imagine_and_wait(h, "a noisy texture --n 1")
        [message] = h.file_messages(thread)
        [uploaded] = message["files"]
        assert uploaded["size"] <= 6000
        assert not uploaded["name"].endswith(".png")
        assert "upload limit" in message["text"]
        assert "the original PNG" in message["text"]


async def test_socket_mode_envelopes_work_unsigned_and_redeliveries_run_once(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    # The exact path AsyncSocketModeHandler takes for every envelope it receives.
    mention = app_mention_event("a windmill --n 1", bot_user_id=slack.bot_user_id)
    payload = json.loads(event_body(mention, "Ev0SOCKET", fake=slack))
    first = SocketModeRequest("events_api", "env-1", payload, retry_attempt=0)
    again = SocketModeRequest("events_api", "env-2", payload, retry_attempt=1, retry_reason="timeout")
    assert (await run_async_bolt_app(h.adapter.app, first)).status == 200
    assert (await run_async_bolt_app(h.adapter.app, again)).status == 200
    await h.wait_for_files(mention["ts"])
    await h.adapter.wait_idle(10)
    assert len(fake_openai.requests) == 1

    command = dict(urllib.parse.parse_qsl(slash_command_body("/imagebot", "usage", fake=slack)))
    response = await run_async_bolt_app(h.adapter.app, SocketModeRequest("slash_commands", "env-3", command))
    assert response.status == 200
    await slack.wait_for(lambda: slack.ephemerals)
    assert "You today: 1 image," in slack.ephemerals[-1]["text"]


async def test_workspace_admins_are_recognised_through_users_info(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with FakeSlack() as slack:
        slack.add_user(ALICE, "Alice")
        slack.add_user(ROOT, "Root", is_owner=True)
        settings = slack_settings(data_dir, slack, fake_openai)
        async with running_slack(settings, slack, user_lookup=None) as h:
            ask = h.ask

            assert "Only admins" in await ask("settings workspace --n 1", ALICE)
            assert "--n 1" in await ask("settings workspace --n 1", ROOT)
            assert slack.calls_to("users.info")  # asked Slack, not a list of our own


async def test_a_result_stored_but_never_posted_is_delivered_on_the_next_start(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with FakeSlack() as slack:
        settings = slack_settings(data_dir, slack, fake_openai)
        parent = slack.add_user_message(CHANNEL, "an /imagine parent")
        where = SessionKey("slack", slack.team_id, CHANNEL, parent["ts"])
        # A run that stored the result and stopped before Slack heard of it (no Slack presenter).
        store = await Store.open(settings.database_path, settings.blobs_dir)
        bot = build_bot(settings, store)
        stand_in = RecordingPresenter()
        bot.register_presenter("slack", stand_in)
        await bot.start()
        job_id = (await bot.imagine(UserRef("slack", ALICE, "alice"), where, "a late comet --n 1")).job_id
        await stand_in.final(job_id)
        await bot.stop()
        await bot.provider.close()
        await store.close()
        assert not [m for m in slack.messages(CHANNEL, thread_ts=parent["ts"]) if m.get("files")]

        async with running_slack(settings, slack) as h:
            await h.adapter.start_http(0)
            [posted] = await h.wait_for_files(parent["ts"])
            assert h.uploaded(posted) == [fake_openai.returned[0][0]]
        async with running_slack(settings, slack) as h:  # and never twice
            await h.adapter.start_http(0)
        assert len(h.file_messages(parent["ts"])) == 1
