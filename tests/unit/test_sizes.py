"""Size rules: validation messages, aspect mapping and canvas planning, with their invariants."""

from __future__ import annotations

import itertools
import math
import re

import pytest

from bot.domain import Placement
from bot.errors import BotError
from bot.model_catalog import MODELS, STANDARD_SIZES, ModelInfo
from bot.size_parsing import parse_aspect, parse_size
from bot.sizes import (
    MIN_UPSCALE_GAIN,
    aspect_placement,
    aspect_to_size,
    fit_valid_size,
    is_valid_size,
    local_upscale_size,
    upscale_target,
    validate_size,
    zoom_placement,
)
from tests.unit.assertions import assert_words, raises_invalid

G2 = MODELS["gpt-image-2"]
FLARE = MODELS["gpt-image-2.5-flare"]
STD = MODELS["gpt-image-1.5"]
ARBITRARY = [m for m in MODELS.values() if m.arbitrary_sizes is not None]
STANDARD = [m for m in MODELS.values() if m.arbitrary_sizes is None]

# Sizes an image in a session can have: our own outputs plus odd uploads (phone photos, scans,
# panoramas beyond 3:1, tiny icons).
IMAGE_SIZES = [
    (1024, 1024),
    (1536, 1024),
    (1024, 1536),
    (1536, 864),
    (864, 1536),
    (1536, 656),
    (1536, 512),
    (3840, 2160),
    (2160, 3840),
    (2880, 2880),
    (4032, 3024),
    (3024, 4032),
    (6000, 1000),
    (1000, 6000),
    (640, 480),
    (256, 256),
    (1023, 767),
    (7680, 4320),
]


def assert_valid(width: int, height: int, model: ModelInfo) -> None:
    assert validate_size(f"{width}x{height}", model) == (width, height)
    assert is_valid_size(width, height, model)


def assert_placement_ok(p: Placement, model: ModelInfo) -> None:
    assert_valid(p.canvas_width, p.canvas_height, model)
    assert 1 <= p.inner_width <= p.canvas_width
    assert 1 <= p.inner_height <= p.canvas_height
    assert p.x >= 0
    assert p.y >= 0
    assert p.x + p.inner_width <= p.canvas_width
    assert p.y + p.inner_height <= p.canvas_height
    # centred (to the pixel)
    assert p.x == (p.canvas_width - p.inner_width) // 2
    assert p.y == (p.canvas_height - p.inner_height) // 2


def log_gap(a: float, b: float) -> float:
    return abs(math.log(a / b))


# ---- validate_size ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "model", "expected"),
    [
        ("auto", G2, None),
        (" AUTO ", STD, None),
        ("1024x1024", G2, (1024, 1024)),
        ("1536x864", G2, (1536, 864)),
        ("1536X864", G2, (1536, 864)),
        ("1536×864", G2, (1536, 864)),
        (" 1536 x 864 ", G2, (1536, 864)),
        ("3840x2160", G2, (3840, 2160)),
        ("2160x3840", FLARE, (2160, 3840)),
        ("2880x2880", G2, (2880, 2880)),
        ("1024x640", G2, (1024, 640)),  # exactly the pixel minimum
        ("1536x512", G2, (1536, 512)),  # exactly 3:1
        ("512x1536", G2, (512, 1536)),
        ("1024x1024", STD, (1024, 1024)),
        ("1536x1024", STD, (1536, 1024)),
        ("1024x1536", STD, (1024, 1536)),
    ],
)
def test_validate_size_accepts(size, model, expected):
    assert validate_size(size, model) == expected


@pytest.mark.parametrize("model", list(MODELS.values()), ids=lambda m: m.name)
@pytest.mark.parametrize("size", STANDARD_SIZES)
def test_standard_sizes_work_on_every_model(model, size):
    assert_valid(*size, model)


