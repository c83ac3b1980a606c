"""The Discord adapter through the real discord.py, against fakes of Discord (REST + gateway)
and of the OpenAI Images API."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import discord
import pytest
from PIL import Image

from adapters.discord.app import DiscordAdapter
from bot.domain import JobStatus
from storage.store import Store
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.helpers import build_bot, make_settings, png


def settings_for(data_dir: Path, discord_fake: FakeDiscord, openai_fake: FakeOpenAI, **extra: object):
    values = {
        "imagebot_provider": "openai",
        "openai_api_key": "sk-test",
        "openai_base_url": openai_fake.base_url,
        "imagebot_partial_images": 0,
        "imagebot_openai_max_retries": 0,
        "discord_token": discord_fake.token,
        "discord_api_base_url": discord_fake.api_base,
    }
    values.update(extra)
    return make_settings(data_dir, **values)


@asynccontextmanager
async def discord_bot(settings) -> AsyncIterator[DiscordAdapter]:
    """The adapter as `imagebot discord` runs it: login, gateway, command sync."""
    old_base, old_gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    store = await Store.open(settings.database_path, settings.blobs_dir)
    bot = build_bot(settings, store)
    adapter = DiscordAdapter(bot, settings, client_options={"guild_ready_timeout": 0.05})
    await bot.start()
    runner = asyncio.create_task(adapter.start())
    try:
        async with asyncio.timeout(10):
            await adapter.ready.wait()
        yield adapter
    finally:
        await adapter.close()
        await asyncio.gather(runner, return_exceptions=True)
        await bot.stop()
        await bot.provider.close()
        await store.close()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway


def channel_id(fake: FakeDiscord) -> str:
    return next(c["id"] for c in fake.channels.values() if c.get("name") == "general")


def button_ids(message: dict) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row.get("components", [])]


def labels(message: dict) -> list[str]:
    return [c.get("label") for row in message.get("components", []) for c in row.get("components", [])]


def done_message(fake: FakeDiscord, channel: str, marker: str) -> dict | None:
    """The newest message in `channel` whose content contains `marker` and that has files."""
    for message in reversed(fake.messages_in(channel)):
        if marker in message.get("content", "") and message.get("attachments"):
            return message
    return None


async def original_containing(fake: FakeDiscord, payload: dict, text: str, timeout: float = 5.0) -> dict:
    """Wait until the interaction's original response mentions `text`; returns that message."""
    return await fake.wait_for(
        lambda f: (m := f.original_message(payload["id"])) and text in m["content"] and m, timeout=timeout
    )


async def imagine(fake: FakeDiscord, text: str, **options: object) -> tuple[dict, dict]:
    """Run /imagine in #general; returns (interaction payload, the finished result message)."""
    payload = fake.slash_interaction("imagine", {"prompt": text, **options}, channel=channel_id(fake))
    await fake.dispatch("INTERACTION_CREATE", payload)

    def finished(f: FakeDiscord):
        message = f.original_message(payload["id"])
        return (
            message
            if message and message.get("attachments") and "Here you go" in message["content"]
            else None
        )

    return payload, await fake.wait_for(finished, timeout=15)


async def test_imagine_defers_at_once_then_posts_grid_buttons_and_thread(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    # The provider answers only when the test opens the gate: a slow provider must not delay the
    # acknowledgement, which must come while the image is still being made.
    fake_openai.gate = asyncio.Event()
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        assert {c["name"] for c in fake_discord.global_commands()} >= {
            "imagine",
            "edit",
            "settings",
            "show",
            "history",
            "queue",
            "cancel",
            "usage",
            "help",
            "Edit image",
            "Vary image",
        }
        started = time.monotonic()
        payload = fake_discord.slash_interaction(
            "imagine", {"prompt": "a red fox in snow", "n": 4}, channel=channel_id(fake_discord)
        )
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        await fake_discord.wait_for(lambda f: f.interactions[payload["id"]].response is not None)
        assert time.monotonic() - started < 3.0
        assert fake_discord.interaction_responses[payload["id"]]["type"] == 5  # deferred, "thinking…"

        fake_openai.gate.set()
        result = await fake_discord.wait_for(
            lambda f: (m := f.original_message(payload["id"])) and m.get("attachments") and m, timeout=15
        )
        assert "a red fox in snow" in result["content"]
        assert labels(result) == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "🔄"]
        grid = Image.open(io.BytesIO(fake_discord.file_bytes(result["attachments"][0])))
        assert grid.size[0] > 1024  # a 2x2 grid preview
        thread = fake_discord.channels[result["id"]]  # a thread started from the result message
        assert thread["type"] == 11
        assert thread["name"] == "a red fox in snow"


