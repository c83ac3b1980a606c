"""Files people attach on Discord (issue 7, item 5): refused from their metadata before any
download when they are not images or say they are too big, and downloaded with a hard cap in
case what they say is wrong."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import discord

from adapters.discord.files import is_image
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.helpers import png
from tests.integration.test_discord_adapter import (
    channel_id,
    discord_bot,
    imagine,
    settings_for,
)

MB = 1024 * 1024


def downloads(fake: FakeDiscord) -> list[str]:
    return [c.path for c in fake.calls_to("GET", r"/(cdn|media)/.*")]


async def bot_says(fake: FakeDiscord, thread_id: str, text: str) -> dict:
    return await fake.wait_for(
        lambda f: next(
            (
                m
                for m in f.messages_in(thread_id)
                if m["author"]["id"] == f.application_id and text in m["content"]
            ),
            None,
        )
    )


async def test_thread_reply_with_a_file_declared_too_big_is_refused_without_downloading(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake = fake_discord
    async with discord_bot(settings_for(data_dir, fake, fake_openai)):
        _, result = await imagine(fake, "a kite --n 1")
        thread_id = result["id"]
        huge = fake.add_attachment(
            "huge.png", png(64, 64), "image/png", channel_id=thread_id, declared_size=60 * MB
        )
        reply = fake.message_create(thread_id, "put this on the kite", attachments=[huge])
        await fake.dispatch("MESSAGE_CREATE", reply)
        refusal = await bot_says(fake, thread_id, "huge.png")
    assert "huge.png is 60 MB; images must be under 50 MB" in refusal["content"]
    assert downloads(fake) == []
    assert len(fake_openai.requests) == 1  # only the /imagine


async def test_a_file_larger_than_it_claims_is_cut_off_at_the_limit(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake = fake_discord
    async with discord_bot(settings_for(data_dir, fake, fake_openai)) as adapter:
        adapter.files.max_bytes = 2 * MB  # a small limit keeps the test fast; 50 MB in production
        _, result = await imagine(fake, "a kite --n 1")
        thread_id = result["id"]
        extra = 64 * MB
        liar = fake.add_attachment(
            "small.png", png(64, 64), "image/png", channel_id=thread_id, declared_size=1000, extra_bytes=extra
        )
        reply = fake.message_create(thread_id, "put this on the kite", attachments=[liar])
        await fake.dispatch("MESSAGE_CREATE", reply)
        refusal = await bot_says(fake, thread_id, "small.png")
        assert "small.png is over 2 MB" in refusal["content"]
        await fake.wait_for(lambda f: f.calls_to("GET", r"/cdn/.*")[-1].status is not None)
    # The bot hung up once it had one byte too many; it never took the whole body.
    assert fake.cdn_bytes_sent[liar["id"]] < extra // 2
    assert len(fake_openai.requests) == 1


async def test_a_non_image_in_a_thread_is_named_and_nothing_is_downloaded(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake = fake_discord
    async with discord_bot(settings_for(data_dir, fake, fake_openai)):
        _, result = await imagine(fake, "a kite --n 1")
        thread_id = result["id"]
        logo = fake.add_attachment("logo.png", png(64, 64), "image/png", channel_id=thread_id)
        notes = fake.add_attachment("notes.pdf", b"%PDF-1.7 ...", "application/pdf", channel_id=thread_id)
        reply = fake.message_create(thread_id, "use these", attachments=[logo, notes])
        await fake.dispatch("MESSAGE_CREATE", reply)
        refusal = await bot_says(fake, thread_id, "notes.pdf")
    assert "notes.pdf is not an image; I can use PNG, JPEG or WebP" in refusal["content"]
    assert downloads(fake) == []  # not even the logo next to it
    assert len(fake_openai.requests) == 1


async def test_imagine_with_a_reference_that_is_not_an_image_gets_a_private_message(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake = fake_discord
    async with discord_bot(settings_for(data_dir, fake, fake_openai)):
        notes = fake.add_attachment("notes.pdf", b"%PDF-1.7 ...", "application/pdf")
        big = fake.add_attachment("big.png", png(64, 64), "image/png", declared_size=51 * MB)
        for reference, expected in (
            (notes, "notes.pdf is not an image; I can use PNG, JPEG or WebP"),
            (big, "big.png is 51 MB; images must be under 50 MB"),
        ):
            payload = fake.slash_interaction(
                "imagine", {"prompt": "a fox", "reference1": reference}, channel=channel_id(fake)
            )
            await fake.dispatch("INTERACTION_CREATE", payload)
            message = await fake.wait_for(
                lambda f, p=payload: f.followups(p["id"]) and f.followups(p["id"])[0]
            )
            assert expected in message["content"]
            assert message["flags"] & 64  # only they see it
            assert fake.original_message(payload["id"]) is None  # no public "thinking…" left
    assert downloads(fake) == []
    assert not [c for c in fake.channels.values() if c["type"] == 11]  # no empty session thread
    assert fake_openai.requests == []


async def test_vary_image_on_a_message_whose_image_is_declared_too_big_is_refused(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake = fake_discord
    async with discord_bot(settings_for(data_dir, fake, fake_openai)):
        general = channel_id(fake)
        photo = fake.add_attachment(
            "photo.png", png(64, 64), "image/png", channel_id=general, declared_size=80 * MB
        )
        posted = fake.message_create(general, "look", attachments=[photo])
        vary = fake.context_menu_interaction("Vary image", posted, channel=general)
        await fake.dispatch("INTERACTION_CREATE", vary)
        message = await fake.wait_for(lambda f: f.followups(vary["id"]) and f.followups(vary["id"])[0])
    assert "photo.png is 80 MB; images must be under 50 MB" in message["content"]
    assert message["flags"] & 64
    assert downloads(fake) == []
    assert fake_openai.requests == []


def test_without_a_declared_type_the_file_name_decides() -> None:
    def attachment(filename: str, content_type: str | None = None) -> discord.Attachment:
        data = {"id": "1", "filename": filename, "size": 10, "url": "", "proxy_url": ""}
        if content_type is not None:
            data["content_type"] = content_type
        return discord.Attachment(data=data, state=SimpleNamespace(http=None))  # type: ignore[arg-type]

    assert is_image(attachment("photo.JPG"))
    assert is_image(attachment("x.webp"))
    assert not is_image(attachment("notes.pdf"))
    assert not is_image(attachment("README"))
    assert is_image(attachment("no-extension", "image/png"))
    assert not is_image(attachment("looks.png", "application/pdf"))  # the declared type wins