@pytest.mark.parametrize(
    ("size", "model", "words"),
    [
        ("1000x1000", G2, ["--size 1000x1000", "multiples of 16", "try 1008x1008"]),
        ("1030x1030", G2, ["multiples of 16", "try 1024x1024"]),
        ("3840x1024", G2, ["between 1:3 and 3:1", "3.75:1", "try "]),
        ("1024x3840", G2, ["between 1:3 and 3:1", "1:3.75"]),
        ("4096x2304", G2, ["at most 3840 px", "try 3840x2160"]),
        ("3840x2880", G2, ["at most 8,294,400 pixels", "11,059,200", "try "]),
        ("512x512", G2, ["at least 655,360 pixels", "262,144", "try "]),
        ("100x1000", G2, ["multiples of 16", "between 1:3 and 3:1", "at least 655,360"]),
        ("0x1024", G2, ["must be positive"]),
        ("big", G2, ["--size big", "WIDTHxHEIGHT", "1536x864", "auto"]),
        ("", G2, ["WIDTHxHEIGHT"]),
        ("1536x864x2", G2, ["WIDTHxHEIGHT"]),
        ("16:9", G2, ["WIDTHxHEIGHT"]),
        ("-1024x1024", G2, ["WIDTHxHEIGHT"]),
        ("9999999x1", G2, ["WIDTHxHEIGHT"]),
        (
            "1536x864",
            STD,
            [
                "not available on gpt-image-1.5",
                "1024x1024, 1536x1024 or 1024x1536",
                "closest is 1536x1024",
                "gpt-image-2",
            ],
        ),
        ("256x256", STD, ["not available", "closest is 1024x1024"]),
        (
            "1008x1520",
            MODELS["gpt-image-2.6-flare"],
            ["not available on gpt-image-2.6-flare", "closest is 1024x1536"],
        ),
    ],
)
def test_validate_size_rejects_with_the_rule(size, model, words):
    assert_words(raises_invalid(validate_size, size, model), words)


@pytest.mark.parametrize(
    "size",
    ["1000x1000", "3840x1024", "4096x2304", "3840x2880", "512x512", "100x1000", "7000x100", "3850x2170"],
)
def test_suggested_sizes_are_valid(size):
    message = raises_invalid(validate_size, size, G2)
    suggestion = re.search(r"try (\d+)x(\d+)", message)
    assert suggestion, message
    assert_valid(int(suggestion.group(1)), int(suggestion.group(2)), G2)


def test_is_valid_size_agrees_with_validate_size():
    for width, height in itertools.product(range(16, 4000, 208), range(16, 4000, 176)):
        for model in (G2, STD):
            try:
                validate_size(f"{width}x{height}", model)
                ok = True
            except BotError:
                ok = False
            assert is_valid_size(width, height, model) is ok, (width, height, model.name)


def test_parse_size():
    assert parse_size("1536x864") == (1536, 864)
    assert_words(raises_invalid(parse_size, "wide"), ["WIDTHxHEIGHT"])


# ---- aspect ratios ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"), [("16:9", (16, 9)), (" 9 : 16 ", (9, 16)), ("1:1", (1, 1)), ("21:9", (21, 9))]
)
def test_parse_aspect(text, expected):
    assert parse_aspect(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("16x9", ["--ar 16x9", "with a colon", "16:9", "--size"]),
        ("2.39:1", ["whole numbers", "239:100"]),
        ("0:1", ["positive"]),
        ("16:0", ["positive"]),
        ("wide", ["--ar wide", "W:H", "16:9"]),
        ("", ["W:H"]),
        ("-16:9", ["W:H"]),
        ("16:9:1", ["W:H"]),
    ],
)
def test_parse_aspect_rejects(text, words):
    assert_words(raises_invalid(parse_aspect, text), words)


@pytest.mark.parametrize(
    ("aspect", "expected"),
    [
        ("16:9", "1536x864"),
        ("9:16", "864x1536"),
        ("3:2", "1536x1024"),
        ("2:3", "1024x1536"),
        ("4:3", "1536x1152"),
        ("3:4", "1152x1536"),
        ("1:1", "1024x1024"),
        ("2:2", "1024x1024"),
        ("3:1", "1536x512"),
        ("1:3", "512x1536"),
        ("21:9", "1536x656"),
        ("32:18", "1536x864"),
        ("5:4", "1536x1232"),
    ],
)
@pytest.mark.parametrize("model", [G2, FLARE], ids=lambda m: m.name)
def test_aspect_to_size_arbitrary_models(aspect, expected, model):
    size = aspect_to_size(aspect, model)
    assert size == expected
    assert validate_size(size, model) is not None


