"""/settings layers, /show, /history and the thread-reply rules of PRODUCT.md §2."""

from __future__ import annotations

from pathlib import Path

from bot.answers import Stage, problem_kind
from bot.buttons import ButtonId, Verb
from bot.domain import Attachment
from tests.helpers import make_settings, png
from tests.integration.helpers import ADMIN, ALICE, BOB, THREAD, running_bot


async def test_settings_layers_apply_to_new_images(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, presenter):
        assert problem_kind(await bot.update_settings(ALICE, THREAD, "channel", "--n 2")) == "forbidden"
        assert problem_kind(await bot.update_settings(ADMIN, THREAD, "channel", "--n 2 --ar 16:9")) is None
        assert problem_kind(await bot.update_settings(ALICE, THREAD, "me", "--n 3")) is None
        bad = await bot.update_settings(ALICE, THREAD, "me", "--n 30")
        assert problem_kind(bad) == "invalid_input"
        assert "between 1 and 10" in bad.text

        alice = await presenter.final((await bot.imagine(ALICE, THREAD, "a boat")).job_id)
        assert len(alice.result.images) == 3
        assert alice.result.images[0].width == 1536  # mine + channel's --ar
        bob = await presenter.final((await bot.imagine(BOB, THREAD, "a boat")).job_id)
        assert len(bob.result.images) == 2  # the channel's default
        explicit = await presenter.final((await bot.imagine(ALICE, THREAD, "a boat --n 1 --ar 1:1")).job_id)
        assert explicit.result.images[0].width == 1024
        assert len(explicit.result.images) == 1

        view = await bot.settings_view(ALICE, THREAD)
        assert "--n 3" in view.text
        assert "--ar 16:9" in view.text
        await bot.update_settings(ALICE, THREAD, "me", "reset")
        assert "Your defaults: nothing set" in (await bot.settings_view(ALICE, THREAD)).text


async def test_reply_rules_pick_undo_and_show(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, presenter):
        grid = await presenter.final((await bot.imagine(ALICE, THREAD, "four kites --n 4")).job_id)
        set_id = grid.result.caption.short_id
        ask = await bot.reply(BOB, THREAD, "make it red")
        assert "Which image" in ask.text
        assert [b.label for b in ask.buttons] == ["U1", "U2", "U3", "U4"]

        edited = await bot.reply(BOB, THREAD, "#3 make it red")  # picks image 3, then edits it
        done = await presenter.final(edited.job_id)
        third = grid.result.images[2].image_id
        assert done.stage is Stage.DONE
        edited_id = done.result.images[0].image_id
        assert (await bot.store.images.image(edited_id, within=THREAD)).parents == (third,)

        again = await bot.reply(BOB, THREAD, "now add a sun", [Attachment("sun.png", png(256, 256))])
        second = await presenter.final(again.job_id)
        parents = (await bot.store.images.image(second.result.images[0].image_id, within=THREAD)).parents
        assert parents[0] == edited_id
        assert len(parents) == 2  # current image first, then the reference

        back = await bot.reply(BOB, THREAD, "undo")
        assert back.images[0].image_id == edited_id

        shown = await bot.show(ALICE, THREAD, set_id)
        assert shown.grid is not None
        assert len(shown.buttons) == 9
        old = await bot.show(ALICE, THREAD, third)
        assert old.images[0].image_id == third
        assert (await bot.session_state(THREAD)).current_image_id == third

        history = await bot.history(ALICE, THREAD)
        assert third in history.text
        assert "← current" in history.text
        missing = await bot.show(ALICE, THREAD, "deadbeef")
        assert problem_kind(missing) == "not_found"


async def test_vary_an_uploaded_image(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, presenter):
        reply = await bot.vary_upload(ALICE, THREAD, Attachment("cat.png", png(1024, 1536)), strong=True)
        final = await presenter.final(reply.job_id)
        assert final.stage is Stage.DONE
        assert len(final.result.images) == 4
        assert {(v.width, v.height) for v in final.result.images} == {(1024, 1536)}


