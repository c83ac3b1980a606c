"""The one rule for applying a house style to a request, and reading a style from a prompt.

Applying a style changes two things, the same way for /imagine, edits and the buttons after them:

- its text is appended to the prompt: `prompt + ", " + text` (before any --text sentence), and
  stored so, which keeps rerolls and variations asking for the same look;
- its reference images are sent as extra input images after the request's own (the primary image
  and any attachments). Generation with reference images goes through the edits endpoint (the
  executor's rule for any /imagine with inputs), and the job records every input image, so a
  reroll sends the style's images again.

The API takes at most 16 input images per edit, counting the request's own.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot import exact_text
from bot.directives import closest_names
from bot.errors import BotError, ErrorKind, invalid
from bot.style_records import Style
from bot.submission import MAX_REFERENCES

MAX_INPUT_IMAGES = MAX_REFERENCES + 1  # the edits endpoint's limit, the primary image included
OFF = "none"  # `--style none`: no style for this request, not even the default


def styled_prompt(prompt: str, style: Style | None) -> str:
    """The prompt with the style's words appended (unchanged without a style or its words),
    before any --text sentence, which stays last (bot.exact_text)."""
    if style is None or not style.text:
        return prompt
    texts = exact_text.found_in(prompt)
    words = exact_text.without_texts(prompt) if texts else prompt
    return exact_text.with_texts(f"{words.rstrip(' ,.')}, {style.text}", texts)


def check_inputs(own: int, style: Style | None) -> None:
    """Refuse a request whose own images and the style's would pass the API's input limit."""
    if style is None or own + len(style.image_ids) <= MAX_INPUT_IMAGES:
        return
    theirs = len(style.image_ids)
    raise invalid(
        f"style {style.name} adds {theirs} reference image{'s' * (theirs != 1)} to the {own} of this"
        f" request: {own + theirs} in all, but the image API takes at most {MAX_INPUT_IMAGES}."
        f" Send at most {max(MAX_INPUT_IMAGES - theirs, 0)} images with this style."
    )


def style_words(prompt: str) -> str:
    """A prompt's style words, for a style saved from an image: what follows its first comma
    ("a red fox in snow, golden hour, 35mm film" → "golden hour, 35mm film"), the usual place of
    lighting, medium and camera terms in the prompts people write. No comma: no words (the
    person can give the text instead)."""
    _, comma, tail = prompt.partition(",")
    return " ".join(tail.split()).rstrip(" .,;") if comma else ""


def unknown_style(name: str, styles: Sequence[Style]) -> BotError:
    """'no style named …', with the closest names the person can use."""
    names = sorted({s.name for s in styles}, key=str.lower)
    close = closest_names(name, names, cutoff=0.4)
    if close:
        return BotError(ErrorKind.NOT_FOUND, f"no style named {name!r} here; closest: {', '.join(close)}")
    if names:
        return BotError(ErrorKind.NOT_FOUND, f"no style named {name!r} here; `style list` shows yours")
    return BotError(ErrorKind.NOT_FOUND, f"no style named {name!r} here; there are no styles yet")
