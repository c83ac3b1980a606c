"""Saved defaults never block a typed flag (issue 7, item 10).

The rule: a flag typed in the request wins over every saved default; between saved layers the
most specific wins (me > channel > workspace), and --ar/--size are one setting (the size group).
Every combination of layers that set a field, with and without a flag, is checked for each of
size, n, quality, model, format and background.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bot.answers import problem_kind
from bot.domain import OptionOverrides
from bot.options import split_flags
from tests.helpers import make_settings
from tests.integration.helpers import ADMIN, ALICE, THREAD, running_bot

LAYERS = ("workspace", "channel", "me", "flag")  # least specific first

# Per field: the value each layer sets (adjacent layers differ), the default, and how to read the
# effective value back from the resolved options.
CASES = {
    "size (--size, --ar alternating)": (
        ("--size 1536x1024", "--ar 16:9", "--size 1024x1536", "--ar 9:16"),
        "auto",
        {
            "--size 1536x1024": "1536x1024",
            "--ar 16:9": "1536x864",
            "--size 1024x1536": "1024x1536",
            "--ar 9:16": "864x1536",
        },
        lambda o: o.size,
    ),
    "size (--ar, --size alternating)": (
        ("--ar 16:9", "--size 2048x1152", "--ar 1:1", "--size 1024x1536"),
        "auto",
        {
            "--ar 16:9": "1536x864",
            "--size 2048x1152": "2048x1152",
            "--ar 1:1": "1024x1024",
            "--size 1024x1536": "1024x1536",
        },
        lambda o: o.size,
    ),
    "n": (("--n 2", "--n 3", "--n 5", "--n 7"), 4, None, lambda o: o.n),
    "quality": (
        ("--quality low", "--quality medium", "--quality high", "--quality low"),
        "auto",
        None,
        lambda o: o.quality,
    ),
    "model": (
        (
            "--model gpt-image-1.5",
            "--model gpt-image-2.5-flare",
            "--model gpt-image-2-2026-04-21",
            "--model gpt-image-2.5-sunburst",
        ),
        "gpt-image-2",
        None,
        lambda o: o.model,
    ),
    "format": (
        ("--format webp", "--format jpeg", "--format webp", "--format jpeg"),
        "png",
        None,
        lambda o: o.output_format,
    ),
    "background": (
        (
            "--background opaque",
            "--background transparent",
            "--background opaque",
            "--background transparent",
        ),
        "auto",
        None,
        lambda o: o.background,
    ),
}


def expected_value(flag: str, translate: dict[str, object] | None) -> object:
    if translate is not None:
        return translate[flag]
    value = flag.split()[1]
    return int(value) if value.isdigit() else value


@pytest.mark.parametrize("field", list(CASES))
async def test_most_specific_layer_wins_and_a_typed_flag_wins_over_all(data_dir: Path, field: str) -> None:
    flags, default, translate, read = CASES[field]
    async with running_bot(make_settings(data_dir)) as (bot, _presenter):
        for chosen in itertools.product((False, True), repeat=len(LAYERS)):
            for layer, on, flag in zip(LAYERS[:3], chosen, flags, strict=False):
                reset = await bot.update_settings(ADMIN if layer != "me" else ALICE, THREAD, layer, "reset")
                assert problem_kind(reset) is None
                if on:
                    saved = await bot.update_settings(ADMIN if layer != "me" else ALICE, THREAD, layer, flag)
                    assert problem_kind(saved) is None, saved.text
            typed = flags[3] if chosen[3] else ""
            request = split_flags(f"a prompt {typed}")[1]
            winner = next((flags[i] for i in reversed(range(len(LAYERS))) if chosen[i]), None)
            want = default if winner is None else expected_value(winner, translate)
            got = read(await bot.options_for(ALICE, THREAD, request))
            assert got == want, (
                f"{field}: layers {dict(zip(LAYERS, chosen, strict=True))} gave {got}, want {want}"
            )


@pytest.mark.parametrize(
    ("saved", "typed", "check"),
    [
        # A saved --format jpeg is a default: a typed transparent background switches it to png.
        (
            ("workspace", "--format jpeg"),
            "--background transparent",
            lambda o: (o.output_format, o.background) == ("png", "transparent"),
        ),
        # A saved transparent background does not block a typed --format jpeg.
        (
            ("me", "--background transparent"),
            "--format jpeg",
            lambda o: o.output_format == "jpeg" and o.background != "transparent",
        ),
        # A saved quality the typed model lacks is dropped, not an error.
        (
            ("channel", "--model gpt-image-2.5-flare --quality xhigh"),
            "--model gpt-image-2",
            lambda o: o.quality == "auto",
        ),
        # A saved compression does not block a typed --format png.
        (
            ("me", "--format webp --compression 60"),
            "--format png",
            lambda o: (o.output_format, o.compression) == ("png", None),
        ),
        # A workspace --size with a typed --ar: the flag decides the whole size.
        (("workspace", "--size 3840x2160"), "--ar 1:1", lambda o: o.size == "1024x1024"),
    ],
)
async def test_saved_defaults_never_clash_with_a_typed_flag(data_dir: Path, saved, typed, check) -> None:
    layer, values = saved
    async with running_bot(make_settings(data_dir)) as (bot, _presenter):
        stored = await bot.update_settings(ADMIN if layer != "me" else ALICE, THREAD, layer, values)
        assert problem_kind(stored) is None, stored.text
        options = await bot.options_for(ALICE, THREAD, split_flags(f"x {typed}")[1])
        assert check(options), options


async def test_saved_size_then_typed_size_through_imagine(data_dir: Path) -> None:
    """The reported bug, end to end: after `/settings me --ar 16:9`, `--size …` used to be refused."""
    async with running_bot(make_settings(data_dir)) as (bot, presenter):
        assert problem_kind(await bot.update_settings(ALICE, THREAD, "me", "--ar 16:9")) is None
        queued = await bot.imagine(ALICE, THREAD, "a wide poster --size 2048x1152 --n 1")
        assert problem_kind(queued) is None, queued.text
        assert "2048x1152" in queued.text
        await presenter.final(queued.job_id)
        # Changing the size in the same layer replaces the group instead of colliding with it.
        changed = await bot.update_settings(ALICE, THREAD, "me", "--size 1024x1536")
        assert problem_kind(changed) is None, changed.text
        assert "--ar" not in changed.text
        assert (await bot.options_for(ALICE, THREAD, OptionOverrides())).size == "1024x1536"
