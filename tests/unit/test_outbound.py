"""What goes out for a result and a job's progress (bot/outbound.py), the same on every platform."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from bot import outbound
from bot.answers import Button, Caption, Images, ImageView, JobFailed, JobUpdate, Stage
from bot.buttons import Verb
from bot.domain import ImageOptions, Job, JobSpec, JobStatus, Operation, SessionKey, UserRef
from bot.errors import ErrorKind
from bot.outbound import Limits
from tests.helpers import encode_png, png


def view(name: str, data: bytes, size: tuple[int, int] = (64, 64)) -> ImageView:
    return ImageView(name, f"imagebot-{name}.png", data, "image/png", *size)


SMALL = png(64, 64)


@pytest.fixture(scope="module")
def noisy() -> bytes:
    return encode_png(Image.frombytes("RGB", (512, 512), os.urandom(512 * 512 * 3)))


# --- which files ---------------------------------------------------------------------------------


def test_a_set_is_shown_by_its_grid_and_a_single_image_by_itself() -> None:
    grid, images = view("grid", SMALL), (view("a", SMALL), view("b", SMALL))
    assert outbound.views_to_upload(grid, images) == (grid,)
    assert outbound.views_to_upload(None, images) == images
    assert outbound.views_to_upload(grid, images, set_images=True) == (grid, *images)


def test_files_that_fit_go_as_they_are() -> None:
    grid = view("grid", SMALL)
    files, notes = outbound.plan_uploads(grid, (view("a", SMALL),), Limits(upload_bytes=10_000_000))
    assert notes == ()
    (upload,) = files
    assert upload.grid
    assert upload.view is grid
    assert upload.data is SMALL
    assert upload.filename == "imagebot-grid.png"
    assert upload.mime == "image/png"
    assert not upload.reencoded


def test_a_file_over_the_limit_is_re_encoded_renamed_and_said_so(noisy: bytes) -> None:
    limit = len(noisy) // 4
    files, notes = outbound.plan_uploads(None, (view("a", noisy, (512, 512)),), Limits(upload_bytes=limit))
    (upload,) = files
    assert upload.reencoded
    assert len(upload.data) <= limit
    assert upload.filename == "imagebot-a.jpg"
    assert upload.mime == "image/jpeg"
    assert outbound.file_stem(upload.filename) == outbound.file_stem(upload.view.filename)  # found again
    assert upload.view.width == 512  # what it shows, as stored
    (note,) = notes
    assert note.startswith("re-encoded as JPEG")
    assert "the original PNG" in note


def test_a_file_that_cannot_fit_is_left_out_with_a_note(noisy: bytes) -> None:
    files, notes = outbound.plan_uploads(
        None, (view("a", noisy, (512, 512)), view("b", SMALL)), Limits(upload_bytes=len(SMALL))
    )
    assert [u.filename for u in files] == ["imagebot-b.png"]
    assert notes == ("imagebot-a.png is too large to upload here even re-encoded.",)


def test_files_past_the_platform_count_are_left_out_with_a_note() -> None:
    images = tuple(view(str(k), SMALL) for k in range(12))
    files, notes = outbound.plan_uploads(None, images, Limits(files=10))
    assert len(files) == 10
    assert [u.view for u in files] == list(images[:10])
    assert notes == ("2 more images are not attached: a message here holds at most 10 files.",)
    _, notes = outbound.plan_uploads(None, images[:11], Limits(files=10))
    assert notes[0].startswith("1 more image is not attached")


def test_no_limit_means_no_re_encoding(noisy: bytes) -> None:
    files, notes = outbound.plan_uploads(None, (view("a", noisy),), Limits())
    assert files[0].data is noisy
    assert notes == ()


# --- the text ------------------------------------------------------------------------------------


def test_trim_marks_a_cut() -> None:
    assert outbound.trim("abcdef", 10) == "abcdef"
    assert outbound.trim("abcdef", 4) == "abc…"
    assert outbound.trim("abcdef", None) == "abcdef"


def test_notes_follow_the_text_one_a_line_in_the_platforms_markup() -> None:
    text = outbound.compose("Here", ["shrunk", "left out"], None, note=lambda n: f"-# {n}")
    assert text == "Here\n-# shrunk\n-# left out"


def test_a_long_text_is_trimmed_but_its_notes_are_kept_whole() -> None:
    text = outbound.compose("x" * 100, ["re-encoded to fit"], 50)
    assert len(text) == 50
    assert text.endswith("…\nre-encoded to fit")
    # Notes longer than the whole limit: everything is trimmed together.
    assert outbound.compose("hi", ["n" * 80], 50) == ("hi\n" + "n" * 80)[:49] + "…"


async def test_a_message_plan_holds_the_files_notes_and_trimmed_text(noisy: bytes) -> None:
    plan = await outbound.plan_message(
        "y" * 3000,
        limits=Limits(upload_bytes=len(noisy) // 4, files=10, text=2000),
        images=(view("a", noisy, (512, 512)),),
        notes=("from the core",),
        note=lambda n: f"_{n}_",
    )
    assert len(plan.text) == 2000
    assert len(plan.files) == 1
    assert plan.files[0].reencoded
    assert plan.notes[0] == "from the core"
    assert plan.notes[1].startswith("re-encoded")
    assert plan.text.endswith("\n_from the core_\n_" + plan.notes[1] + "_")


async def test_a_message_plan_without_files_does_no_fitting(noisy: bytes) -> None:
    plan = await outbound.plan_message(
        "text", limits=Limits(upload_bytes=10), images=(view("a", noisy),), with_files=False
    )
    assert plan == outbound.MessagePlan("text")


# --- progress ------------------------------------------------------------------------------------


def a_job(job_id: str = "j1") -> Job:
    spec = JobSpec(Operation.IMAGINE, "a fox", ImageOptions("gpt-image-2", "1024x1024"))
    return Job(job_id, 1, SessionKey("t", "w", "c", "th"), UserRef("t", "u"), spec, JobStatus.QUEUED, 0.0)


def test_progress_lines_say_the_place_in_line_then_the_previews_received() -> None:
    progress, job = outbound.Progress(), a_job()
    assert progress.line(JobUpdate(job, Stage.QUEUED, position=3)).text == "⏳ #3 in line · job `j1`"
    assert progress.line(JobUpdate(job, Stage.RUNNING)).text == "🖌️ Working on it… · job `j1`"
    first = progress.line(JobUpdate(job, Stage.PARTIAL, preview=b"p1"))
    second = progress.line(JobUpdate(job, Stage.PARTIAL, preview=b"p2"))
    assert (first.preview_number, second.preview_number, second.preview) == (1, 2, b"p2")
    assert second.text == "🖌️ Working on it… (preview 2 received) · job `j1`"
    assert not second.final


def test_final_lines_and_the_count_ends_with_the_job() -> None:
    progress, job = outbound.Progress(), a_job()
    progress.line(JobUpdate(job, Stage.PARTIAL, preview=b"p"))
    caption = Caption("abcd1234", "a fox", "gpt-image-2", "1024x1024", "u")
    done = progress.line(
        JobUpdate(job, Stage.DONE, result=Images("ok", caption=caption, images=())), where="below"
    )
    assert done.final
    assert done.text == "✅ Done `abcd1234` · job `j1` — the result is below."
    again = progress.line(JobUpdate(job, Stage.PARTIAL, preview=b"p"))
    assert again.preview_number == 1  # a new count: the finished job was forgotten
    failed = progress.line(
        JobUpdate(job, Stage.FAILED, result=JobFailed("j1", ErrorKind.REFUSED, "❌ Job `j1` failed: refused"))
    )
    assert failed.text == "❌ Job `j1` failed: refused"
    assert progress.line(JobUpdate(job, Stage.FAILED)).text == "❌ Job `j1` failed."
    assert progress.line(JobUpdate(job, Stage.CANCELLED)).text == "🚫 Cancelled · job `j1`"
    assert outbound.done_line("j1") == "✅ Done · job `j1`."


def test_preview_counts_stay_bounded() -> None:
    progress = outbound.Progress(remember=10)
    for k in range(25):
        progress.line(JobUpdate(a_job(f"j{k}"), Stage.PARTIAL, preview=b"p"))
    assert progress.line(JobUpdate(a_job("j24"), Stage.PARTIAL, preview=b"p")).preview_number == 2
    assert progress.line(JobUpdate(a_job("j0"), Stage.PARTIAL, preview=b"p")).preview_number == 1


def test_an_owed_result_says_how_to_bring_it_back_and_a_failure_says_itself() -> None:
    text = outbound.owed_notice("j1", where="here", show_command="/imagebot show", short_id="abcd1234")
    assert (
        text == "I could not post your result here yet (job `j1`); `/imagebot show abcd1234` brings it back."
    )
    failure = outbound.owed_notice(
        "j1", where="in <#5>", show_command="/show", failure="❌ refused", note=lambda n: f"-# {n}"
    )
    assert failure == "❌ refused\n-# I could not post this in <#5> yet."


def test_buttons_go_in_rows_by_family_once_each_within_the_platform_limits() -> None:
    picks = [Button(Verb.U, "s", f"U{k}", arg=str(k)) for k in range(1, 5)]
    varies = [Button(Verb.V, "s", f"V{k}", arg=str(k)) for k in range(1, 5)]
    reroll = Button(Verb.REROLL, "s", "🔄")
    rows = outbound.button_rows([*picks, *varies, reroll, picks[0]], width=5)
    assert [[b.label for b in row] for row in rows] == [
        ["U1", "U2", "U3", "U4"],
        ["V1", "V2", "V3", "V4"],
        ["🔄"],  # the repeated U1 is left out: ids must be unique in a message
    ]
    assert [len(row) for row in outbound.button_rows([*picks, *varies], width=3)] == [3, 1, 3, 1]
    # More families than rows allowed: packed tightly, the rest left out.
    packed = outbound.button_rows([*picks, *varies, reroll], width=3, max_rows=2)
    assert [[b.label for b in row] for row in packed] == [["U1", "U2", "U3"], ["U4", "V1", "V2"]]
