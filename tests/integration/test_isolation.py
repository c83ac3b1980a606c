"""Workspace isolation: one workspace never sees another's images, sets or jobs, even given ids.

Another workspace's id must be answered exactly like an id that does not exist, so ids cannot
even be probed.
"""

from __future__ import annotations

from pathlib import Path

from bot.answers import Images, Outcome, Stage, problem_kind
from bot.buttons import ButtonId, Verb
from bot.domain import SessionKey, UserRef
from tests.helpers import make_settings
from tests.integration.helpers import ALICE, THREAD, running_bot

# Same platform, same channel and thread names, same user id: only the workspace differs.
OTHER = SessionKey("test", "other-team", "chan", "thread-1")
MALLORY = UserRef("test", "mallory", "Mallory", is_admin=True)
UNKNOWN = "0badf00d"


def same_answer(reply: Outcome, unknown: Outcome, ident: str) -> bool:
    """The reply for a foreign id reads exactly like the one for an unknown id."""
    return (
        problem_kind(reply) == problem_kind(unknown) == "not_found"
        and reply.text.replace(ident, UNKNOWN) == unknown.text
    )


async def test_foreign_image_and_set_ids_are_not_found(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, presenter):
        grid = await presenter.final((await bot.imagine(ALICE, THREAD, "our secret logo --n 2")).job_id)
        set_id = grid.result.caption.short_id
        image_id = grid.result.images[0].image_id
        picked = await bot.press(ALICE, THREAD, ButtonId(Verb.U, set_id, "1"))
        assert problem_kind(picked) is None  # the owner's own workspace works as before

        for ident in (set_id, image_id):
            foreign = await bot.show(MALLORY, OTHER, ident)
            assert same_answer(foreign, await bot.show(MALLORY, OTHER, UNKNOWN), ident), foreign.text
            assert not isinstance(foreign, Images)

        for verb in ("u", "v"):
            foreign = await bot.press(MALLORY, OTHER, ButtonId(Verb(verb), set_id, "1"))
            unknown = await bot.press(MALLORY, OTHER, ButtonId(Verb(verb), UNKNOWN, "1"))
            assert same_answer(foreign, unknown, set_id), foreign.text
        for verb in ("upscale", "vary-subtle", "use", "undo", "nobg", "reroll", "zoom"):
            foreign = await bot.press(MALLORY, OTHER, ButtonId(Verb(verb), image_id))
            unknown = await bot.press(MALLORY, OTHER, ButtonId(Verb(verb), UNKNOWN))
            assert same_answer(foreign, unknown, image_id), (verb, foreign.text)
        foreign_edit = await bot.edit_image(MALLORY, OTHER, image_id, "add a moustache")
        assert same_answer(foreign_edit, await bot.edit_image(MALLORY, OTHER, UNKNOWN, "x"), image_id)

        # Nothing was queued for the other workspace, and its history stays empty.
        assert [u for u in presenter.updates if u.job.where == OTHER] == []
        mine_there = await bot.history(ALICE, OTHER, mine=True)
        assert "none yet" in mine_there.text
        assert image_id not in mine_there.text
        mine_here = await bot.history(ALICE, THREAD, mine=True)
        assert image_id in mine_here.text


async def test_foreign_job_ids_cannot_be_cancelled_retried_or_listed(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, presenter):
        queued = await bot.imagine(ALICE, THREAD, "a lighthouse --n 1")
        job_id = queued.job_id
        assert job_id is not None
        listing = await bot.queue(MALLORY, OTHER)  # an admin, but of another workspace
        assert job_id not in listing.text
        assert "lighthouse" not in listing.text
        foreign = await bot.cancel(MALLORY, OTHER, job_id)
        assert same_answer(foreign, await bot.cancel(MALLORY, OTHER, UNKNOWN), job_id), foreign.text
        done = await presenter.final(job_id)
        assert done.stage is Stage.DONE  # not cancelled by the other workspace

        retry = await bot.press(MALLORY, OTHER, ButtonId(Verb.RETRY, job_id))
        unknown = await bot.press(MALLORY, OTHER, ButtonId(Verb.RETRY, UNKNOWN))
        assert same_answer(retry, unknown, job_id), retry.text
