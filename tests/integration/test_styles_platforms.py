"""House styles on each surface: saved, listed and applied through the console, Discord (real
discord.py against the fake Discord) and Slack (real slack-bolt against the fake Slack)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack, app_mention_event
from tests.helpers import make_settings, png
from tests.integration.test_console_flow import block_after, run_script
from tests.integration.test_discord_adapter import (
    channel_id,
    discord_bot,
    imagine,
    original_containing,
    settings_for,
)
from tests.integration.test_slack_adapter import CHANNEL, imagine_and_wait, running_slack, slack_settings


async def test_the_console_saves_lists_and_applies_a_style(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    swatch = tmp_path / "swatch.png"
    swatch.write_bytes(png(80, 80, color=(20, 160, 90)))
    lines = [
        "/imagine a red fox in snow, watercolor, soft washes --n 1",
        "style save wc",
        "style list",
        "/imagine a lighthouse --style wc --n 1",
        f"style save green --image {swatch} leafy greens",
        "style show green",
        "/imagine a lighthouse --style wcc",
    ]
    code, output = await run_script(settings, "\n".join(lines) + "\n", tmp_path / "out")
    assert code == 1, output  # the last line is refused
    assert "Saved your style `green`: “leafy greens”, 1 reference image" in block_after(output, lines[4])
    assert "imagebot-style-green" in block_after(output, lines[5])  # the references' grid, saved
    assert "Saved your style `wc`: “watercolor, soft washes”, 1 reference image" in block_after(
        output, lines[1]
    )
    assert "`wc`: “watercolor, soft washes”" in block_after(output, lines[2])
    assert "a lighthouse, watercolor, soft washes" in block_after(output, lines[3])
    assert "no style named 'wcc' here; closest: wc" in block_after(output, lines[6])


async def test_a_console_line_that_does_not_read_as_the_style_command_is_an_edit(tmp_path: Path) -> None:
    lines = ["/imagine a red fox in snow --n 1", "style it like Monet", "/style it like Monet"]
    code, output = await run_script(
        make_settings(tmp_path / "data"), "\n".join(lines) + "\n", tmp_path / "out"
    )
    assert code == 1, output  # the slashed line is the command, and refused
    assert "Edited" in block_after(output, lines[1])
    assert "“style it like Monet”" in block_after(output, lines[1])
    assert "style 'it': use one of list, save" in block_after(output, lines[2])


async def test_discord_saves_a_style_in_a_thread_and_applies_it(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        _, result = await imagine(fake_discord, "a lantern festival, ukiyo-e woodblock print --n 1")
        thread_id = result["id"]  # the session thread started from the result
        lantern = fake_openai.returned[0][0]

        save = fake_discord.slash_interaction(
            "style", {"action": "save", "name": "woodblock"}, channel=thread_id
        )
        await fake_discord.dispatch("INTERACTION_CREATE", save)
        saved = await original_containing(fake_discord, save, "Saved your style `woodblock`")
        assert "“ukiyo-e woodblock print”, 1 reference image" in saved["content"]
        assert saved["flags"] & 64  # only the person who asked sees it

        listing = fake_discord.slash_interaction(
            "style", {"action": "list"}, channel=channel_id(fake_discord)
        )
        await fake_discord.dispatch("INTERACTION_CREATE", listing)
        await original_containing(fake_discord, listing, "`woodblock`: “ukiyo-e woodblock print”")

        show = fake_discord.slash_interaction(
            "style", {"action": "show", "name": "woodblock"}, channel=thread_id
        )
        await fake_discord.dispatch("INTERACTION_CREATE", show)
        shown = await original_containing(fake_discord, show, "style `woodblock`")
        assert shown["flags"] & 64
        assert len(shown["attachments"]) == 1  # the references as one small grid
        grid = Image.open(io.BytesIO(fake_discord.file_bytes(shown["attachments"][0])))
        assert grid.width >= 256  # the reference image, drawn into a grid cell

        _, styled = await imagine(fake_discord, "a harbour at dusk --style woodblock --n 1")
        assert fake_openai.last.endpoint == "edits"
        assert fake_openai.last.fields["prompt"] == "a harbour at dusk, ukiyo-e woodblock print"
        assert [f.data for f in fake_openai.last.images] == [lantern]
        assert "a harbour at dusk, ukiyo-e woodblock print" in styled["content"]


async def test_slack_saves_a_style_from_an_image_id_and_applies_it(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running_slack(slack_settings(data_dir, slack, fake_openai), slack) as h:
        ask = h.ask

        await imagine_and_wait(h, "a paper boat, risograph, two inks --n 1")
        boat = fake_openai.returned[0][0]
        image_id = (await ask("history mine")).split("`")[1]
        # Slack's slash commands do not say which thread they were typed in: name the image.
        saved = await ask(f"style save riso --from {image_id}")
        assert "Saved your style `riso`: “risograph, two inks”, 1 reference image" in saved
        assert "`riso`: “risograph, two inks”" in await ask("style list")
        assert "no style named 'rizo' here; closest: riso" in await ask("style show rizo")

        await h.command("/imagine", "a kite --style riso --n 1")
        styled = await fake_openai.wait_for_requests(2)
        assert styled.endpoint == "edits"
        assert styled.fields["prompt"] == "a kite, risograph, two inks"
        assert [f.data for f in styled.images] == [boat]
        await slack.wait_for(lambda: len(h.parents()) == 2 and h.file_messages(h.parents()[-1]["ts"]))


async def test_slack_saves_a_style_by_mention_from_a_thread_or_from_attached_files(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running_slack(slack_settings(data_dir, slack, fake_openai), slack) as h:
        thread, _ = await imagine_and_wait(h, "a paper crane, cyanotype, deep blue --n 1")
        crane = fake_openai.returned[0][0]
        await h.event(app_mention_event("style save cyan", thread_ts=thread, bot_user_id=slack.bot_user_id))
        [note] = await slack.wait_for(lambda: slack.ephemerals)
        assert "Saved your style `cyan`: “cyanotype, deep blue”, 1 reference image" in note["text"]
        assert note["thread_ts"] == thread

        swatch = png(96, 96, color=(250, 200, 10))
        shared = [slack.add_user_file("swatch.png", swatch)]
        mention = app_mention_event(
            "style save sunny warm yellow", files=shared, bot_user_id=slack.bot_user_id
        )
        message = slack.add_user_message(CHANNEL, mention["text"])
        mention["ts"] = mention["event_ts"] = message["ts"]
        await h.event(mention)
        saved = await slack.wait_for(lambda: len(slack.ephemerals) == 2 and slack.ephemerals[-1])
        assert "Saved your style `sunny`: “warm yellow”, 1 reference image" in saved["text"]

        await h.command("/imagine", "a fox --style cyan --n 1")
        styled = await fake_openai.wait_for_requests(2)
        assert [f.data for f in styled.images] == [crane]
        assert styled.fields["prompt"] == "a fox, cyanotype, deep blue"
        await slack.wait_for(lambda: len(h.parents()) == 2 and h.file_messages(h.parents()[-1]["ts"]))
        await h.command("/imagine", "a fox --style sunny --n 1")
        sunny = await fake_openai.wait_for_requests(3)
        assert [f.data for f in sunny.images] == [swatch]
        await slack.wait_for(lambda: len(h.parents()) == 3 and h.file_messages(h.parents()[-1]["ts"]))
        assert fake_openai.requests[0].endpoint == "generations"  # the crane: no style, no inputs
