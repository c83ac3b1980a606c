"""Option parsing: --flags out of prompt text, and resolving them against each model's rules."""

from __future__ import annotations

import pytest

from bot.domain import ImageOptions, OptionOverrides
from bot.model_catalog import MODELS, RETIRED
from bot.options import (
    FLAG_ALIASES,
    KNOWN_FLAGS,
    PROMPT_MAX_CHARS,
    resolve_options,
    split_flags,
    validate_prompt,
)
from bot.sizes import validate_size
from tests.unit.assertions import assert_words, raises_invalid

Ov = OptionOverrides


def resolve(overrides: OptionOverrides, **kwargs) -> ImageOptions:
    kwargs.setdefault("default_model", "gpt-image-2")
    kwargs.setdefault("default_n", 4)
    return resolve_options(overrides, **kwargs)


# ---- split_flags ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "prompt", "overrides"),
    [
        ("a red fox", "a red fox", Ov()),
        ("a red fox --ar 16:9", "a red fox", Ov(aspect="16:9")),
        ("a red fox --ar=16:9", "a red fox", Ov(aspect="16:9")),
        ("a red fox --aspect 9:16", "a red fox", Ov(aspect="9:16")),
        ("--n 2 a red fox", "a red fox", Ov(n=2)),
        ("a red --n 2 fox", "a red fox", Ov(n=2)),
        ("a red fox --size 1536x864 --n=3", "a red fox", Ov(size="1536x864", n=3)),
        ("fox --quality high", "fox", Ov(quality="high")),
        ("fox --q low", "fox", Ov(quality="low")),
        ("fox --model gpt-image-2.5-flare", "fox", Ov(model="gpt-image-2.5-flare")),
        ("fox --format jpg --compression 80", "fox", Ov(output_format="jpg", compression=80)),
        ("fox --compression=75%", "fox", Ov(compression=75)),
        ("fox --background transparent", "fox", Ov(background="transparent")),
        ("fox --bg opaque", "fox", Ov(background="opaque")),
        ("fox --AR 3:2 --Model GPT-IMAGE-2", "fox", Ov(aspect="3:2", model="GPT-IMAGE-2")),
        ("fox\t--n 2\t in snow", "fox in snow", Ov(n=2)),
        ("fox --ar 16:9.", "fox", Ov(aspect="16:9")),  # sentence punctuation is not part of a value
        ("fox, --n 4, in snow", "fox, in snow", Ov(n=4)),
        # a "--" not followed by a letter, or inside a word, is prompt text
        ("a sign that says -- hi", "a sign that says -- hi", Ov()),
        ("a sign that says -- hi --n 1", "a sign that says -- hi", Ov(n=1)),
        ("well--known painter --n 1", "well--known painter", Ov(n=1)),
        ("an arrow --> pointing right", "an arrow --> pointing right", Ov()),
        ("count down --3 --2 --1", "count down --3 --2 --1", Ov()),
        ("--", "--", Ov()),
        # iOS/macOS smart punctuation turns "--ar" into "—ar"; an em dash before other words is prose
        ("fox —ar 16:9", "fox", Ov(aspect="16:9")),
        ("a cat —dog hybrid", "a cat —dog hybrid", Ov()),
        ("a cat—dog hybrid", "a cat—dog hybrid", Ov()),
        # prompt text keeps its own spacing and lines
        ("line one\nline  two --n 2", "line one\nline  two", Ov(n=2)),
        ("line one\n--ar 1:1\nline two", "line one\nline two", Ov(aspect="1:1")),
        ("  padded   prompt  ", "padded   prompt", Ov()),
        ("--ar 1:1", "", Ov(aspect="1:1")),
    ],
)
def test_split_flags(text, prompt, overrides):
    assert split_flags(text) == (prompt, overrides)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("fox --foo 1", ["unknown option --foo", "known: --ar, --size, --n, --quality", "--compression"]),
        ("fox --sise 1536x864", ["unknown option --sise", "did you mean --size?"]),
        ("fox --stylize 250", ["unknown option --stylize", "known:"]),
        ("fox --ar", ["--ar needs a value", "--ar 16:9"]),
        ("fox --n= cat", ["--n needs a value", "--n 4"]),
        ("fox --ar --n 2", ["--ar needs a value"]),
        ("fox --model\ngpt-image-2", ["--model needs a value"]),  # a value never comes from the next line
        ("fox --q", ["--q needs a value", "--quality high"]),
        ("fox --n 2 --n 3", ["--n was given twice", "--n 2", "--n 3", "keep one"]),
        ("fox --ar 1:1 --aspect 2:3", ["--ar was given twice", "--ar 1:1", "--aspect 2:3"]),
        ("fox --q high --quality low", ["--quality was given twice"]),
        ("fox --n four", ["--n four", "whole number", "1 to 10"]),
        ("fox --n 2.5", ["--n 2.5", "whole number"]),
        ("fox --compression high", ["--compression high", "whole number", "0 to 100"]),
        ("fox --ar 16:9 --size 1536x864", ["--ar 16:9", "--size 1536x864", "use one of them"]),
    ],
)
def test_split_flags_rejects(text, words):
    assert_words(raises_invalid(split_flags, text), words)


