"""Session thread names on Discord (issue 7, item 16): the prompt without its --flags, shown as
one clean line, within Discord's 100 characters, never empty."""

from __future__ import annotations

from pathlib import Path

from adapters.discord.commands import thread_name
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.integration.test_discord_adapter import discord_bot, imagine, settings_for


async def test_thread_is_named_after_the_prompt_without_flags_or_control_characters(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    prompt = "a \x1b[31mred\x1b[0m fox\u202e in\n\tsnow, 85mm lens --n 2 --ar 16:9"
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        _, result = await imagine(fake_discord, prompt)
    assert fake_openai.requests[0].fields["n"] == 2  # the flags did their job...
    thread = fake_discord.channels[result["id"]]
    assert thread["name"] == "a red fox in snow, 85mm lens"  # ...and are not part of the name


async def test_a_long_prompt_gives_a_thread_name_within_discords_limit(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    prompt = "--n 1 a very detailed " + "castle on a hill " * 12
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        _, result = await imagine(fake_discord, prompt)
    name = fake_discord.channels[result["id"]]["name"]
    assert len(name) <= 100
    assert name.startswith("a very detailed castle on a hill")
    assert name.endswith("…")
    assert "--n" not in name


def test_thread_name_is_never_empty() -> None:
    assert thread_name("--n 2 --ar 16:9") == "imagebot session"
    assert thread_name("\u200b\x1b[0m --n 2") == "imagebot session"
    assert thread_name("a cat --bogus 3") == "a cat --bogus 3"  # unparsable flags: shown as typed
