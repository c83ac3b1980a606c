"""Prompt templates (issue 11, item 2): `template save|list|show|rename|delete` and
`/imagine --template NAME key="value"`, on the core with the real openai client against the fake,
on the console, Discord and Slack, and every starter template run on the offline provider."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from bot.answers import Notice, Stage, problem_kind
from bot.buttons import ButtonId, Verb
from bot.domain import Attachment, SessionKey, UserRef
from bot.starter_templates import STARTERS
from bot.templates import fill
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack
from tests.helpers import make_settings, png
from tests.integration.helpers import ADMIN, ALICE, BOB, THREAD, running_bot
from tests.integration.test_console_flow import block_after, run_script
from tests.integration.test_discord_adapter import channel_id, discord_bot, settings_for
from tests.integration.test_jobs_and_limits import openai_settings
from tests.integration.test_slack_adapter import imagine_and_wait, running_slack, slack_settings

RENDER = "Render this text exactly as written, letter for letter, with nothing added:"
ELSEWHERE = SessionKey("test", "other-team", "chan", "thread-9")
SHOT = "a photo of {product} on white, the headline {headline:text} above it --ar 16:9"


def stored_templates(db_path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT workspace, owner, name FROM templates ORDER BY id").fetchall()


async def test_a_saved_template_is_filled_sent_and_its_options_apply_under_typed_ones(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        saved = await bot.template(ALICE, THREAD, "save", f"product-shot {SHOT}")
        assert isinstance(saved, Notice)
        assert 'product="..." headline="..."' in saved.text

        queued = await bot.imagine(
            ALICE, THREAD, '--template Product-Shot product="red sneaker" headline=“SALE 50%” --n 1'
        )
        done = await presenter.final(queued.job_id)
        assert done.stage is Stage.DONE
        assert fake_openai.last.fields["prompt"] == (
            f"a photo of red sneaker on white, the headline “SALE 50%” above it. {RENDER} “SALE 50%”."
        )
        assert fake_openai.last.fields["size"] == "1536x864"  # the template's --ar 16:9
        assert "text “SALE 50%”" in done.result.text

        typed = await bot.imagine(
            ALICE, THREAD, "--template product-shot product=mug headline=Hi --ar 1:1 --n 1 on a marble table"
        )
        assert (await presenter.final(typed.job_id)).stage is Stage.DONE
        assert fake_openai.last.fields["size"] == "1024x1024"  # what was typed wins
        assert fake_openai.last.fields["prompt"].startswith(
            "a photo of mug on white, the headline “Hi” above it, on a marble table."
        )


async def test_bad_templates_and_fillings_are_refused_specifically_and_nothing_runs_or_is_stored(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    settings = openai_settings(data_dir, fake_openai)
    async with running_bot(settings) as (bot, _presenter):
        assert problem_kind(await bot.template(ALICE, THREAD, "save", f"product-shot {SHOT}")) is None
        for text, kind, message in (
            (
                '--template product-shot product="red sneaker"',
                "invalid_input",
                "template product-shot needs headline=",
            ),
            ("--template product-shot", "invalid_input", "needs product= and headline="),
            (
                "--template product-shot product=a headline=b colour=red",
                "invalid_input",
                "no placeholder colour=",
            ),
            ("--template produkt-shot product=a", "not_found", "Did you mean product-shot"),
            ('--template "bad name" product=a', "invalid_input", "template name 'bad name' is not valid"),
            ("--template product-pack product=kettle --n 2", "invalid_input", "leave out --n"),
            (
                "--template product-pack product=kettle --compare gpt-image-2,gpt-image-1.5",
                "invalid_input",
                "--compare works on one prompt",
            ),
        ):
            answer = await bot.imagine(ALICE, THREAD, text)
            assert problem_kind(answer) == kind, (text, answer)
            assert message in answer.text, (text, answer.text)
        for words, message in (
            ("broken a photo of {product", "unmatched '{'"),
            ("broken a photo of {product name}", "placeholder {product name} is not valid"),
            ("broken a photo --size 1000x1000", "multiples of 16"),
            ("broken", "needs the prompt"),
            ("bad.name a photo", "template name 'bad.name' is not valid"),
            ("PRODUCT-SHOT another photo", "already a template named PRODUCT-SHOT"),
            ("x" * 33 + " a photo", "1 to 32 letters"),
        ):
            answer = await bot.template(ALICE, THREAD, "save", words)
            assert problem_kind(answer) == "invalid_input", (words, answer)
            assert message in answer.text, (words, answer.text)
        assert "Only admins" in (await bot.template(BOB, THREAD, "save", "team a {x}", workspace=True)).text
        edit = await bot.edit_upload(ALICE, THREAD, Attachment("a.png", png()), "--template product-shot")
        assert "--template works in /imagine" in edit.text
    assert fake_openai.requests == []
    assert stored_templates(settings.database_path) == [("team", "test:alice", "product-shot")]


async def test_shelves_mine_over_the_workspace_s_over_starters_each_workspace_its_own(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):

        async def sent(actor: UserRef, where: SessionKey, text: str) -> str:
            queued = await bot.imagine(actor, where, text + " --n 1")
            assert (await presenter.final(queued.job_id)).stage is Stage.DONE, queued
            return str(fake_openai.last.fields["prompt"])

        use = '--template poster event="jazz night" title=Blue'
        assert (await sent(BOB, THREAD, use)).startswith("a striking poster for jazz night")  # the starter
        saved = await bot.template(
            ADMIN, THREAD, "save", "poster team poster of {event} titled {title:text}", workspace=True
        )
        assert "used instead of the starter" in saved.text
        assert (await sent(BOB, THREAD, use)).startswith("team poster of jazz night titled “Blue”")
        await bot.template(ALICE, THREAD, "save", "poster my poster of {event}, {title}")
        assert (await sent(ALICE, THREAD, use)).startswith("my poster of jazz night, Blue")
        assert (await sent(BOB, THREAD, use)).startswith("team poster")  # Alice's is hers alone

        listing = (await bot.template(ALICE, THREAD, "list", "")).text
        assert listing.index("`poster` — event=, title=") < listing.index("**Workspace templates**")
        assert "`product-white` — product=" in listing
        assert "`poster` — event=, title= (yours or the workspace's is used)" in listing
        shown = (await bot.template(BOB, THREAD, "show", "POSTER")).text
        assert "Template poster (the workspace's): team poster of {event} titled {title:text}" in shown

        # Another workspace sees none of it: the starter again, and no such name to show.
        assert (await sent(ALICE, ELSEWHERE, use)).startswith("a striking poster")
        await bot.template(ALICE, THREAD, "save", "mine-only a {x}")
        missing = await bot.template(ALICE, ELSEWHERE, "show", "mine-only")
        assert problem_kind(missing) == "not_found"

        assert (
            "is now house-poster"
            in (await bot.template(ADMIN, THREAD, "rename", "poster house-poster", workspace=True)).text
        )
        assert (await sent(BOB, THREAD, use)).startswith("a striking poster")  # the starter is back for Bob
        assert (
            problem_kind(await bot.template(ALICE, THREAD, "rename", "poster mine-only")) == "invalid_input"
        )
        assert "Deleted template poster" in (await bot.template(ALICE, THREAD, "delete", "poster")).text
        assert "starter template" in (await bot.template(ALICE, THREAD, "delete", "poster")).text
        assert problem_kind(await bot.template(ALICE, THREAD, "delete", "nothing-here")) == "not_found"
        refused = await bot.template(BOB, THREAD, "delete", "house-poster")
        assert "the workspace's template: admins change it with --workspace" in refused.text


async def test_every_starter_template_runs_on_the_offline_provider(data_dir: Path) -> None:
    samples = {
        "product": "a ceramic coffee mug",
        "setting": "a sunny kitchen",
        "subject": "a jazz pianist",
        "room": "a small living room",
        "style": "Scandinavian",
        "topic": "a summer sale",
        "headline": "SALE 50%",
        "event": "a jazz night",
        "title": "Blue Notes",
        "brand": "ACME",
    }
    async with running_bot(make_settings(data_dir)) as (bot, presenter):
        for starter in STARTERS:
            fills = {p.name: samples[p.name] for p in starter.body.placeholders}
            typed = " ".join(f'{k}="{v}"' for k, v in fills.items())
            answer = await bot.imagine(ALICE, THREAD, f"--template {starter.name} {typed} --n 1")
            done = await presenter.final(answer.job_id)
            assert done.stage is Stage.DONE, starter.name
            if starter.body.is_pack:  # one image per prompt, one grid, each cell labelled
                labels = [part.label for part in fill(starter, fills).parts]
                assert len(done.result.images) == len(starter.body.parts) == len(labels)
                assert done.result.grid is not None
                assert all(label in done.result.text for label in labels), done.result.text
                continue
            assert len(done.result.images) == 1
            texts = [samples[p.name] for p in starter.body.placeholders if p.text]
            assert list(done.result.caption.texts) == texts, starter.name


async def test_the_console_saves_lists_and_uses_a_template(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    save = "template save sign a shop sign for {shop} reading {words:text} --ar 16:9"
    use = '/imagine --template sign shop=bakery words="Fresh Bread" --n 1'
    code, output = await run_script(settings, f"{save}\ntemplate list\n{use}\n", tmp_path / "out")
    assert code == 0, output
    assert "Saved template sign" in block_after(output, save)
    assert "`sign` — shop=, words=" in block_after(output, "template list")
    result = block_after(output, use)
    assert "text “Fresh Bread”" in result
    assert "1536x864" in result


async def test_discord_saves_lists_and_uses_a_template(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    async def answer_to(payload: dict[str, Any]) -> str:
        await fake_discord.dispatch("INTERACTION_CREATE", payload)

        def said(f: FakeDiscord) -> str | None:
            # A private answer: the deferred "thinking…" made into the answer, or a followup.
            said = [m for m in (f.original_message(payload["id"]), *f.followups(payload["id"])) if m]
            return next((str(m["content"]) for m in said if m.get("content")), None)

        return str(await fake_discord.wait_for(said))

    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        channel = channel_id(fake_discord)
        save = fake_discord.slash_interaction(
            "template",
            {"action": "save", "name": "mug", "text": "a mug printed with {word:text} --ar 1:1"},
            channel=channel,
        )
        assert "Saved template mug" in await answer_to(save)
        listing = fake_discord.slash_interaction("template", {"action": "list"}, channel=channel)
        assert "`mug` — word=" in await answer_to(listing)
        use = fake_discord.slash_interaction(
            "imagine", {"prompt": "--template mug word=Hello", "n": 1}, channel=channel
        )
        await fake_discord.dispatch("INTERACTION_CREATE", use)
        result = await fake_discord.wait_for(
            lambda f: (m := f.original_message(use["id"])) and m.get("attachments") and m, timeout=15
        )
        assert fake_discord.channels[result["id"]]["name"] == "mug Hello"  # the session thread
        assert fake_openai.last.fields["prompt"] == f"a mug printed with “Hello”. {RENDER} “Hello”."

        # The workspace's shelf is a field on Discord: the server's owner (an admin) may use it.
        team = {"action": "save", "name": "team-mug", "text": "a team mug", "workspace": True}
        assert "the workspace's" in await answer_to(
            fake_discord.slash_interaction("template", team, channel=channel)
        )
        stranger = fake_discord.make_user("stranger")
        refused = fake_discord.slash_interaction("template", team, channel=channel, user=stranger)
        assert "Only admins" in await answer_to(refused)
        theirs = fake_discord.slash_interaction(
            "template", {"action": "list"}, channel=channel, user=stranger
        )
        listed = await answer_to(theirs)
        assert "`team-mug`" in listed
        assert "`mug`" not in listed  # the owner's own templates are theirs alone


async def test_slack_saves_lists_and_uses_a_template(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running_slack(slack_settings(data_dir, slack, fake_openai), slack) as h:
        ask = h.ask

        assert "Saved template tote" in await ask(
            "template save tote a canvas tote bag with {brand:text} --ar 1:1"
        )
        assert "Only admins" in await ask("template save team-tote a tote --workspace")
        assert "`tote` — brand=" in await ask("template list")
        await imagine_and_wait(h, "--template tote brand=“Kind & Co” --n 1")
        assert (
            fake_openai.last.fields["prompt"] == f"a canvas tote bag with “Kind & Co”. {RENDER} “Kind & Co”."
        )


async def test_a_long_list_still_fits_one_chat_message(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, _presenter):
        fields = " ".join(f"{{{'p' * 30}{i}}}" for i in range(4))
        for index in range(14):
            name = f"{index:02d}" + "n" * 30
            assert problem_kind(await bot.template(ALICE, THREAD, "save", f"{name} a {fields}")) is None
            assert (
                problem_kind(await bot.template(ADMIN, THREAD, "save", f"{name} b {fields}", workspace=True))
                is None
            )
        listing = (await bot.template(ALICE, THREAD, "list", "")).text
        assert len(listing) <= 2000
        assert f"`00{'n' * 30}`" in listing
        assert "more than fit here" in listing
        assert listing.endswith("(admins: add --workspace).")


async def test_a_template_pack_runs_as_one_job_with_one_image_per_prompt(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        answer = await bot.imagine(ALICE, THREAD, '--template product-pack product="red sneaker"')
        done = await presenter.final(answer.job_id)
        assert done.stage is Stage.DONE, done
        prompts = [request.fields["prompt"] for request in fake_openai.requests]
        assert len(prompts) == len(set(prompts)) == 3  # one request per prompt of the pack
        assert all("red sneaker" in prompt for prompt in prompts)
        assert all(request.fields.get("n", 1) == 1 for request in fake_openai.requests)
        assert len(done.result.images) == 3
        assert done.result.grid is not None
        assert "template product-pack: red sneaker" in done.result.text
        # U2 picks the second prompt's image, as on any set.
        set_id = done.result.caption.short_id
        picked = await bot.press(ALICE, THREAD, ButtonId(Verb.U, set_id, "2"))
        assert problem_kind(picked) is None
        assert picked.images[0].image_id == done.result.images[1].image_id