@pytest.mark.parametrize("a", range(1, 17))
@pytest.mark.parametrize("b", range(1, 17))
def test_aspect_to_size_is_valid_and_close_for_every_small_ratio(a, b):
    if max(a, b) > 3 * min(a, b):
        assert_words(raises_invalid(aspect_to_size, f"{a}:{b}", G2), ["between 1:3 and 3:1"])
        return
    width, height = validate_size(aspect_to_size(f"{a}:{b}", G2), G2)
    assert max(width, height) in (1024, 1536)
    assert log_gap(width / height, a / b) < 0.03


@pytest.mark.parametrize(
    ("aspect", "expected"),
    [
        ("1:1", "1024x1024"),
        ("2:2", "1024x1024"),
        ("3:2", "1536x1024"),
        ("6:4", "1536x1024"),
        ("2:3", "1024x1536"),
    ],
)
@pytest.mark.parametrize("model", STANDARD, ids=lambda m: m.name)
def test_aspect_to_size_standard_models(aspect, expected, model):
    assert aspect_to_size(aspect, model) == expected


@pytest.mark.parametrize(
    ("aspect", "model", "words"),
    [
        ("4:1", G2, ["--ar 4:1", "between 1:3 and 3:1"]),
        ("1:4", G2, ["--ar 1:4", "between 1:3 and 3:1"]),
        ("16:9", STD, ["--ar 16:9", "gpt-image-1.5 makes only 1:1, 3:2 and 2:3", "--model gpt-image-2"]),
        ("4:1", STD, ["makes only 1:1, 3:2 and 2:3"]),
        ("16x9", G2, ["with a colon"]),
    ],
)
def test_aspect_to_size_rejects(aspect, model, words):
    assert_words(raises_invalid(aspect_to_size, aspect, model), words)


# ---- fit_valid_size ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "model", "expected"),
    [
        ((1536, 864), G2, (1536, 864)),  # already valid: unchanged
        ((4032, 3024), G2, (3312, 2480)),
        ((3024, 4032), G2, (2480, 3312)),
        ((1000, 1000), G2, (1008, 1008)),
        ((256, 256), G2, (816, 816)),  # grown to the pixel minimum
        ((6000, 1000), G2, (3840, 1280)),  # ratio clamped to 3:1, edge to 3840
        ((4032, 3024), STD, (1536, 1024)),
        ((3024, 4032), STD, (1024, 1536)),
        ((1100, 1000), STD, (1024, 1024)),
        ((1536, 864), STD, (1536, 1024)),
    ],
)
def test_fit_valid_size_examples(size, model, expected):
    assert fit_valid_size(*size, model) == expected


def test_fit_valid_size_respects_a_pixel_budget():
    width, height = fit_valid_size(4032, 3024, G2, max_pixels=2560 * 1440)
    assert width * height <= 2560 * 1440
    assert_valid(width, height, G2)
    assert log_gap(width / height, 4 / 3) < 0.01
    # a budget under the model's floor cannot produce an invalid size
    assert_valid(*fit_valid_size(4032, 3024, G2, max_pixels=1000), G2)


@pytest.mark.parametrize("size", IMAGE_SIZES)
@pytest.mark.parametrize("model", [G2, STD], ids=lambda m: m.name)
def test_fit_valid_size_invariants(size, model):
    width, height = fit_valid_size(*size, model)
    assert_valid(width, height, model)
    if model.arbitrary_sizes is not None and max(size) <= 3 * min(size):
        assert log_gap(width / height, size[0] / size[1]) < 0.02
    assert (width >= height) == (size[0] >= size[1]) or width == height or size[0] == size[1]


# ---- upscale ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "model", "expected"),
    [
        ((1024, 1024), G2, (2880, 2880)),
        ((1536, 864), G2, (3840, 2160)),
        ((864, 1536), G2, (2160, 3840)),
        ((2560, 1440), G2, (3840, 2160)),
        ((1536, 512), G2, (3840, 1280)),
        ((3840, 2160), G2, None),
        ((2880, 2880), G2, None),
        ((3456, 1944), G2, None),  # 3840x2160 would be only 1.23x the pixels
        ((4032, 3024), G2, None),  # already beyond what the model renders
        ((1024, 1024), STD, None),
        ((1536, 1024), STD, None),
        ((1024, 1536), STD, None),
        ((1536, 864), STD, None),  # 1536x1024 is only 1.19x
        ((512, 512), STD, (1024, 1024)),
        ((768, 512), STD, (1536, 1024)),
        ((512, 768), STD, (1024, 1536)),
    ],
)
def test_upscale_target_examples(size, model, expected):
    assert upscale_target(*size, model) == expected


