"""PRODUCT.md §6: every bad input gets its own clear message and leaves nothing stored."""

from __future__ import annotations

import sqlite3
import struct
import zlib
from pathlib import Path

import pytest

from bot.answers import problem_kind
from bot.domain import Attachment
from tests.helpers import make_settings, png
from tests.integration.helpers import ALICE, THREAD, running_bot


def bomb() -> bytes:
    """A small valid PNG whose header declares 60000x60000 pixels."""
    data = bytearray(png(16, 16))
    ihdr = struct.pack(">II", 60000, 60000) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def stored_counts(data_dir: Path) -> tuple[int, int, int]:
    with sqlite3.connect(data_dir / "imagebot.sqlite3") as conn:
        images = conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]
        jobs = conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    blobs = (
        [p for p in (data_dir / "blobs").rglob("*") if p.is_file()] if (data_dir / "blobs").exists() else []
    )
    return images, jobs, len(blobs)


PHOTO = Attachment("photo.png", png(1024, 1024))

UPLOAD_CASES = [
    ("notes.pdf", b"%PDF-1.7\n" + b"0" * 2000, "not an image"),
    ("anim.gif", b"GIF89a" + b"\0" * 100, "GIF"),
    ("empty.png", b"", "empty"),
    ("bomb.png", bomb(), "pixels"),
    ("broken.png", png(64, 64)[:60], "damaged"),
    ("huge.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (50 * 1024 * 1024 + 10), "under 50"),
]


@pytest.mark.parametrize(("filename", "data", "message"), UPLOAD_CASES, ids=[c[0] for c in UPLOAD_CASES])
async def test_bad_uploads_are_refused_and_nothing_is_stored(data_dir: Path, filename, data, message) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, _):
        as_edit = await bot.edit_upload(ALICE, THREAD, Attachment(filename, data), "make it blue")
        as_reference = await bot.imagine(
            ALICE, THREAD, "a poster", references=[PHOTO, Attachment(filename, data)]
        )
    for reply in (as_edit, as_reference):
        assert problem_kind(reply) == "invalid_input"
        assert message.lower() in reply.text.lower(), reply.text
        assert filename in reply.text  # says which file
    assert stored_counts(data_dir) == (0, 0, 0)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (png(512, 512, mode="RGBA", color=(0, 0, 0, 0)), "same size"),
        (png(1024, 1024, mode="RGBA", color=(0, 0, 0, 255)), "no transparent"),
        (b"not a mask", "not an image"),
    ],
    ids=["wrong-size", "opaque", "garbage"],
)
async def test_bad_masks_are_refused(data_dir: Path, mask: bytes, message: str) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, _):
        reply = await bot.edit_upload(ALICE, THREAD, PHOTO, "add a moon", mask=Attachment("mask.png", mask))
    assert problem_kind(reply) == "invalid_input", reply.text
    assert message in reply.text.lower(), reply.text
    assert stored_counts(data_dir) == (0, 0, 0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x" * 32_001, "32,000"),
        ("a fox --stylize 100", "unknown option --stylize"),
        ("a fox --n 11", "between 1 and 10"),
        ("a fox --size 1000x1000", "multiples of 16"),
        ("a fox --ar 4:1", "1:3 and 3:1"),
        ("a fox --size 4096x2160", "3840"),
        ("a fox --quality xhigh", "xhigh"),
        ("a fox --background transparent --format jpeg", "png or webp"),
        ("a fox --compression 50", "webp or jpeg"),
        ("a fox --model dall-e-3", "retired"),
        ("a fox --model gpt-image-9", "unknown model"),
        ("--n 2", "empty"),
    ],
)
async def test_bad_prompts_and_options_get_specific_messages(data_dir: Path, text: str, message: str) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, _):
        reply = await bot.imagine(ALICE, THREAD, text)
    assert problem_kind(reply) == "invalid_input"
    assert message.lower() in reply.text.lower(), reply.text
    assert stored_counts(data_dir)[:2] == (0, 0)


async def test_daily_quota_stops_new_jobs(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir, imagebot_daily_image_quota=3)) as (bot, presenter):
        first = await bot.imagine(ALICE, THREAD, "three owls --n 3")
        await presenter.final(first.job_id)
        refused = await bot.imagine(ALICE, THREAD, "one more owl --n 1")
    assert problem_kind(refused) == "quota"
    assert "3 of 3" in refused.text
