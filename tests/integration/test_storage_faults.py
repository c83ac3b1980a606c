"""A storage write that fails (full disk, read-only, I/O error) fails that job in plain words,
releases everyone waiting on it, and leaves no half-written file or row (issue 7, item 13).

The full disk is real: a small tmpfs mounted over the blob directory (or the whole data
directory) and filled up. That needs root, as the sandbox and CI have; elsewhere it is skipped.
The other errors are injected where the bytes hit the disk.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.answers import Queued, Stage, problem_kind
from tests.helpers import make_settings
from tests.integration.helpers import ALICE, THREAD, running_bot


def _mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")


def fill(disk: Path) -> Path:
    """Write a filler file until the file system refuses with ENOSPC."""
    filler = disk / "filler"
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC  # noqa: PT017 - set-up, not the test: only a full disk ends the loop
    return filler


@pytest.fixture
def small_blob_disk(data_dir: Path) -> Iterator[Path]:
    disk = data_dir / "blobs"
    _mount_tmpfs(disk, "8m")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def leftovers(disk: Path) -> list[Path]:
    return [p for p in disk.rglob(".tmp-*")]


def image_rows(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "imagebot.sqlite3") as conn:
        return conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]


async def test_a_full_disk_fails_the_job_clearly_and_the_next_one_works(
    data_dir: Path, small_blob_disk: Path
) -> None:
    async with running_bot(make_settings(data_dir, imagebot_storage_patience_seconds=0.3)) as (
        bot,
        presenter,
    ):
        filler = fill(small_blob_disk)
        queued = await bot.imagine(ALICE, THREAD, "a lighthouse in a storm --n 2")
        assert problem_kind(queued) is None, queued.text
        failed = await presenter.final(queued.job_id)  # the waiter is released, nothing hangs
        assert failed.stage is Stage.FAILED
        assert "disk is full" in failed.result.text
        assert "Retry" in [b.label.split()[-1] for b in failed.result.buttons]
        assert await bot.runner.wait(queued.job_id) is Stage.FAILED
        assert leftovers(small_blob_disk) == []
        assert image_rows(data_dir) == 0  # nothing half-stored
        job = await bot.store.jobs.get(queued.job_id)
        assert job.status.value == "failed"
        assert "disk is full" in (job.error_message or "")

        filler.unlink()
        again = await bot.imagine(ALICE, THREAD, "a lighthouse in a storm --n 2")
        assert (await presenter.final(again.job_id)).stage is Stage.DONE


@pytest.mark.parametrize(
    ("code", "words"),
    [(errno.EROFS, "read-only"), (errno.EIO, "I/O error"), (errno.ENOSPC, "disk is full")],
)
async def test_write_errors_are_named_and_leave_no_temporary_file(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:  # the bytes were written, the disk refuses to keep them
        real_fsync(fd)
        raise OSError(code, os.strerror(code))

    async with running_bot(make_settings(data_dir, imagebot_storage_patience_seconds=0.3)) as (
        bot,
        presenter,
    ):
        monkeypatch.setattr("storage.blobs.os.fsync", failing_fsync)
        queued = await bot.imagine(ALICE, THREAD, "a kite --n 1")
        failed = await presenter.final(queued.job_id)
        assert failed.stage is Stage.FAILED
        assert words in failed.result.text
        assert leftovers(data_dir / "blobs") == []
        assert image_rows(data_dir) == 0


async def test_a_database_that_cannot_record_a_job_still_answers_the_request(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_bot(make_settings(data_dir, imagebot_storage_patience_seconds=0.3)) as (
        bot,
        presenter,
    ):

        async def full(*_args: object, **_kwargs: object) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(bot.store.jobs, "create", full)
        refused = await bot.imagine(ALICE, THREAD, "a kite --n 1")
        assert problem_kind(refused) == "unavailable"
        assert "disk is full" in refused.text
        monkeypatch.undo()

        # Created, then nothing more can be written: not its start (a job that waited its turn),
        # nor its results (one that started at once), nor its failure.
        monkeypatch.setattr(bot.store.jobs, "mark_running", full)
        monkeypatch.setattr(bot.store.jobs, "complete", full)
        monkeypatch.setattr(bot.store.jobs, "mark_finished", full)
        stuck = await bot.imagine(ALICE, THREAD, "a kite --n 1")
        failed = await presenter.final(stuck.job_id)  # told, even though nothing could be recorded
        assert failed.stage is Stage.FAILED
        assert "disk is full" in failed.result.text


@pytest.fixture
def small_data_disk(data_dir: Path) -> Iterator[Path]:
    _mount_tmpfs(data_dir, "16m")
    try:
        yield data_dir
    finally:
        subprocess.run(["umount", "-l", str(data_dir)], check=False)


async def test_a_full_disk_under_the_database_is_answered_in_plain_words(small_data_disk: Path) -> None:
    settings = make_settings(small_data_disk, imagebot_storage_patience_seconds=0.3)
    async with running_bot(settings) as (bot, presenter):
        filler = fill(small_data_disk)
        reply = await bot.imagine(ALICE, THREAD, "a lighthouse --n 1")
        if not isinstance(reply, Queued):  # the job itself could not be recorded: the request is answered
            assert problem_kind(reply) == "unavailable", reply.text
            assert "disk is full" in reply.text, reply.text
        else:  # recorded, then its results could not be: the job fails, nothing hangs
            failed = await presenter.final(reply.job_id)
            assert failed.stage is Stage.FAILED
            assert "disk is full" in failed.result.text
        filler.unlink()
        again = await bot.imagine(ALICE, THREAD, "a lighthouse --n 1")
        assert (await presenter.final(again.job_id)).stage is Stage.DONE
