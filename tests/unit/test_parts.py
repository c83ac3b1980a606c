"""Job parts (issue 11): a parts job's spec survives the database (so a restart resumes it as the
same comparison), its grid cells carry their labels, and the caption lists them as plain text."""

from __future__ import annotations

import io

from PIL import Image

from bot import imaging
from bot.answers import Caption
from bot.domain import ImageOptions, JobPart, JobSpec, Operation
from storage.jobs import spec_from_json, spec_to_json


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (256, 256)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_parts_spec_round_trips_through_its_json() -> None:
    two = ImageOptions("gpt-image-2", "1024x1024", quality="medium")
    flare = ImageOptions("gpt-image-2.5-flare", "1024x1024", quality="xhigh", output_format="webp")
    spec = JobSpec(
        Operation.IMAGINE,
        "a lighthouse",
        ImageOptions("gpt-image-2", "1024x1024", n=2),
        parts=(
            JobPart("a lighthouse", two, "gpt-image-2"),
            JobPart("a lighthouse", flare, "gpt-image-2.5-flare"),
        ),
    )
    assert spec_from_json(spec_to_json(spec)) == spec


def test_a_spec_stored_before_parts_existed_reads_as_none() -> None:
    old = '{"aspect": null, "mask_blob": null, "operation": "imagine", "options": {"model": "gpt-image-2",'
    old += ' "size": "auto", "n": 4, "quality": "auto", "output_format": "png", "background": "auto",'
    old += ' "compression": null}, "prompt": "a fox", "sources": [], "zoom": null}'
    assert spec_from_json(old).parts == ()


def test_grid_cells_carry_their_labels_along_the_bottom() -> None:
    white = (255, 255, 255)
    images = [solid(white), solid(white)]
    plain = Image.open(io.BytesIO(imaging.make_grid(images, cell=256, gap=8))).convert("L")
    labelled = Image.open(
        io.BytesIO(imaging.make_grid(images, cell=256, gap=8, labels=["gpt-image-2 · ~$0.04 · 3.1s", "x"]))
    ).convert("L")
    assert plain.size == labelled.size
    bottom_left = (8 + 100, 8 + 250)  # inside cell 1, in its bottom band
    assert plain.getpixel(bottom_left) > 200
    assert labelled.getpixel(bottom_left) < 60  # the dark label band
    middle = (8 + 128, 8 + 128)
    assert labelled.getpixel(middle) > 200  # the image itself is not covered


def test_caption_lists_cells_as_escaped_text() -> None:
    caption = Caption(
        "ab12cd34",
        "a fox",
        "gpt-image-2 vs gpt-image-2.5-flare",
        "2 images",
        "Alice",
        cells=("gpt-image-2 · ~$0.04 · 3.1s", "*bold*\u202e"),
    )
    text = caption.render(escape=lambda s: s.replace("*", "\\*"))
    assert "\n`1` gpt-image-2 · ~$0.04 · 3.1s" in text
    assert "\n`2` \\*bold\\*" in text
    assert "\u202e" not in text
