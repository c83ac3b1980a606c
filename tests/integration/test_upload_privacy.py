"""Through the real openai client: what reaches the provider and storage carries no metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answers import Stage, problem_kind
from bot.domain import Attachment
from tests.fakes.openai import FakeOpenAI
from tests.integration.helpers import ALICE, THREAD, running_bot
from tests.integration.test_jobs_and_limits import openai_settings
from tests.unit.test_upload_metadata import (
    assert_clean,
    jpeg_with_everything,
    png_with_everything,
    webp_with_everything,
)


@pytest.mark.parametrize("make", [jpeg_with_everything, png_with_everything, webp_with_everything])
async def test_edit_upload_sends_and_stores_no_metadata(
    data_dir: Path, fake_openai: FakeOpenAI, make
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        photo = Attachment("holiday", make(), None)
        reference = Attachment("logo", make(), None)
        queued = await bot.edit_upload(
            ALICE, THREAD, photo, "make it sunset --size 1024x1024", references=[reference]
        )
        assert problem_kind(queued) is None, queued.text
        assert (await presenter.final(queued.job_id)).stage is Stage.DONE
        sent = fake_openai.last.images
        assert len(sent) == 2
        for file in sent:
            assert_clean(file.data)
        stored = [blob for blob in (data_dir / "blobs").rglob("*") if blob.is_file()]
        assert len(stored) >= 2  # the upload (both parts are the same bytes) and the result
        for blob in stored:
            assert_clean(blob.read_bytes())