async def test_select_vary_edit_form_and_thread_reply(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        _, result = await imagine(fake_discord, "four kites --n 4")
        thread_id = result["id"]
        user = fake_discord.default_user

        # U2: the second image alone, at full resolution, in the thread, with single-image buttons.
        u2 = next(c for c in button_ids(result) if c.endswith(":2") and c.startswith("ib:u:"))
        await fake_discord.dispatch(
            "INTERACTION_CREATE", fake_discord.component_interaction(result["id"], u2, user)
        )
        selected = await fake_discord.wait_for(lambda f: done_message(f, thread_id, "Image 2"))
        assert fake_discord.file_bytes(selected["attachments"][0]) == fake_openai.returned[0][1]
        assert "Upscale" in labels(selected)
        assert "Edit…" in labels(selected)

        # V1: variations of image 1 (an edit whose input is that image), posted in the thread.
        v1 = next(c for c in button_ids(result) if c.startswith("ib:v:") and c.endswith(":1"))
        await fake_discord.dispatch(
            "INTERACTION_CREATE", fake_discord.component_interaction(result["id"], v1, user)
        )
        varied = await fake_discord.wait_for(lambda f: done_message(f, thread_id, "variations"))
        assert fake_openai.requests[1].endpoint == "edits"
        assert fake_openai.requests[1].images[0].data == fake_openai.returned[0][0]
        assert labels(varied)[:2] == ["U1", "U2"]

        # Edit… on the selected image opens a form; submitting it edits that image.
        edit_id = next(c for c in button_ids(selected) if c.startswith("ib:edit:"))
        click = fake_discord.component_interaction(selected["id"], edit_id, user)
        await fake_discord.dispatch("INTERACTION_CREATE", click)
        await fake_discord.wait_for(lambda f: f.interactions[click["id"]].response is not None)
        assert fake_discord.interaction_responses[click["id"]]["type"] == 9
        form_id = fake_discord.interaction_responses[click["id"]]["data"]["custom_id"]
        submit = fake_discord.modal_submit(form_id, {"instruction": "make it night"})
        await fake_discord.dispatch("INTERACTION_CREATE", submit)
        edited = await fake_discord.wait_for(lambda f: done_message(f, thread_id, "Edited"))
        assert "Upscale" in labels(edited)
        assert fake_openai.requests[2].fields["prompt"] == "make it night"
        assert fake_openai.requests[2].images[0].data == fake_openai.returned[0][1]

        # A plain reply in the thread edits the current image (the one just edited), with the
        # attached picture as an extra reference.
        logo = fake_discord.add_attachment("logo.png", png(256, 256), "image/png", channel_id=thread_id)
        message = fake_discord.message_create(thread_id, "put this logo on the kite", attachments=[logo])
        await fake_discord.dispatch("MESSAGE_CREATE", message)
        reply_edit = await fake_openai.wait_for_requests(4)
        assert reply_edit.fields["prompt"] == "put this logo on the kite"
        assert [f.field for f in reply_edit.files] == ["image[]", "image[]"]
        assert reply_edit.files[0].data == fake_openai.returned[2][0]  # the current image first
        await fake_discord.wait_for(
            lambda f: (
                sum(1 for m in f.messages_in(thread_id) if "Edited" in m["content"] and m.get("attachments"))
                >= 2
            )
        )


async def test_buttons_work_after_a_restart(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    settings = settings_for(data_dir, fake_discord, fake_openai)
    async with discord_bot(settings):
        _, result = await imagine(fake_discord, "a castle --n 2")
    async with discord_bot(settings):  # a new process: nothing in memory
        u1 = next(c for c in button_ids(result) if c.startswith("ib:u:") and c.endswith(":1"))
        await fake_discord.dispatch(
            "INTERACTION_CREATE", fake_discord.component_interaction(result["id"], u1)
        )
        selected = await fake_discord.wait_for(lambda f: done_message(f, result["id"], "Image 1"))
        assert fake_discord.file_bytes(selected["attachments"][0]) == fake_openai.returned[0][0]


async def test_oversized_result_is_reencoded_under_the_limit(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        limit = 8 * 1024  # the fake's flat-colour PNGs are small, so the limit is made smaller still
        payload = fake_discord.slash_interaction(
            "imagine",
            {"prompt": "noise --n 1 --size 2048x2048"},
            channel=channel_id(fake_discord),
            attachment_size_limit=limit,
        )
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        result = await fake_discord.wait_for(
            lambda f: (
                (m := f.original_message(payload["id"]))
                and m.get("attachments")
                and "Here" in m["content"]
                and m
            ),
            timeout=15,
        )
        (attachment,) = result["attachments"]
        assert len(fake_openai.returned[0][0]) > limit  # the original really was too big
        assert attachment["size"] <= limit
        assert "re-encoded" in result["content"]


async def test_cancel_is_refused_for_someone_else(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake_openai.gate = asyncio.Event()
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        payload = fake_discord.slash_interaction(
            "imagine", {"prompt": "slow art --n 1"}, channel=channel_id(fake_discord)
        )
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        queued = await original_containing(fake_discord, payload, "Job")
        cancel = next(c for c in button_ids(queued) if c.startswith("ib:cancel:"))
        stranger = fake_discord.make_user("stranger")
        click = fake_discord.component_interaction(queued["id"], cancel, stranger)
        await fake_discord.dispatch("INTERACTION_CREATE", click)
        refusal = await fake_discord.wait_for(
            lambda f: f.followups(click["id"]) and f.followups(click["id"])[0]
        )
        assert "Only" in refusal["content"]
        assert refusal["flags"] & 64  # ephemeral: only the clicker sees it
        fake_openai.gate.set()


async def test_safety_refusal_is_shown(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake_openai.refuse_next("violence")
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        payload = fake_discord.slash_interaction(
            "imagine", {"prompt": "a battle --n 1"}, channel=channel_id(fake_discord)
        )
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        failed = await original_containing(fake_discord, payload, "safety system")
        assert "violence" in failed["content"]


async def test_bad_options_get_an_ephemeral_message(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        payload = fake_discord.slash_interaction(
            "imagine", {"prompt": "a fox --size 1000x1000"}, channel=channel_id(fake_discord)
        )
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        message = await fake_discord.wait_for(
            lambda f: f.followups(payload["id"]) and f.followups(payload["id"])[0]
        )
        assert "multiples of 16" in message["content"]
        assert message["flags"] & 64
        assert not [c for c in fake_discord.channels.values() if c["type"] == 11]  # no empty thread
        assert fake_openai.requests == []


async def test_partial_previews_replace_the_placeholder(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    settings = settings_for(data_dir, fake_discord, fake_openai, imagebot_partial_images=2)
    async with discord_bot(settings) as adapter:
        adapter.presenter.clock = lambda: 0.0  # time stands still: every later preview is "too soon"
        payload, result = await imagine(fake_discord, "a lighthouse --n 1")
        edits = [
            c
            for c in fake_discord.calls
            if c.method == "PATCH" and c.path.endswith("/messages/@original") and payload["token"] in c.path
        ]
        previews = [c for c in edits if any(f.filename.startswith("preview-") for f in c.files)]
        # One preview is shown, the next within the same second dropped (≤ 1 edit/s per message).
        assert len(previews) == 1
        assert edits.index(previews[0]) < len(edits) - 1  # before the final result
        assert result["attachments"][0]["filename"].startswith("imagebot-")


async def test_results_after_the_token_expired_go_to_the_thread(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake_openai.gate = asyncio.Event()
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        payload = fake_discord.slash_interaction(
            "imagine", {"prompt": "a long render --n 1"}, channel=channel_id(fake_discord)
        )
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        queued = await original_containing(fake_discord, payload, "Job")
        await fake_openai.wait_for_requests(1)
        fake_discord.expire_interaction(payload["id"])  # 15 minutes later…
        fake_openai.gate.set()
        result = await fake_discord.wait_for(lambda f: done_message(f, queued["id"], "Here you go"))
        assert result["channel_id"] == queued["id"]  # posted in the session thread with the bot token


async def test_refused_message_content_intent_falls_back_to_mentions(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    fake_discord.privileged_intents = 0  # the portal has not enabled MESSAGE CONTENT
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)) as adapter:
        assert adapter.message_content is False
        assert "MESSAGE CONTENT INTENT" in caplog.text
        _, result = await imagine(fake_discord, "a lamp --n 1")
        thread_id = result["id"]
        # Without the intent, a plain reply arrives empty and is ignored; a mention still works.
        plain = fake_discord.message_create(thread_id, "make it blue")
        await fake_discord.dispatch("MESSAGE_CREATE", plain)
        bot_user = fake_discord.bot_user
        mention = fake_discord.message_create(
            thread_id, f"<@{bot_user['id']}> make it green", mentions=[bot_user]
        )
        await fake_discord.dispatch("MESSAGE_CREATE", mention)
        edit = await fake_openai.wait_for_requests(2)
        assert edit.fields["prompt"] == "make it green"
        await fake_discord.wait_for(lambda f: done_message(f, thread_id, "Edited"))
        assert len(fake_openai.requests) == 2


async def test_message_menus_edit_and_vary_any_image(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        general = channel_id(fake_discord)
        photo_bytes = png(1024, 1024)
        photo = fake_discord.add_attachment("photo.png", photo_bytes, "image/png", channel_id=general)
        posted = fake_discord.message_create(general, "look at this", attachments=[photo])

        vary = fake_discord.context_menu_interaction("Vary image", posted, channel=general)
        await fake_discord.dispatch("INTERACTION_CREATE", vary)
        varied = await fake_discord.wait_for(
            lambda f: (m := f.original_message(vary["id"])) and "variations" in m["content"] and m, timeout=15
        )
        assert labels(varied)[:4] == ["U1", "U2", "U3", "U4"]
        assert fake_discord.channels[varied["id"]]["type"] == 11  # the result got its session thread
        assert fake_openai.requests[0].images[0].data == photo_bytes

        edit = fake_discord.context_menu_interaction("Edit image", posted, channel=general)
        await fake_discord.dispatch("INTERACTION_CREATE", edit)
        await fake_discord.wait_for(lambda f: f.interactions[edit["id"]].response is not None)
        assert fake_discord.interaction_responses[edit["id"]]["type"] == 9
        form_id = fake_discord.interaction_responses[edit["id"]]["data"]["custom_id"]
        submit = fake_discord.modal_submit(form_id, {"instruction": "make it sepia"})
        await fake_discord.dispatch("INTERACTION_CREATE", submit)
        edited = await fake_discord.wait_for(
            lambda f: (m := f.original_message(submit["id"])) and "Edited" in m["content"] and m, timeout=15
        )
        assert fake_openai.requests[1].fields["prompt"] == "make it sepia"
        assert fake_openai.requests[1].images[0].data == photo_bytes
        assert fake_discord.channels[edited["id"]]["type"] == 11

        text_only = fake_discord.message_create(general, "no picture here")
        nothing = fake_discord.context_menu_interaction("Vary image", text_only, channel=general)
        await fake_discord.dispatch("INTERACTION_CREATE", nothing)
        await fake_discord.wait_for(lambda f: f.interactions[nothing["id"]].response is not None)
        answer = fake_discord.interaction_responses[nothing["id"]]
        assert "no image" in answer["data"]["content"]
        assert answer["data"]["flags"] & 64


async def test_a_result_that_could_not_be_posted_is_delivered_after_a_restart(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    from tests.fakes.discord.constants import P_SEND_MESSAGES_IN_THREADS

    guild_id = next(iter(fake_discord.guilds))

    def thread_posting(allowed: bool) -> None:
        for role in fake_discord.guilds[guild_id]["roles"]:
            perms = int(role["permissions"])
            perms = perms | P_SEND_MESSAGES_IN_THREADS if allowed else perms & ~P_SEND_MESSAGES_IN_THREADS
            role["permissions"] = str(perms)

    settings = settings_for(data_dir, fake_discord, fake_openai)
    fake_openai.gate = asyncio.Event()
    async with discord_bot(settings) as adapter:
        payload = fake_discord.slash_interaction(
            "imagine", {"prompt": "a lost kite --n 1"}, channel=channel_id(fake_discord)
        )
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        queued = await original_containing(fake_discord, payload, "Job")
        await fake_openai.wait_for_requests(1)
        fake_discord.expire_interaction(payload["id"])  # the token is gone...
        thread_posting(False)  # ...and the bot may not post in threads for a while
        fake_openai.gate.set()
        job_id = queued["content"].split("`")[1]
        await fake_discord.wait_for(lambda f: any(c.status == 403 for c in f.failed_calls), timeout=10)
        assert (await adapter.bot.store.jobs.get(job_id)).status.value == "done"  # stored, not posted
    assert done_message(fake_discord, queued["id"], "Here you go") is None

    thread_posting(True)
    async with discord_bot(settings):  # the next run delivers what the last one could not
        result = await fake_discord.wait_for(lambda f: done_message(f, queued["id"], "Here you go"))
        assert fake_discord.file_bytes(result["attachments"][0]) == fake_openai.returned[0][0]
        # ...and its status message, found again from the request's notes, says so
        await original_containing(fake_discord, payload, "✅ Done")
    async with discord_bot(settings):  # ...exactly once
        pass
    assert sum(1 for m in fake_discord.messages_in(queued["id"]) if "Here you go" in m["content"]) == 1


async def test_no_thread_permission_gets_a_clear_message_and_stores_nothing(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    from tests.fakes.discord.constants import P_CREATE_PUBLIC_THREADS

    guild_id = next(iter(fake_discord.guilds))
    for role in fake_discord.guilds[guild_id]["roles"]:
        role["permissions"] = str(int(role["permissions"]) & ~P_CREATE_PUBLIC_THREADS)
    settings = settings_for(data_dir, fake_discord, fake_openai)
    async with discord_bot(settings) as adapter:
        payload = fake_discord.slash_interaction(
            "imagine", {"prompt": "a fox --n 1"}, channel=channel_id(fake_discord)
        )
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        message = await fake_discord.wait_for(
            lambda f: f.followups(payload["id"]) and f.followups(payload["id"])[0]
        )
        assert "Create Public Threads" in message["content"]
        assert message["flags"] & 64
        assert await adapter.bot.store.jobs.with_status(*JobStatus) == []
    assert fake_openai.requests == []