def test_known_flags_cover_every_alias():
    assert list(KNOWN_FLAGS)[:2] == ["--ar", "--size"]
    assert set(FLAG_ALIASES.values()) <= set(KNOWN_FLAGS)
    assert all(help_text for help_text in KNOWN_FLAGS.values())


# ---- resolve_options --------------------------------------------------------------------------


def test_resolve_defaults():
    assert resolve(Ov()) == ImageOptions(model="gpt-image-2", size="auto", n=4)


@pytest.mark.parametrize(
    ("overrides", "kwargs", "expected"),
    [
        (Ov(n=1), {}, {"n": 1}),
        (Ov(n=10), {}, {"n": 10}),
        (Ov(model="GPT-Image-1.5"), {}, {"model": "gpt-image-1.5"}),
        (Ov(model=" "), {}, {"model": "gpt-image-2"}),  # a blank slash-command field is "not given"
        (Ov(quality="HIGH"), {}, {"quality": "high"}),
        (Ov(), {"default_quality": "low"}, {"quality": "low"}),
        (Ov(quality="xhigh", model="gpt-image-2.5-sunburst"), {}, {"quality": "xhigh"}),
        (Ov(quality="max", model="gpt-image-2.5-flare-2026-09-08"), {}, {"quality": "max"}),
        (Ov(output_format="jpg"), {}, {"output_format": "jpeg"}),
        (Ov(output_format="WEBP"), {}, {"output_format": "webp"}),
        (Ov(), {"default_format": "webp"}, {"output_format": "webp"}),
        (Ov(background="transparent"), {}, {"background": "transparent", "output_format": "png"}),
        (
            Ov(background="transparent", output_format="webp"),
            {},
            {"background": "transparent", "output_format": "webp"},
        ),
        # transparent with no format asked for: a jpeg default gives way to png
        (
            Ov(background="transparent"),
            {"default_format": "jpeg"},
            {"background": "transparent", "output_format": "png"},
        ),
        (
            Ov(background="opaque"),
            {"default_format": "jpeg"},
            {"background": "opaque", "output_format": "jpeg"},
        ),
        (Ov(compression=0, output_format="jpeg"), {}, {"compression": 0}),
        (Ov(compression=100, output_format="webp"), {}, {"compression": 100}),
        (Ov(compression=60), {"default_format": "jpeg"}, {"compression": 60, "output_format": "jpeg"}),
        (Ov(size="1536x864"), {}, {"size": "1536x864"}),
        (Ov(size="3840X2160"), {}, {"size": "3840x2160"}),
        (Ov(size="auto"), {}, {"size": "auto"}),
        (Ov(aspect="16:9"), {}, {"size": "1536x864"}),
        (Ov(aspect="1:1"), {}, {"size": "1024x1024"}),
        (Ov(aspect="3:2", model="gpt-image-1.5"), {}, {"size": "1536x1024"}),
        (Ov(size="1024x1536", model="gpt-image-1-mini"), {}, {"size": "1024x1536"}),
        # an edit keeping its source's size: kept when valid, fitted when not, overridden by flags
        (Ov(), {"base_size": "1536x864"}, {"size": "1536x864"}),
        (Ov(), {"base_size": "4032x3024"}, {"size": "3312x2480"}),
        (Ov(), {"base_size": "auto"}, {"size": "auto"}),
        (Ov(model="gpt-image-1.5"), {"base_size": "1536x864"}, {"size": "1536x1024"}),
        (Ov(aspect="1:1"), {"base_size": "1536x864"}, {"size": "1024x1024"}),
        (
            Ov(model="gpt-image-2"),
            {"allowed_models": ["gpt-image-2", "gpt-image-1.5"]},
            {"model": "gpt-image-2"},
        ),
    ],
)
def test_resolve_options(overrides, kwargs, expected):
    options = resolve(overrides, **kwargs)
    for field, value in expected.items():
        assert getattr(options, field) == value, field
    if options.size != "auto":
        assert validate_size(options.size, MODELS[options.model]) is not None


