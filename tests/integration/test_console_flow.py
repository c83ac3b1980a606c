"""End to end through the console adapter: a whole editing conversation on both providers."""

from __future__ import annotations

import io
import os
import re
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from adapters.console.repl import MAX_UPLOAD_BYTES, read_attachment, run_console
from bot.answers import problem_kind
from bot.domain import Attachment
from storage.store import Store
from tests.fakes.openai import FakeOpenAI
from tests.helpers import build_bot, make_settings

SCRIPT = """\
/imagine a red fox in snow --n 4
U2
make it night
make the fox smile
undo
upscale
zoom 2
"""

SAVED = re.compile(r"(?:image|grid|\d+): (\S+) \((\d+)x(\d+)\)")


async def run_script(settings, script: str, out_dir: Path) -> tuple[int, str]:
    store = await Store.open(settings.database_path, settings.blobs_dir)
    bot = build_bot(settings, store)
    stdout = io.StringIO()
    try:
        code = await run_console(
            bot, out_dir=out_dir, stdin=io.StringIO(script), stdout=stdout, interactive=False
        )
    finally:
        await bot.stop()
        await bot.provider.close()
        await store.close()
    return code, stdout.getvalue()


def saved_after(output: str, line: str) -> list[tuple[Path, int, int]]:
    """Files the console reported for the script line `line` (up to the next line)."""
    block = output.split(f"> {line}\n", 1)[1].split("\n> ", 1)[0]
    return [(Path(p), int(w), int(h)) for p, w, h in SAVED.findall(block)]


def lineage(db_path: Path) -> dict[str, tuple[str, str | None]]:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT i.id, i.operation, p.parent_id FROM images i"
            " LEFT JOIN image_parents p ON p.image_id = i.id AND p.position = 0"
        ).fetchall()
    return {image_id: (op, parent) for image_id, op, parent in rows}


def image_id_of(path: Path) -> str:
    return path.stem.removeprefix("imagebot-")


def check_conversation(output: str, out_dir: Path, db_path: Path) -> dict[str, str]:
    """Assertions shared by both providers; returns the ids of the images along the way."""
    grid_and_set = saved_after(output, "/imagine a red fox in snow --n 4")
    assert len(grid_and_set) == 5, output  # the grid plus the four images
    grid, *members = grid_and_set
    assert grid[0].name.endswith("-grid.jpg")
    assert all((w, h) == (1024, 1024) for _, w, h in members)
    for path, w, h in grid_and_set:
        assert path.is_file()
        assert path.parent == out_dir
        with Image.open(path) as img:
            assert img.size == (w, h)

    (selected,) = saved_after(output, "U2")
    assert selected[0].read_bytes() == members[1][0].read_bytes()  # U2 is the second image of the set

    (night,) = saved_after(output, "make it night")
    (smile,) = saved_after(output, "make the fox smile")
    (back,) = saved_after(output, "undo")
    (upscaled,) = saved_after(output, "upscale")
    (zoomed,) = saved_after(output, "zoom 2")
    assert back[0].read_bytes() == night[0].read_bytes()  # undo makes the parent current again
    assert (upscaled[1], upscaled[2]) == (2880, 2880)  # the largest square gpt-image-2 renders
    assert (zoomed[1], zoomed[2]) == (2880, 2880)  # the canvas is capped at the model's limit

    ids = {
        "selected": image_id_of(selected[0]),
        "night": image_id_of(night[0]),
        "smile": image_id_of(smile[0]),
        "upscaled": image_id_of(upscaled[0]),
        "zoomed": image_id_of(zoomed[0]),
    }
    tree = lineage(db_path)
    assert tree[ids["selected"]] == ("imagine", None)
    assert tree[ids["night"]] == ("edit", ids["selected"])
    assert tree[ids["smile"]] == ("edit", ids["night"])
    assert tree[ids["upscaled"]] == ("upscale", ids["night"])  # built on the undone-to image
    assert tree[ids["zoomed"]] == ("zoom_out", ids["upscaled"])
    with sqlite3.connect(db_path) as conn:
        (current,) = conn.execute("SELECT current_image_id FROM sessions").fetchone()
        (jobs_done,) = conn.execute("SELECT COUNT(*) FROM jobs WHERE status='done'").fetchone()
    assert current == ids["zoomed"]
    assert jobs_done == 5  # imagine, two edits, upscale, zoom (select and undo need no job)
    return ids


