"""Several images named on one line of text (the console's `/blend a.png b.png -- prompt`), and
the numbered keys (image1, image2…) an IMAGES argument's values go by (bot.commands)."""

from __future__ import annotations

import re

_PATHLIKE = re.compile(r"[/\\]|\.[A-Za-z0-9]{1,5}$")  # a folder in it, or a file extension
_SEPARATOR = re.compile(r"(?<!\S)--(?!\S)")  # a lone `--`; `--ar` and friends are flags


def leading_paths(text: str) -> tuple[list[str], str]:
    """The image paths at the start of a line, and the rest: every word before a lone `--`, or
    without one, the leading words that look like paths (so `a.png b.png a cosy nook` works)."""
    cut = _SEPARATOR.search(text)
    if cut:
        return text[: cut.start()].split(), text[cut.end() :].strip()
    words = text.split()
    count = next((i for i, word in enumerate(words) if not _PATHLIKE.search(word)), len(words))
    return words[:count], " ".join(words[count:])


def numbered(key: str, name: str) -> int | None:
    """N of the key NAMEn (`image3` → 3 for `image`), else None."""
    tail = key.removeprefix(name)
    return int(tail) if tail != key and tail.isdigit() else None