@pytest.mark.parametrize("size", IMAGE_SIZES)
@pytest.mark.parametrize("model", [G2, FLARE, STD], ids=lambda m: m.name)
def test_upscale_target_invariants(size, model):
    target = upscale_target(*size, model)
    if target is None:
        return
    width, height = target
    assert_valid(width, height, model)
    assert width * height >= MIN_UPSCALE_GAIN * size[0] * size[1]
    if model.arbitrary_sizes is not None:
        assert max(width, height) <= 3840
        if max(size) <= 3 * min(size):
            assert log_gap(width / height, size[0] / size[1]) < 0.01


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((1024, 1024), (2048, 2048)),
        ((1536, 864), (3072, 1728)),
        ((3840, 2160), (7680, 4320)),
        ((3840, 2160, 4), (7680, 4320)),  # capped at 7680 on the long edge
        ((2160, 3840, 4), (4320, 7680)),
        ((8000, 100), (8000, 100)),  # already beyond the cap: never shrunk
        ((1000, 750, 3), (3000, 2250)),
        ((1024, 1024, 2, 1500), (1500, 1500)),
    ],
)
def test_local_upscale_size(args, expected):
    assert local_upscale_size(*args) == expected


# ---- zoom out ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "factor", "model", "expected"),
    [
        ((1024, 1024), 2, G2, Placement(2048, 2048, 1024, 1024, 512, 512)),
        ((1024, 1024), 1.5, G2, Placement(1536, 1536, 1024, 1024, 256, 256)),
        ((1536, 864), 2, G2, Placement(3072, 1728, 1536, 864, 768, 432)),
        ((1536, 864), 1.5, G2, Placement(2304, 1296, 1536, 864, 384, 216)),
        # the canvas is capped at the model's maximum, so the image shrinks to keep the zoom
        ((3840, 2160), 2, G2, Placement(3840, 2160, 1920, 1080, 960, 540)),
        ((3840, 2160), 1.5, G2, Placement(3840, 2160, 2560, 1440, 640, 360)),
        ((1024, 1024), 2, STD, Placement(1024, 1024, 512, 512, 256, 256)),
        ((1536, 1024), 1.5, STD, Placement(1536, 1024, 1024, 683, 256, 170)),
        ((1024, 1536), 2, STD, Placement(1024, 1536, 512, 768, 256, 384)),
    ],
)
def test_zoom_placement_examples(size, factor, model, expected):
    assert zoom_placement(*size, factor, model) == expected


@pytest.mark.parametrize("factor", [1, 1.25, 3, 0, -2])
def test_zoom_placement_rejects_other_factors(factor):
    assert_words(raises_invalid(zoom_placement, 1024, 1024, factor, G2), ["zoom must be 1.5 or 2"])


@pytest.mark.parametrize("size", IMAGE_SIZES)
@pytest.mark.parametrize("factor", [1.5, 2])
@pytest.mark.parametrize("model", [G2, FLARE, STD], ids=lambda m: m.name)
def test_zoom_placement_invariants(size, factor, model):
    p = zoom_placement(*size, factor, model)
    assert_placement_ok(p, model)
    # the image keeps its aspect (up to rounding to whole pixels)...
    assert (
        abs(p.inner_width / p.inner_height - size[0] / size[1])
        <= size[0] / size[1] * 0.01 + 1 / p.inner_height
    )
    # ...and spans 1/factor of the canvas along its tighter edge
    span = max(p.inner_width / p.canvas_width, p.inner_height / p.canvas_height)
    assert span == pytest.approx(1 / factor, abs=0.01)


# ---- change aspect ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "aspect", "model", "expected"),
    [
        ((1536, 864), "1:1", G2, Placement(1536, 1536, 1536, 864, 0, 336)),
        ((1536, 1024), "1:1", G2, Placement(1536, 1536, 1536, 1024, 0, 256)),
        ((1024, 1024), "16:9", G2, Placement(1824, 1024, 1024, 1024, 400, 0)),
        ((1024, 1024), "9:16", G2, Placement(1024, 1824, 1024, 1024, 0, 400)),
        ((1024, 1024), "2:3", G2, Placement(1024, 1536, 1024, 1024, 0, 256)),
        # capped: a 3840x3840 canvas is beyond the pixel budget, so the image shrinks
        ((3840, 2160), "1:1", G2, Placement(2880, 2880, 2880, 1620, 0, 630)),
        ((3840, 2160), "9:16", G2, Placement(2160, 3840, 2160, 1215, 0, 1312)),
        ((1536, 1024), "1:1", STD, Placement(1024, 1024, 1024, 683, 0, 170)),
        ((1024, 1024), "3:2", STD, Placement(1536, 1024, 1024, 1024, 256, 0)),
        ((1536, 864), "2:3", STD, Placement(1024, 1536, 1024, 576, 0, 480)),
    ],
)
def test_aspect_placement_examples(size, aspect, model, expected):
    assert aspect_placement(*size, aspect, model) == expected


