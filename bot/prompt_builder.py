"""The Build-a-prompt form: four layers (subject, environment, lighting, camera), an optional
house style and words to render, composed into one prompt that runs exactly as /imagine.

Creative teams write prompts in these four layers; the form asks for each and then shows the
prompt it composed, so people learn to write it themselves. Pure: no I/O, every refusal a
`bot.errors.invalid(...)` shown to the person verbatim.

The layers are words only: a `--flag` typed in one is refused rather than honoured, because a
layer is pasted into the middle of the prompt (an option there would read as if it belonged to
"lighting") and the form has no place for options; the person's own defaults (/settings) apply.
The style and the text become `--style NAME` and `--text "..."` in the composed prompt, so the
core reads them where it reads every library flag (bot.directives).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot import options
from bot.directives import TEXT_MAX_CHARS, TEXTS_MAX, check_name, split_directives
from bot.domain import OptionOverrides
from bot.errors import BotError, invalid
from bot.text import display_text, has_visible

LAYER_MAX_CHARS = 500  # one layer is a phrase or two; a longer prompt belongs in /imagine
SHOWN_MAX_CHARS = 1500  # the composed prompt as shown under the queued line (Discord: 2000 a message)

# The four layers in the order the prompt reads.
LAYERS: tuple[str, ...] = ("subject", "environment", "lighting", "camera")
# The form's fields in the order it asks them: (name, label, an example), each label within the
# platforms' limits (Discord: 45 characters).
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("subject", "Subject: what is the picture of?", "a red fox curled up asleep"),
    ("environment", "Environment: where, when, what weather?", "in a snowy pine forest at dawn"),
    ("lighting", "Lighting", "soft golden backlight, long shadows"),
    ("camera", "Camera: lens, angle, framing", "close-up, 85mm lens, shallow depth of field"),
    ("style", "A house style, by name", "brand"),
    ("text", "Text to render exactly, a line per piece", "SALE 50%"),
)
_FLAG = re.compile(r"(?<!\S)--[A-Za-z][^\s=]*")
_EM_FLAG = re.compile(r"\u2014\S+")
_SEPARATORS = " \t\r\n,;"


@dataclass(frozen=True)
class PromptLayers:
    """What the form asked. Empty strings are layers left out; only the subject is required.
    `text` holds the words to render exactly, one piece per line."""

    subject: str
    environment: str = ""
    lighting: str = ""
    camera: str = ""
    style: str = ""
    text: str = ""


def compose(layers: PromptLayers) -> str:
    """The prompt the layers make: the four layers joined in order (empty ones skipped), then
    `--style NAME` and a `--text "..."` per line of text. A specific refusal for an empty
    subject, a layer too long or holding a --flag, a bad style name or text that cannot be
    rendered."""
    empty = invalid("The subject is empty: say what the picture is of, e.g. “a red fox curled up asleep”.")
    if not has_visible(layers.subject):
        raise empty
    cleaned = {name: _layer(name, getattr(layers, name)) for name in LAYERS}
    if not cleaned["subject"]:  # only punctuation, which the join drops
        raise empty
    composed = ", ".join(layer for layer in cleaned.values() if layer)
    style = _style(layers.style)
    if style:
        composed += f" --style {style}"
    for piece in _pieces(layers.text):
        composed += f" --text {_quoted(piece)}"
    return composed


def check_field(name: str, value: str) -> None:
    """One field of the form checked on its own, with the refusal `compose` would give it, so a
    platform that shows an error next to its field can say it there (Slack's modals)."""
    if name in LAYERS:
        _layer(name, value)
    elif name == "style":
        _style(value)
    elif name == "text":
        for piece in _pieces(value):
            _quoted(piece)


def shown(composed: str, imagine: str = "/imagine") -> str:
    """The line that shows the composed prompt under the queued job: as the command people can
    type next time, in a code span (so nothing in it formats, on any platform)."""
    line = display_text(f"{imagine} {composed}", SHOWN_MAX_CHARS).replace("`", "'")
    return f"🧱 Built prompt (type it yourself next time): `{line}`"


def _layer(name: str, value: str) -> str:
    """One layer as it goes into the prompt: one clean line, without the separators and
    sentence stops at its ends that the join adds itself."""
    _check_length(name, value)
    text = display_text(value).strip(_SEPARATORS).rstrip(".").strip(_SEPARATORS)
    found = _FLAG.search(text)
    if found is None and text:
        try:  # an em-dash flag ("—ar 16:9", as phones type it) is read as one by the core too
            rest, asked = split_directives(text)
            _, flags = options.split_flags(rest)
        except BotError:  # a flag the core would refuse: refused here, as a layer's
            found = _EM_FLAG.search(text)
        else:
            if asked.any or flags != OptionOverrides():
                found = _EM_FLAG.search(text)
    if found is not None:
        raise invalid(
            f"The {_name(name)} has {found.group(0)}: the layers take words only. Use /imagine for"
            " options, or /settings to change your defaults."
        )
    return text


def _style(value: str) -> str:
    _check_length("style", value)
    name = value.strip()
    return check_name(name, "style") if name else ""


def _check_length(name: str, value: str) -> None:
    size = len(value.strip())
    if size > LAYER_MAX_CHARS:
        raise invalid(
            f"The {_name(name)} is {size:,} characters; a layer holds at most {LAYER_MAX_CHARS}"
            " (a longer prompt fits /imagine)."
        )


def _pieces(text: str) -> list[str]:
    pieces = [display_text(line) for line in text.splitlines() if has_visible(line)]
    if len(pieces) > TEXTS_MAX:
        raise invalid(
            f"The text to render has {len(pieces)} lines; at most {TEXTS_MAX} pieces fit one image."
        )
    for piece in pieces:
        if len(piece) > TEXT_MAX_CHARS:
            raise invalid(
                f"A line of the text to render is {len(piece)} characters; at most {TEXT_MAX_CHARS}"
                " render reliably."
            )
    return pieces


def _quoted(piece: str) -> str:
    """A piece of text quoted so the core reads it back whole (bot.directives): straight quotes,
    or curly ones when it holds straight ones."""
    if '"' not in piece:
        return f'"{piece}"'
    if "\u201d" not in piece:
        return f"\u201c{piece}\u201d"
    raise invalid(
        'A line of the text to render holds both " and ” quotes; keep one kind so it can be read back.'
    )


def _name(field: str) -> str:
    return {"style": "style name", "text": "text to render"}.get(field, f"{field} layer")