async def test_offline_conversation(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    out_dir = tmp_path / "out"
    code, output = await run_script(settings, SCRIPT, out_dir)
    assert code == 0, output
    assert "offline preview" in output
    check_conversation(output, out_dir, settings.database_path)


async def test_openai_conversation(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = make_settings(
        tmp_path / "data",
        imagebot_provider="openai",
        openai_api_key="sk-test",
        openai_base_url=fake_openai.base_url,
        imagebot_partial_images=0,
    )
    out_dir = tmp_path / "out"
    code, output = await run_script(settings, SCRIPT, out_dir)
    assert code == 0, output
    assert "offline preview" not in output
    check_conversation(output, out_dir, settings.database_path)

    generate, edit1, edit2, upscale, zoom = fake_openai.requests
    assert generate.endpoint == "generations"
    assert generate.fields["model"] == "gpt-image-2"
    assert generate.fields["n"] == 4
    assert generate.fields["prompt"] == "a red fox in snow"
    # An edit sends the current image: image 2 of the set, exactly as the API returned it.
    assert edit1.endpoint == "edits"
    assert [f.field for f in edit1.files] == ["image[]"]
    assert edit1.files[0].data == fake_openai.returned[0][1]
    assert edit1.files[0].content_type == "image/png"
    assert edit1.fields["prompt"] == "make it night"
    assert edit2.files[0].data == fake_openai.returned[1][0]  # the second edit builds on the first
    assert upscale.files[0].data == fake_openai.returned[1][0]  # after undo: the night image
    assert upscale.fields["size"] == "2880x2880"
    # A zoom sends a canvas and a mask of the same, requested size.
    assert [f.field for f in zoom.files] == ["image[]", "mask"]
    canvas, mask = zoom.files
    assert (canvas.width, canvas.height) == (mask.width, mask.height) == (2880, 2880)
    assert zoom.fields["size"] == "2880x2880"
    with Image.open(io.BytesIO(mask.data)) as m:
        alpha = m.getchannel("A")
        assert alpha.getpixel((0, 0)) == 0
        assert alpha.getpixel((1440, 1440)) == 255
    safety = {r.fields.get("safety_identifier") for r in fake_openai.requests}
    assert len(safety) == 1
    assert None not in safety  # one hashed id for the one user


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("make it night\n", "no image in this thread yet"),
        ("/imagine a fox --size 1000x1000\n", "multiples of 16"),
        ("/imagine a fox --n 4\nmake it night\n", "Which image"),
        ("/imagine a fox --model gpt-image-1\n", "shut down"),
        ("/imagine --n 2\n", "prompt is empty"),
    ],
)
async def test_bad_lines_fail_the_script(tmp_path: Path, script: str, message: str) -> None:
    settings = make_settings(tmp_path / "data")
    code, output = await run_script(settings, script, tmp_path / "out")
    assert code == 1
    assert message.lower() in output.lower()


def jobs_in(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM jobs").fetchone()
    return count


async def test_console_words_with_a_bad_argument_get_their_own_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    script = "/imagine a fox --n 1\nzoom 3\nzoom 0\naspect 7\nvary wildly\nU9\nV2\n"
    code, output = await run_script(settings, script, tmp_path / "out")
    assert code == 1
    assert "`zoom` takes 1.5 or 2" in block_after(output, "zoom 3")
    assert "`zoom` takes 1.5 or 2" in block_after(output, "zoom 0")
    assert "`aspect` takes a ratio W:H" in block_after(output, "aspect 7")
    assert "`vary` takes subtle or strong" in block_after(output, "vary wildly")
    assert "picks from a grid" in block_after(output, "U9")
    assert "picks from a grid" in block_after(output, "V2")
    assert output.count("line(s) failed") == 1
    assert "6 line(s) failed" in output
    assert jobs_in(settings.database_path) == 1  # only the /imagine: no word became a paid edit


async def test_console_words_still_leave_instructions_alone(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    code, output = await run_script(settings, "/imagine a fox --n 1\nzoom in on the eyes\n", tmp_path / "out")
    assert code == 0, output
    assert "Edited" in block_after(output, "zoom in on the eyes")
    assert jobs_in(settings.database_path) == 2


def block_after(output: str, line: str) -> str:
    return output.split(f"> {line}\n", 1)[1].split("\n> ", 1)[0]


async def test_edit_refuses_what_is_not_a_file_of_a_sane_size(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    huge = tmp_path / "huge.png"
    with huge.open("wb") as file:
        file.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: no disk space used
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    script = f"/edit /dev/zero make it blue\n/edit {huge} make it blue\n/edit {fifo} make it blue\n"
    code, output = await run_script(settings, script, tmp_path / "out")
    assert code == 1
    assert "Cannot use /dev/zero: it is not a regular file" in output
    assert f"Cannot use {huge}: it is larger than 50 MB" in output
    assert f"Cannot use {fifo}: it is not a regular file" in output
    assert jobs_in(settings.database_path) == 0


def test_an_upload_is_never_read_past_the_limit(tmp_path: Path) -> None:
    exact = tmp_path / "exact.png"
    exact.write_bytes(b"x" * 100)
    assert isinstance(read_attachment(exact, limit=100), Attachment)
    assert problem_kind(read_attachment(exact, limit=99)) == "invalid_input"  # type: ignore[arg-type]


async def test_partial_previews_go_to_a_partials_folder(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", imagebot_partial_images=2)
    out_dir = tmp_path / "out"
    code, output = await run_script(settings, "/imagine a lighthouse --n 1\n", out_dir)
    assert code == 0, output
    partials = sorted((out_dir / "partials").glob("*.png"))
    assert partials
    assert all("partial" in p.name for p in partials)
    assert f"partial preview 1: {out_dir / 'partials'}/" in output
    top = [p.name for p in out_dir.glob("*.png")]
    assert len(top) == 1
    assert "partial" not in top[0]  # the output folder holds the results only


async def test_the_console_continues_its_last_session_after_a_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    out_dir = tmp_path / "out"
    code, _ = await run_script(settings, "/imagine a fox --n 1\n", out_dir)
    assert code == 0
    code, output = await run_script(settings, "make it night\n", out_dir)
    assert code == 0, output  # the fox of the last run is still the current image
    assert "Continuing session 1" in output
    assert "Edited" in output

    code, output = await run_script(settings, "new\n", out_dir)
    assert code == 0
    assert "Started a new session (2)" in output
    code, output = await run_script(settings, "make it night\n", out_dir)
    assert code == 1  # `new` is remembered too: the new session has no image yet
    assert "no image in this thread yet" in output
    assert "Continuing" not in output
    code, output = await run_script(settings, "/imagine an owl --n 1\nhistory\n", out_dir)
    assert code == 0
    assert "owl" in output
    assert "fox" not in block_after(output, "history")