@pytest.mark.parametrize(
    ("overrides", "kwargs", "words"),
    [
        (Ov(model="gpt-image-1"), {}, ["gpt-image-1 was shut down", "gpt-image-2.5-sunburst"]),
        (Ov(model="dall-e-3"), {}, ["dall-e-3 was retired", "gpt-image-2"]),
        (
            Ov(model="gpt-image-3"),
            {},
            ["unknown model gpt-image-3", "known:", "gpt-image-2", "gpt-image-1.5"],
        ),
        (Ov(model="gpt-image2"), {}, ["unknown model gpt-image2", "did you mean gpt-image-2?"]),
        (
            Ov(model="foo"),
            {"allowed_models": ["gpt-image-2"]},
            ["unknown model foo", "available here: gpt-image-2"],
        ),
        (
            Ov(model="gpt-image-1.5"),
            {"allowed_models": ["gpt-image-2", "gpt-image-2.5-flare"]},
            ["gpt-image-1.5 is not enabled here", "allows only gpt-image-2 and gpt-image-2.5-flare"],
        ),
        (
            Ov(),
            {"default_model": "gpt-image-2", "allowed_models": ["gpt-image-1.5"]},
            ["allows only gpt-image-1.5"],
        ),
        (Ov(n=0), {}, ["--n 0", "between 1 and 10"]),
        (Ov(n=12), {}, ["--n 12: n must be between 1 and 10"]),
        (Ov(), {"default_n": 11}, ["between 1 and 10"]),
        (
            Ov(quality="xhigh"),
            {},
            [
                "--quality xhigh is only available on gpt-image-2.5-sunburst and gpt-image-2.5-flare",
                "not gpt-image-2",
            ],
        ),
        (
            Ov(quality="max", model="gpt-image-1.5"),
            {},
            ["--quality max is only available on", "not gpt-image-1.5"],
        ),
        (
            Ov(quality="xhigh", model="gpt-image-2.6-flare"),
            {},
            ["only available on", "not gpt-image-2.6-flare"],
        ),
        (Ov(quality="hd"), {}, ["--quality hd", "DALL·E", "low, medium, high or auto"]),
        (Ov(quality="ultra"), {}, ["--quality ultra", "choose low, medium, high or auto"]),
        (Ov(quality="ultra", model="gpt-image-2.5-flare"), {}, ["low, medium, high, xhigh, max or auto"]),
        (Ov(output_format="gif"), {}, ["--format gif", "png, webp or jpeg"]),
        (Ov(background="clear"), {}, ["--background clear", "transparent, opaque or auto"]),
        (
            Ov(background="transparent", output_format="jpeg"),
            {},
            ["--background transparent needs --format png or webp"],
        ),
        (Ov(background="transparent", output_format="jpg"), {}, ["needs --format png or webp"]),
        (Ov(compression=50), {}, ["--compression only works with --format webp or jpeg"]),
        (Ov(compression=50, output_format="png"), {}, ["webp or jpeg", "png"]),
        (Ov(compression=101, output_format="jpeg"), {}, ["--compression 101", "between 0 and 100"]),
        (Ov(compression=-1, output_format="webp"), {}, ["between 0 and 100"]),
        (Ov(size="1000x1000"), {}, ["--size 1000x1000", "multiples of 16", "1008x1008"]),
        (Ov(size="4096x4096"), {}, ["at most 3840 px"]),
        (Ov(size="1536x864", model="gpt-image-1.5"), {}, ["not available on gpt-image-1.5", "gpt-image-2"]),
        (Ov(size="1536x864", model="chatgpt-image-latest"), {}, ["not available on chatgpt-image-latest"]),
        (Ov(aspect="4:1"), {}, ["--ar 4:1: the aspect ratio must be between 1:3 and 3:1"]),
        (Ov(aspect="16:9", model="gpt-image-1-mini"), {}, ["gpt-image-1-mini makes only 1:1, 3:2 and 2:3"]),
        (Ov(aspect="16x9"), {}, ["--ar 16x9", "16:9"]),
        (Ov(aspect="16:9", size="1536x864"), {}, ["--ar 16:9", "--size 1536x864", "use one of them"]),
    ],
)
def test_resolve_options_rejects(overrides, kwargs, words):
    assert_words(raises_invalid(resolve, overrides, **kwargs), words)