async def test_reroll_repeats_the_same_request(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, presenter):
        first = await presenter.final((await bot.imagine(ALICE, THREAD, "two moons --n 2")).job_id)
        set_id = first.result.caption.short_id
        again = await presenter.final((await bot.press(BOB, THREAD, ButtonId(Verb.REROLL, set_id))).job_id)
        assert len(again.result.images) == 2
        assert again.result.images[0].data != first.result.images[0].data  # a new roll, not a copy
        rerolled = await bot.store.images.image(again.result.images[0].image_id, within=THREAD)
        assert rerolled.operation.value == "reroll"
        assert rerolled.prompt == "two moons"

        varied = await presenter.final((await bot.press(BOB, THREAD, ButtonId(Verb.V, set_id, "1"))).job_id)
        vary_set = varied.result.caption.short_id
        more = await presenter.final((await bot.press(BOB, THREAD, ButtonId(Verb.REROLL, vary_set))).job_id)
        image = await bot.store.images.image(more.result.images[0].image_id, within=THREAD)
        assert image.operation.value == "vary_strong"
        assert image.parents == (first.result.images[0].image_id,)  # variations of the same image


async def test_the_bot_answers_only_in_enabled_channels(data_dir: Path) -> None:
    from bot.domain import SessionKey

    settings = make_settings(data_dir, imagebot_channels="chan,other")
    elsewhere = SessionKey("test", "team", "random", "t9")
    async with running_bot(settings) as (bot, presenter):
        refused = await bot.imagine(ALICE, elsewhere, "a fox --n 1")
        assert problem_kind(refused) == "forbidden"
        assert "IMAGEBOT_CHANNELS" in refused.text
        allowed = await bot.imagine(ALICE, THREAD, "a fox --n 1")
        done = await presenter.final(allowed.job_id)
        image_id = done.result.images[0].image_id
        click = await bot.press(ALICE, elsewhere, ButtonId(Verb.UPSCALE, image_id))
        assert problem_kind(click) == "forbidden"


async def test_buttons_for_the_requester_only_when_so_configured(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir, imagebot_buttons="requester")) as (bot, presenter):
        made = await presenter.final((await bot.imagine(ALICE, THREAD, "two kites --n 2")).job_id)
        set_id = made.result.caption.short_id
        refused = await bot.press(BOB, THREAD, ButtonId(Verb.U, set_id, "1"))
        assert problem_kind(refused) == "forbidden"
        assert "alice" in refused.text
        assert problem_kind(await bot.press(BOB, THREAD, ButtonId(Verb.REROLL, set_id))) == "forbidden"
        assert problem_kind(await bot.press(ADMIN, THREAD, ButtonId(Verb.U, set_id, "1"))) is None
        assert problem_kind(await bot.press(ALICE, THREAD, ButtonId(Verb.U, set_id, "2"))) is None


async def test_members_are_held_to_the_member_limits(data_dir: Path) -> None:
    settings = make_settings(
        data_dir,
        imagebot_member_models="gpt-image-2",
        imagebot_member_qualities="low,medium,auto",
        imagebot_member_max_pixels=1536 * 1024,
    )
    async with running_bot(settings) as (bot, presenter):
        model = await bot.imagine(ALICE, THREAD, "a fox --model gpt-image-2.5-flare --n 1")
        assert problem_kind(model) == "forbidden"
        assert "for admins" in model.text
        quality = await bot.imagine(ALICE, THREAD, "a fox --quality high --n 1")
        assert problem_kind(quality) == "forbidden"
        assert "--quality high" in quality.text
        big = await bot.imagine(ALICE, THREAD, "a fox --size 2048x2048 --n 1")
        assert problem_kind(big) == "forbidden"
        assert "pixels" in big.text
        admins = await bot.imagine(ADMIN, THREAD, "a fox --size 2048x2048 --quality high --n 1")
        assert problem_kind(admins) is None
        ok = await presenter.final((await bot.imagine(ALICE, THREAD, "a fox --ar 3:2 --n 1")).job_id)
        upscale = await bot.press(ALICE, THREAD, ButtonId(Verb.UPSCALE, ok.result.images[0].image_id))
        assert problem_kind(upscale) == "forbidden"  # the larger render is above the member limit
