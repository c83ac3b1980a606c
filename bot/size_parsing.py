"""Reading sizes and aspect ratios as people type them: 'WIDTHxHEIGHT' and 'W:H'.

Only the syntax: whether a model can make the size is `bot.sizes`' question. Every rejection is a
`bot.errors.invalid(...)` shown to the person verbatim, so each one says how to write the value.
"""

from __future__ import annotations

import re

from bot.errors import invalid

# Up to 6 digits each: enough for any real size, and int() never sees a pathological string.
_SIZE_RE = re.compile(r"^\s*(\d{1,6})\s*[x×]\s*(\d{1,6})\s*$", re.IGNORECASE)
_ASPECT_RE = re.compile(r"^\s*(\d{1,6})\s*:\s*(\d{1,6})\s*$")
_DECIMAL_ASPECT_RE = re.compile(r"^\s*\d*\.?\d+\s*:\s*\d*\.?\d+\s*$")
_HUGE_ASPECT_RE = re.compile(r"^\s*\d+\s*:\s*\d+\s*$")  # whole numbers, but too long for _ASPECT_RE


def _clip(text: str, limit: int = 24) -> str:
    """Echo a person's value back, but not a screenful of it."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_size(size: str) -> tuple[int, int]:
    """Parse 'WIDTHxHEIGHT' (x, X or ×, spaces allowed) into positive ints; no model rules."""
    shown = size.strip()
    match = _SIZE_RE.match(size)
    if match is None:
        raise invalid(f"--size {shown or '(empty)'}: write the size as WIDTHxHEIGHT, e.g. 1536x864, or auto")
    width, height = int(match.group(1)), int(match.group(2))
    if width == 0 or height == 0:
        raise invalid(f"--size {shown}: width and height must be positive, e.g. 1536x864")
    return width, height


def parse_aspect(text: str) -> tuple[int, int]:
    """Parse an aspect ratio written 'W:H' with positive whole numbers, e.g. '16:9'."""
    return read_aspect(text, "--ar")


def read_aspect(text: str, label: str) -> tuple[int, int]:
    """`parse_aspect`, naming the value `label` in refusals ("--ar", or "aspect" for a change of
    aspect)."""
    shown = text.strip()
    match = _ASPECT_RE.match(text)
    if match is None:
        if _HUGE_ASPECT_RE.match(text):
            raise invalid(
                f"{label} {_clip(shown)}: those numbers are far too large; write a ratio such as 16:9"
            )
        if _DECIMAL_ASPECT_RE.match(text):
            raise invalid(f"{label} {shown}: use whole numbers in the ratio, e.g. 239:100 instead of 2.39:1")
        as_size = _SIZE_RE.match(text)
        if as_size is not None:
            raise invalid(
                f"{label} {shown}: write the aspect ratio with a colon, as in "
                f"{int(as_size.group(1))}:{int(as_size.group(2))} "
                "(for exact pixels use --size WIDTHxHEIGHT)"
            )
        raise invalid(f"{label} {shown or '(empty)'}: write the aspect ratio as W:H, e.g. 16:9 or 1:1")
    a, b = int(match.group(1)), int(match.group(2))
    if a == 0 or b == 0:
        raise invalid(f"{label} {shown}: both sides of the ratio must be positive, e.g. 16:9")
    return a, b
