"""House styles (issue 11, item 1): saved from a thread, from uploads or from words; applied with
--style (or a channel's default) as words appended to the prompt and reference images sent to the
edits endpoint, seen by the real openai client against the fake API."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.answers import Images, Notice, Stage, problem_kind
from bot.buttons import ButtonId, Verb
from bot.domain import Attachment, SessionKey, UserRef
from tests.fakes.openai import FakeOpenAI
from tests.helpers import make_settings, png
from tests.integration.helpers import ADMIN, ALICE, BOB, THREAD, running_bot
from tests.integration.test_jobs_and_limits import openai_settings

OTHER_THREAD = SessionKey("test", "team", "chan", "thread-2")
ELSEWHERE = SessionKey("test", "other-team", "chan", "thread-1")


def upload(name: str, color: tuple[int, int, int]) -> Attachment:
    return Attachment(name, png(64, 64, color=color), "image/png")


def styles_in(db_path: Path) -> list[str]:
    with sqlite3.connect(db_path) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM styles ORDER BY name")]


async def test_a_style_saved_from_a_session_sends_its_references_to_the_edits_endpoint(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        first = await bot.imagine(ALICE, THREAD, "a red fox in snow, golden hour, 35mm film --n 1")
        assert (await presenter.final(first.job_id)).stage is Stage.DONE
        fox = fake_openai.requests[0].returned[0]

        saved = await bot.style(ALICE, THREAD, "save", "Fox", "")
        assert isinstance(saved, Notice), saved
        assert "“golden hour, 35mm film”" in saved.text
        assert "1 reference image" in saved.text

        styled = await bot.imagine(ALICE, OTHER_THREAD, "a lighthouse --style fox --n 1")
        done = await presenter.final(styled.job_id)
        assert done.stage is Stage.DONE
        sent = fake_openai.last
        assert sent.endpoint == "edits"  # generation with references goes through the edits endpoint
        assert sent.fields["prompt"] == "a lighthouse, golden hour, 35mm film"
        assert [f.data for f in sent.images] == [fox]

        # The look is kept by the buttons: a reroll sends the same words and images again.
        made = done.result.images[0].image_id
        rerolled = await bot.press(ALICE, OTHER_THREAD, ButtonId(Verb.REROLL, made))
        assert (await presenter.final(rerolled.job_id)).stage is Stage.DONE
        assert fake_openai.last.endpoint == "edits"
        assert fake_openai.last.fields["prompt"] == "a lighthouse, golden hour, 35mm film"
        assert [f.data for f in fake_openai.last.images] == [fox]

        # A reply asking for the style: the current image first, then the style's.
        edit = await bot.reply(ALICE, OTHER_THREAD, "add a rowing boat --style fox")
        assert (await presenter.final(edit.job_id)).stage is Stage.DONE
        assert fake_openai.last.fields["prompt"] == "add a rowing boat, golden hour, 35mm film"
        current = fake_openai.requests[-2].returned[0]
        assert [f.data for f in fake_openai.last.images] == [current, fox]

        # A variation starts from the styled image and asks for the style's words again.
        varied = await bot.press(ALICE, OTHER_THREAD, ButtonId(Verb.VARY_SUBTLE, made))
        assert (await presenter.final(varied.job_id)).stage is Stage.DONE
        assert "a lighthouse, golden hour, 35mm film" in fake_openai.last.fields["prompt"]
        assert [f.data for f in fake_openai.last.images] == [fake_openai.requests[1].returned[0]]

        # /edit of an upload with the style: the upload first, then the style's image.
        photo = upload("photo.png", (10, 120, 200))
        edited = await bot.edit_upload(
            ALICE, SessionKey("test", "team", "chan", "t3"), photo, "warmer --style fox"
        )
        assert (await presenter.final(edited.job_id)).stage is Stage.DONE
        assert fake_openai.last.fields["prompt"] == "warmer, golden hour, 35mm film"
        assert [f.data for f in fake_openai.last.images][1:] == [fox]
        assert len(fake_openai.last.images) == 2


async def test_a_style_from_uploads_and_words_and_its_listing(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        pieces = [upload("a.png", (200, 0, 0)), upload("b.png", (0, 200, 0))]
        saved = await bot.style(
            ALICE, OTHER_THREAD, "save", "brand", 'text="flat pastel, bold outlines"', pieces
        )
        assert "“flat pastel, bold outlines”, 2 reference images" in saved.text, saved
        words = await bot.style(ALICE, OTHER_THREAD, "save", "ink", "ink wash, rice paper")
        assert "“ink wash, rice paper”, 0 reference images" in words.text, words

        listed = await bot.style(ALICE, THREAD, "list", "", "")
        assert "`brand`: “flat pastel, bold outlines”, 2 reference images" in listed.text
        assert "`ink`: “ink wash, rice paper”, 0 reference images" in listed.text
        shown = await bot.style(ALICE, THREAD, "show", "BRAND", "")
        assert isinstance(shown, Images)
        assert len(shown.images) == 1
        assert shown.images[0].width > 64

        queued = await bot.imagine(ALICE, THREAD, "a tote bag --style brand --n 1")
        assert (await presenter.final(queued.job_id)).stage is Stage.DONE
        assert fake_openai.last.endpoint == "edits"
        assert len(fake_openai.last.images) == 2
        assert [f.size for f in fake_openai.last.images] == [(64, 64), (64, 64)]

        plain = await bot.imagine(ALICE, THREAD, "a tote bag --style ink --n 1")
        assert (await presenter.final(plain.job_id)).stage is Stage.DONE
        assert fake_openai.last.endpoint == "generations"  # words only: no reference images
        assert fake_openai.last.fields["prompt"] == "a tote bag, ink wash, rice paper"

        # New words keep the references; a style of words alone cannot lose its words.
        reworded = await bot.style(ALICE, THREAD, "words", "brand", "risograph print, two inks")
        assert reworded.text == "Style `brand` now adds “risograph print, two inks”."
        again = await bot.imagine(ALICE, THREAD, "a tote bag --style brand --n 1")
        assert (await presenter.final(again.job_id)).stage is Stage.DONE
        assert fake_openai.last.fields["prompt"] == "a tote bag, risograph print, two inks"
        assert len(fake_openai.last.images) == 2
        emptied = await bot.style(ALICE, THREAD, "words", "ink", "")
        assert problem_kind(emptied) == "invalid_input"
        assert "style ink has no reference images, so it needs words" in emptied.text
        assert problem_kind(await bot.style(ALICE, THREAD, "words", "inc", "x")) == "not_found"


async def test_unknown_style_names_the_closest_and_nothing_is_sent(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, _presenter):
        for name in ("brand", "bright", "noir"):
            assert isinstance(await bot.style(ALICE, THREAD, "save", name, f"{name} look"), Notice)
        answer = await bot.imagine(ALICE, THREAD, "a poster --style brnd")
        assert problem_kind(answer) == "not_found"
        assert answer.text == "no style named 'brnd' here; closest: brand, bright"
        reply = await bot.style(ALICE, THREAD, "show", "nior", "")
        assert "closest: noir" in reply.text
        assert fake_openai.requests == []


async def test_too_many_input_images_with_a_style_is_refused(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        four = [upload(f"{k}.png", (k * 40, 0, 0)) for k in range(4)]
        assert isinstance(await bot.style(ALICE, THREAD, "save", "quad", "neon", four), Notice)
        first = await bot.imagine(ALICE, THREAD, "a street --n 1")
        assert (await presenter.final(first.job_id)).stage is Stage.DONE
        thirteen = [upload(f"r{k}.png", (0, k * 10, 0)) for k in range(13)]
        answer = await bot.reply(ALICE, THREAD, "add these signs --style quad", thirteen)
        assert problem_kind(answer) == "invalid_input"
        assert answer.text == (
            "style quad adds 4 reference images to the 14 of this request: 18 in all, but the image"
            " API takes at most 16. Send at most 12 images with this style."
        )
        assert len(fake_openai.requests) == 1
        # Within the limit it goes: 1 + 11 + 4 = 16.
        fine = await bot.reply(ALICE, THREAD, "add these signs --style quad", thirteen[:11])
        assert (await presenter.final(fine.job_id)).stage is Stage.DONE
        assert len(fake_openai.last.images) == 16


async def test_names_scopes_and_who_may_change_them(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, _presenter):
        assert isinstance(await bot.style(ALICE, THREAD, "save", "Brand", "soft light"), Notice)
        taken = await bot.style(ALICE, THREAD, "save", "bRAND", "hard light")
        assert "you already have a style named `bRAND` (names ignore case)" in taken.text
        bad = await bot.style(ALICE, THREAD, "save", "my style!", "x")
        assert bad.text == "style name 'my style!' is not valid: use 1 to 32 letters, digits, - or _"
        long = await bot.style(ALICE, THREAD, "save", "x" * 33, "x")
        assert "1 to 32 letters, digits, - or _" in long.text
        none = await bot.style(ALICE, THREAD, "save", "none", "x")
        assert "turns styles off" in none.text
        empty = await bot.style(ALICE, SessionKey("test", "team", "chan", "empty"), "save", "blank", "")
        assert "a style needs words or images" in empty.text

        # Alice's style is hers; Bob has his own of the same name.
        assert "no style named 'Brand'" in (await bot.style(BOB, THREAD, "show", "Brand", "")).text
        assert isinstance(await bot.style(BOB, THREAD, "save", "brand", "bob's light"), Notice)

        # Workspace styles: admins only; everyone there can use them; no other workspace sees them.
        refused = await bot.style(ALICE, THREAD, "save", "team", "house look --workspace")
        assert problem_kind(refused) == "forbidden"
        team = await bot.style(ADMIN, THREAD, "save", "team", "--workspace house look")
        assert "Saved the workspace's style `team`: “house look”" in team.text, team
        assert "`team` (workspace)" in (await bot.style(BOB, THREAD, "list", "", "")).text
        assert problem_kind(await bot.style(BOB, THREAD, "delete", "team", "")) == "forbidden"
        assert problem_kind(await bot.style(BOB, THREAD, "rename", "team", "ours")) == "forbidden"
        assert problem_kind(await bot.style(BOB, THREAD, "words", "team", "my look")) == "forbidden"
        stranger = UserRef("test", "alice", "Alice")
        assert "No styles here yet" in (await bot.style(stranger, ELSEWHERE, "list", "", "")).text
        assert problem_kind(await bot.imagine(stranger, ELSEWHERE, "a cat --style team")) == "not_found"

        assert problem_kind(await bot.style(ALICE, THREAD, "paint", "x", "")) == "invalid_input"
        assert "style rename needs a name" in (await bot.style(ALICE, THREAD, "rename", "", "")).text
        assert styles_in(bot.settings.database_path) == ["Brand", "brand", "team"]


async def test_rename_and_delete_keep_the_images_made_with_a_style(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, presenter):
        await bot.style(ALICE, THREAD, "save", "brnd", "soft pastel")
        made = await bot.imagine(ALICE, THREAD, "a cup --style brnd --n 1")
        done = await presenter.final(made.job_id)
        image_id = done.result.images[0].image_id

        assert (
            "Renamed style `brnd` to `brand`"
            in (await bot.style(ALICE, THREAD, "rename", "brnd", "brand")).text
        )
        gone = await bot.imagine(ALICE, THREAD, "a cup --style brnd")
        assert gone.text == "no style named 'brnd' here; closest: brand"
        assert "Deleted style `brand`" in (await bot.style(ALICE, THREAD, "delete", "brand", "")).text
        assert "No styles here yet" in (await bot.style(ALICE, THREAD, "list", "", "")).text
        shown = await bot.show(ALICE, THREAD, image_id)
        assert isinstance(shown, Images)
        assert "a cup, soft pastel" in shown.text


async def test_a_channel_default_style_applies_unless_turned_off(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        await bot.style(
            ADMIN, THREAD, "save", "house", "--workspace risograph print", [upload("r.png", (9, 9, 9))]
        )
        await bot.style(ADMIN, THREAD, "save", "mine", "just mine")
        personal = await bot.update_settings(ADMIN, THREAD, "channel", "--style mine")
        assert "must be a workspace style" in personal.text
        assert (
            problem_kind(await bot.update_settings(ALICE, THREAD, "channel", "--style house")) == "forbidden"
        )
        unknown = await bot.update_settings(ADMIN, THREAD, "channel", "--style hous")
        assert unknown.text == "no style named 'hous' here; closest: house"
        assert "--style house" in (await bot.update_settings(ADMIN, THREAD, "channel", "--style house")).text
        assert "This channel's defaults: --style house" in (await bot.settings_view(ALICE, THREAD)).text

        queued = await bot.imagine(BOB, THREAD, "a bicycle --n 1")
        assert (await presenter.final(queued.job_id)).stage is Stage.DONE
        assert fake_openai.last.endpoint == "edits"
        assert fake_openai.last.fields["prompt"] == "a bicycle, risograph print"

        off = await bot.imagine(BOB, THREAD, "a bicycle --style none --n 1")
        assert (await presenter.final(off.job_id)).stage is Stage.DONE
        assert fake_openai.last.endpoint == "generations"
        assert fake_openai.last.fields["prompt"] == "a bicycle"

        # A default whose style is gone does not block the channel; the queued line says so.
        await bot.style(ADMIN, THREAD, "delete", "house", "")
        after = await bot.imagine(BOB, THREAD, "a bicycle --n 1")
        assert "The default style `house` no longer exists" in after.text
        assert (await presenter.final(after.job_id)).stage is Stage.DONE
        assert fake_openai.last.fields["prompt"] == "a bicycle"


async def test_nothing_is_stored_half_way(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, _presenter):
        broken = Attachment("broken.png", b"not an image at all", "image/png")
        answer = await bot.style(
            ALICE, THREAD, "save", "half", "words", [upload("ok.png", (1, 2, 3)), broken]
        )
        assert problem_kind(answer) == "invalid_input"
        five = [upload(f"{k}.png", (k, k, k)) for k in range(5)]
        too_many = await bot.style(ALICE, THREAD, "save", "half", "words", five)
        assert "at most 4 reference images; 5 were given" in too_many.text
        assert styles_in(bot.settings.database_path) == []
        with sqlite3.connect(bot.settings.database_path) as conn:
            assert conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0


async def test_a_style_with_text_templates_and_comparisons(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        await bot.style(
            ALICE, THREAD, "save", "riso", "risograph, two inks", [upload("r.png", (200, 40, 40))]
        )
        await bot.style(ALICE, THREAD, "save", "words", "charcoal sketch")

        # The style's words go before the --text sentence, which stays last.
        poster = await bot.imagine(ALICE, THREAD, 'a poster --text "SALE" --style words --n 1')
        assert (await presenter.final(poster.job_id)).stage is Stage.DONE
        assert fake_openai.last.fields["prompt"] == (
            "a poster, charcoal sketch. Render this text exactly as written, letter for letter,"
            " with nothing added: “SALE”."
        )

        # A single-prompt template, then the style.
        filled = await bot.imagine(ALICE, THREAD, "--template product-white product=mug --style riso --n 1")
        assert (await presenter.final(filled.job_id)).stage is Stage.DONE
        assert fake_openai.last.endpoint == "edits"
        assert fake_openai.last.fields["prompt"].startswith("a studio product photo of mug")
        assert fake_openai.last.fields["prompt"].endswith(", risograph, two inks")

        # --compare works from a prompt alone: a style of words applies, one with images is refused.
        compared = await bot.imagine(
            ALICE, THREAD, "a kite --compare gpt-image-2,gpt-image-1.5 --style words"
        )
        assert (await presenter.final(compared.job_id)).stage is Stage.DONE
        assert fake_openai.last.fields["prompt"] == "a kite, charcoal sketch"
        refused = await bot.imagine(ALICE, THREAD, "a kite --compare gpt-image-2,gpt-image-1.5 --style riso")
        assert refused.text == (
            "--compare works from a prompt alone, and style riso has reference images:"
            " add --style none, or use a style of words only"
        )