@pytest.mark.parametrize(
    ("size", "aspect", "model", "words"),
    [
        ((1024, 1024), "1:1", G2, ["the image is already 1:1"]),
        ((1024, 1024), "2:2", STD, ["already 2:2"]),
        ((1536, 864), "16:9", G2, ["already 16:9"]),
        ((1536, 656), "21:9", G2, ["already 21:9"]),  # snapped sizes count as that aspect
        ((1536, 1024), "3:2", STD, ["already 3:2"]),
        ((1024, 1024), "4:1", G2, ["aspect 4:1", "between 1:3 and 3:1"]),
        ((1024, 1024), "16:9", STD, ["makes only 1:1, 3:2 and 2:3", "gpt-image-2"]),
        ((1024, 1024), "wide", G2, ["W:H"]),
        ((0, 1024), "1:1", G2, ["no pixels"]),
    ],
)
def test_aspect_placement_rejects(size, aspect, model, words):
    assert_words(raises_invalid(aspect_placement, *size, aspect, model), words)


@pytest.mark.parametrize("size", IMAGE_SIZES)
@pytest.mark.parametrize("aspect", ["1:1", "16:9", "9:16", "3:2", "2:3", "4:3", "21:9", "3:1", "1:3"])
def test_aspect_placement_invariants_arbitrary(size, aspect):
    a, b = parse_aspect(aspect)
    try:
        p = aspect_placement(*size, aspect, G2)
    except BotError as exc:
        assert "already" in exc.message  # noqa: PT017 - either outcome is valid; a refusal must be this one
        return
    assert_placement_ok(p, G2)
    assert log_gap(p.canvas_width / p.canvas_height, a / b) < 0.02
    # the whole image is there, fitted to the canvas along the edge that was kept
    assert p.inner_width == p.canvas_width or p.inner_height == p.canvas_height
    assert (
        abs(p.inner_width / p.inner_height - size[0] / size[1])
        <= size[0] / size[1] * 0.01 + 1 / p.inner_height
    )


@pytest.mark.parametrize("size", IMAGE_SIZES)
@pytest.mark.parametrize("aspect", ["1:1", "3:2", "2:3"])
@pytest.mark.parametrize("model", STANDARD, ids=lambda m: m.name)
def test_aspect_placement_invariants_standard(size, aspect, model):
    try:
        p = aspect_placement(*size, aspect, model)
    except BotError as exc:
        assert "already" in exc.message  # noqa: PT017 - either outcome is valid; a refusal must be this one
        return
    assert_placement_ok(p, model)
    assert (p.canvas_width, p.canvas_height) == validate_size(aspect_to_size(aspect, model), model)
    assert p.inner_width == p.canvas_width or p.inner_height == p.canvas_height


@pytest.mark.parametrize(
    "call",
    [
        lambda: upscale_target(0, 10, G2),
        lambda: fit_valid_size(10, -1, G2),
        lambda: zoom_placement(0, 0, 2, G2),
        lambda: local_upscale_size(0, 10),
    ],
)
def test_images_without_pixels_are_refused(call):
    assert_words(raises_invalid(call), ["no pixels"])


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((3840, 2160), (1536, 864)),
        ((2880, 2880), (1024, 1024)),
        ((3520, 2352), (1536, 1024)),
        ((2160, 3840), (864, 1536)),
        ((1536, 1024), (1536, 1024)),
    ],
)
def test_standard_size_like_is_what_ar_would_pick(size, expected) -> None:
    from bot.model_catalog import MODELS
    from bot.sizes import standard_size_like

    assert standard_size_like(*size, MODELS["gpt-image-2"]) == expected
    assert standard_size_like(*size, MODELS["gpt-image-1.5"]) in ((1024, 1024), (1536, 1024), (1024, 1536))
