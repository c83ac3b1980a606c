"""What a prompt asks of the team's library, not of the image model: `--style NAME`,
`--template NAME` with its `key="value"` fillings, `--text "..."` (repeatable) and
`--compare MODEL,MODEL`.

They are taken out of the text before the image options (`bot.options.split_flags`) are read, so
each kind of flag is read in one place. Values may be quoted with straight or curly quotes (phones
type “ ”), so a value can hold spaces: `--text "SALE 50%"`, `headline="Summer is here"`.
Every rejection is a `bot.errors.invalid(...)` shown to the person verbatim.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from bot.errors import invalid

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
NAME_RULE = "1 to 32 letters, digits, - or _"
TEXT_MAX_CHARS = 200  # one piece of text to render exactly; a poster's headline, not a paragraph
TEXTS_MAX = 8
COMPARE_MIN, COMPARE_MAX = 2, 4

DIRECTIVE_FLAGS = ("--style", "--template", "--text", "--compare")
_QUOTES = {'"': '"', "\u201c": "\u201d", "\u201e": "\u201c", "'": "'", "\u2018": "\u2019"}
_FLAG_RE = re.compile(r"(?<!\S)(?:--|\u2014)(style|template|text|compare)(?=[\s=]|$)", re.IGNORECASE)
# key="value", key=“value” or key=word, read only after a --template (elsewhere it is prompt text).
_FILL_RE = re.compile(r"(?<!\S)([A-Za-z_][A-Za-z0-9_]{0,31})=")


@dataclass(frozen=True)
class Directives:
    style: str | None = None
    template: str | None = None
    fills: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    texts: tuple[str, ...] = ()
    compare: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.style or self.template or self.fills or self.texts or self.compare)


# `--workspace` on a `style` or `template` line: the workspace's, not the person's (phones and some
# desktops turn -- into an em dash).
_WORKSPACE_FLAG = re.compile(r"(?<!\S)(?:--|\u2014)workspace(?!\S)", re.IGNORECASE)


def take_workspace_flag(text: str) -> tuple[str, bool]:
    """`--workspace` taken out of a text surface's words: the rest, spaces tidied, and whether
    it was there."""
    rest, count = _WORKSPACE_FLAG.subn(" ", text)
    return " ".join(rest.split()), count > 0


def closest_names(name: str, names: Sequence[str], *, cutoff: float) -> list[str]:
    """Up to three of `names` close to `name`, whatever the case, spelled as saved."""
    lowered = {n.lower(): n for n in names}
    return [lowered[n] for n in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=cutoff)]


def check_name(name: str, what: str) -> str:
    """A style's or template's name as typed, or a specific refusal."""
    if not NAME_RE.match(name):
        raise invalid(f"{what} name {name!r} is not valid: use {NAME_RULE}")
    return name


def _read_value(text: str, pos: int, flag: str) -> tuple[str, int]:
    """The value starting at `pos` (after `=` or spaces): quoted (may hold spaces) or one word."""
    if pos < len(text) and text[pos] == "=":
        pos += 1
    else:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
    if pos >= len(text) or text[pos] in "\r\n" or text.startswith("--", pos):
        example = _EXAMPLES.get(flag, f'{flag}"..."')
        raise invalid(f"{flag} needs a value, e.g. {example}")
    opening = text[pos]
    if opening in _QUOTES:
        closing = _QUOTES[opening]
        end = text.find(closing, pos + 1)
        if end < 0:
            raise invalid(f"{flag} {text[pos : pos + 20]}…: the quote is never closed")
        return text[pos + 1 : end], end + 1
    end = pos
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[pos:end], end


_EXAMPLES = {
    "--style": "--style brand",
    "--template": '--template product-shot product="red sneaker"',
    "--text": '--text "SALE 50%"',
    "--compare": "--compare gpt-image-2,gpt-image-2.5-flare",
}


def split_directives(text: str) -> tuple[str, Directives]:
    """Take the library flags (and, after a --template, its `key="value"` fillings) out of the
    text; returns the rest of the text, spaces tidied where they were, and what was asked."""
    values: dict[str, str] = {}
    texts: list[str] = []
    kept: list[str] = []
    last = pos = 0
    while (match := _FLAG_RE.search(text, pos)) is not None:
        flag = "--" + match.group(1).lower()
        value, end = _read_value(text, match.end(), flag)
        if flag == "--text":
            texts.append(_check_text(value))
        elif flag in values:
            raise invalid(f"{flag} was given twice ({values[flag]} and {value}): keep one")
        else:
            values[flag] = value
        kept.append(text[last : match.start()])
        last = pos = end
    kept.append(text[last:])
    rest = _join(kept)
    fills: dict[str, str] = {}
    if "--template" in values:
        rest, fills = _take_fills(rest)
    if len(texts) > TEXTS_MAX:
        raise invalid(
            f"--text was given {len(texts)} times; at most {TEXTS_MAX} pieces of text fit one image"
        )
    return rest, Directives(
        style=check_name(values["--style"], "style") if "--style" in values else None,
        template=check_name(values["--template"], "template") if "--template" in values else None,
        fills=MappingProxyType(fills),
        texts=tuple(texts),
        compare=_compare(values["--compare"]) if "--compare" in values else (),
    )


def _check_text(value: str) -> str:
    text = value.strip()
    if not text:
        raise invalid('--text is empty: put the words to render in quotes, e.g. --text "SALE 50%"')
    if len(text) > TEXT_MAX_CHARS:
        raise invalid(f"--text is {len(text)} characters; at most {TEXT_MAX_CHARS} render reliably")
    return text


def _compare(value: str) -> tuple[str, ...]:
    models = tuple(m.strip().lower() for m in value.split(",") if m.strip())
    if len(set(models)) != len(models):
        raise invalid(f"--compare {value}: a model is named twice")
    if not COMPARE_MIN <= len(models) <= COMPARE_MAX:
        raise invalid(
            f"--compare needs {COMPARE_MIN} to {COMPARE_MAX} models separated by commas, e.g. {_EXAMPLES['--compare']}"
        )
    return models


def _take_fills(text: str) -> tuple[str, dict[str, str]]:
    fills: dict[str, str] = {}
    kept: list[str] = []
    last = pos = 0
    while (match := _FILL_RE.search(text, pos)) is not None:
        key = match.group(1).lower()
        value, end = _read_value(text, match.end() - 1, f"{key}=")
        if key in fills:
            raise invalid(f"{key} was given twice ({fills[key]!r} and {value!r}): keep one")
        fills[key] = value.strip()
        kept.append(text[last : match.start()])
        last = pos = end
    kept.append(text[last:])
    return _join(kept), fills


def _join(pieces: list[str]) -> str:
    return " ".join(piece.strip() for piece in pieces if piece.strip())
