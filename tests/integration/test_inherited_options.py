"""What a new render inherits from its image (issue 7, items 8 and 9), seen by the real API client.

One rule for buttons and thread replies: the image's model, quality, format and background carry
over unless the request's flags say otherwise; edits keep the image's size; variations of an
upscaled image are rendered at the everyday size of its aspect, never at the upscale's.
"""

from __future__ import annotations

from pathlib import Path

from bot.answers import Stage, problem_kind
from bot.buttons import ButtonId, Verb
from tests.fakes.openai import FakeOpenAI
from tests.integration.helpers import ALICE, BOB, THREAD, running_bot
from tests.integration.test_jobs_and_limits import openai_settings


async def test_thread_reply_edits_keep_quality_format_and_model(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        grid = await bot.imagine(ALICE, THREAD, "a red bottle --n 4 --quality high --format webp")
        assert (await presenter.final(grid.job_id)).stage is Stage.DONE
        reply = await bot.reply(BOB, THREAD, "#3 make it blue")
        assert (await presenter.final(reply.job_id)).stage is Stage.DONE
        sent = fake_openai.last
        assert sent.endpoint == "edits"
        assert (sent.fields["quality"], sent.fields["output_format"], sent.fields["model"]) == (
            "high",
            "webp",
            "gpt-image-2",
        )
        # The button on the edited image inherits the same way (one rule).
        edited = (await presenter.final(reply.job_id)).result.images[0].image_id
        varied = await bot.press(BOB, THREAD, ButtonId(Verb.VARY_SUBTLE, edited))
        assert (await presenter.final(varied.job_id)).stage is Stage.DONE
        assert (fake_openai.last.fields["quality"], fake_openai.last.fields["output_format"]) == (
            "high",
            "webp",
        )
        # A flag in the reply wins over what the image had.
        low = await bot.reply(BOB, THREAD, "#1 make it green --quality low")
        assert (await presenter.final(low.job_id)).stage is Stage.DONE
        assert (fake_openai.last.fields["quality"], fake_openai.last.fields["output_format"]) == (
            "low",
            "webp",
        )


async def test_cut_out_keeps_transparency_through_reply_edits(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        made = await presenter.final((await bot.imagine(ALICE, THREAD, "a cat --n 1")).job_id)
        cut = await bot.press(ALICE, THREAD, ButtonId(Verb.NOBG, made.result.images[0].image_id))
        assert (await presenter.final(cut.job_id)).stage is Stage.DONE
        edit = await bot.reply(ALICE, THREAD, "give it a hat")
        assert (await presenter.final(edit.job_id)).stage is Stage.DONE
        assert fake_openai.last.fields["background"] == "transparent"
        as_jpeg = await bot.reply(ALICE, THREAD, "a bigger hat --format jpeg")  # jpeg cannot be transparent
        assert problem_kind(as_jpeg) is None, as_jpeg.text
        assert (await presenter.final(as_jpeg.job_id)).stage is Stage.DONE
        assert fake_openai.last.fields["output_format"] == "jpeg"
        assert fake_openai.last.fields.get("background", "auto") != "transparent"


async def test_variations_of_an_upscale_render_at_the_everyday_size(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    # Two images a job (a set, for V1): what is checked is their size, and 4K renders are costly.
    settings = openai_settings(data_dir, fake_openai, imagebot_default_n=2)
    async with running_bot(settings) as (bot, presenter):
        made = await presenter.final((await bot.imagine(ALICE, THREAD, "a harbour --n 1 --ar 16:9")).job_id)
        wide = made.result.images[0]
        assert (wide.width, wide.height) == (1536, 864)
        up = await presenter.final(
            (await bot.press(ALICE, THREAD, ButtonId(Verb.UPSCALE, wide.image_id))).job_id
        )
        big = up.result.images[0]
        assert (big.width, big.height) == (3840, 2160)

        for verb in ("vary-subtle", "vary-strong"):
            queued = await bot.press(ALICE, THREAD, ButtonId(Verb(verb), big.image_id))
            assert "1536x864" in queued.text  # the job line says the size, so the cost is visible
            done = await presenter.final(queued.job_id)
            assert {(v.width, v.height) for v in done.result.images} == {(1536, 864)}
            assert fake_openai.last.fields["size"] == "1536x864"

        # An edit keeps the upscale's size (it is asked of that image) ...
        edit = await presenter.final(
            (await bot.edit_image(ALICE, THREAD, big.image_id, "add a lighthouse")).job_id
        )
        edited = edit.result.images[0]
        assert (edited.width, edited.height) == (3840, 2160)
        # ... and variations of that edit are not rendered at it either; nor V1 or reroll of them.
        varied = await presenter.final(
            (await bot.press(ALICE, THREAD, ButtonId(Verb.VARY_STRONG, edited.image_id))).job_id
        )
        assert {(v.width, v.height) for v in varied.result.images} == {(1536, 864)}
        set_id = varied.result.caption.short_id
        v1 = await presenter.final((await bot.press(ALICE, THREAD, ButtonId(Verb.V, set_id, "1"))).job_id)
        assert {(v.width, v.height) for v in v1.result.images} == {(1536, 864)}
        reroll = await presenter.final((await bot.press(ALICE, THREAD, ButtonId(Verb.REROLL, set_id))).job_id)
        assert {(v.width, v.height) for v in reroll.result.images} == {(1536, 864)}


async def test_variations_of_an_ordinary_image_keep_its_size(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        made = await presenter.final(
            (await bot.imagine(ALICE, THREAD, "a poster --n 1 --size 2048x1152")).job_id
        )
        image = made.result.images[0]
        varied = await presenter.final(
            (await bot.press(ALICE, THREAD, ButtonId(Verb.VARY_SUBTLE, image.image_id))).job_id
        )
        assert {(v.width, v.height) for v in varied.result.images} == {(2048, 1152)}  # asked for, so kept


async def test_an_upload_whose_size_the_model_cannot_make_is_told_so(data_dir: Path) -> None:
    from bot.domain import Attachment
    from tests.helpers import make_settings, png

    async with running_bot(make_settings(data_dir)) as (bot, presenter):
        photo = Attachment("beach.png", png(1200, 900))
        queued = await bot.edit_upload(ALICE, THREAD, photo, "add a sunset")
        assert problem_kind(queued) is None, queued.text
        assert "beach.png is 1200x900" in queued.text
        assert "1200x896" in queued.text
        done = await presenter.final(queued.job_id)
        assert (done.result.images[0].width, done.result.images[0].height) == (1200, 896)
        exact = await bot.edit_upload(ALICE, THREAD, Attachment("ok.png", png(1024, 768)), "add a moon")
        assert "cannot make exactly" not in exact.text
        asked = await bot.edit_upload(ALICE, THREAD, photo, "add a moon --size 1024x1024")
        assert "cannot make exactly" not in asked.text
        for reply in (exact, asked):
            await presenter.final(reply.job_id)