@pytest.mark.parametrize("name", sorted(RETIRED))
def test_every_retired_model_gets_its_own_message(name):
    assert raises_invalid(resolve, Ov(model=name)) == RETIRED[name]


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("quality", ["low", "medium", "high", "auto", "xhigh", "max"])
def test_quality_per_model(name, quality):
    overrides = Ov(model=name, quality=quality)
    if quality in MODELS[name].qualities:
        assert resolve(overrides).quality == quality
    else:
        assert "only available on" in raises_invalid(resolve, overrides)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("size", ["1024x1024", "1536x1024", "1024x1536", "1536x864", "3840x2160", "auto"])
def test_sizes_per_model(name, size):
    overrides = Ov(model=name, size=size)
    arbitrary = MODELS[name].arbitrary_sizes is not None
    if arbitrary or size in ("1024x1024", "1536x1024", "1024x1536", "auto"):
        assert resolve(overrides).size == size
    else:
        assert "not available on" in raises_invalid(resolve, overrides)


def test_base_size_must_be_a_size():
    with pytest.raises(ValueError, match="base_size must be WIDTHxHEIGHT"):
        resolve(Ov(), base_size="large")


def test_flags_to_options_end_to_end():
    prompt, overrides = split_flags(
        "a lighthouse at dusk --ar 21:9 --q high --format jpg --compression 85 --n 2"
    )
    options = resolve(overrides)
    assert prompt == "a lighthouse at dusk"
    assert options == ImageOptions(
        model="gpt-image-2", size="1536x656", n=2, quality="high", output_format="jpeg", compression=85
    )


# ---- validate_prompt --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [("a fox", "a fox"), ("  a fox \n", "a fox"), ("x" * PROMPT_MAX_CHARS, "x" * PROMPT_MAX_CHARS)],
)
def test_validate_prompt_accepts(prompt, expected):
    assert validate_prompt(prompt) == expected


@pytest.mark.parametrize(
    ("prompt", "what", "words"),
    [
        ("", "prompt", ["the prompt is empty: describe the image you want"]),
        ("   \n\t", "prompt", ["the prompt is empty"]),
        ("", "instruction", ["the instruction is empty"]),
        ("x" * (PROMPT_MAX_CHARS + 1), "prompt", ["32,001 characters", "limit is 32,000"]),
        ("y" * 40_000, "instruction", ["the instruction is 40,000 characters", "32,000", "by 8,000"]),
    ],
)
def test_validate_prompt_rejects(prompt, what, words):
    assert_words(raises_invalid(validate_prompt, prompt, what=what), words)
