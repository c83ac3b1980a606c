"""Text people typed, made safe to show: it is data, never markup or terminal control.

Prompts, instructions, file names and display names come from users. Shown raw, control
characters, ANSI escapes and bidi overrides can rewrite the bot's own lines (in a terminal, a
thread name, a caption). `display_text` keeps only what prints; `has_visible` tells whether
anything printable is there at all. Platform markup (Discord mentions, Slack `<!here>`) is the
adapters' business: each escapes or disarms it for its own platform.
"""

from __future__ import annotations

import re
import unicodedata

# CSI (ESC [ … final byte), OSC (ESC ] … BEL or ESC \) and two-character escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


def _shown(char: str) -> str:
    """What one character becomes on screen: whitespace and line breaks turn into a space,
    controls, format characters (bidi, zero-width) and unassigned code points disappear."""
    if char in _BIDI:
        return ""
    category = unicodedata.category(char)
    if char.isspace() or category in ("Zl", "Zp"):
        return " "
    if category in ("Cc", "Cf", "Cs", "Co", "Cn"):
        return ""
    return char


def display_text(text: str, limit: int | None = None) -> str:
    """`text` as one clean line: no escapes or controls, runs of whitespace collapsed, and cut
    to `limit` characters (ending in "…") when given."""
    cleaned = "".join(_shown(char) for char in _ANSI.sub("", text))
    line = " ".join(cleaned.split())
    if limit is not None and len(line) > limit:
        line = line[: max(limit - 1, 0)].rstrip() + "…"
    return line


def has_visible(text: str) -> bool:
    """True when `text` has at least one character that prints (not only spaces, NULs, ZWSPs…)."""
    return bool(display_text(text))
