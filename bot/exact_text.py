"""Words that must appear in the image exactly as typed: `--text "SALE 50%"`, and a template's
placeholders meant as text in the image.

The image models render quoted text far more faithfully when told plainly to copy it letter for
letter, so each piece is added to the prompt as one fixed sentence. The sentence is stored with
the prompt, which keeps a reroll or a variation of the image asking for the same text; this
module both writes it and reads it back, so a caption can show the pieces on their own line for
a team to check the spelling at a glance.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_LEAD = "Render this text exactly as written, letter for letter, with nothing added: "
_PIECE = re.compile(r"\u201c([^\u201c\u201d]*)\u201d")
# With the full stop `with_texts` puts before it (a caption shows the person's words without it).
_SENTENCE = re.compile(r"\.?\s*" + re.escape(_LEAD) + r"((?:\u201c[^\u201c\u201d]*\u201d(?:, )?)+)\.")


def sentence(texts: Sequence[str]) -> str:
    """The instruction for these pieces ("" for none). Curly quotes inside a piece would end it
    early, so they become straight ones."""
    if not texts:
        return ""
    quoted = ", ".join(f"\u201c{_plain_quotes(text)}\u201d" for text in texts)
    return f"{_LEAD}{quoted}."


def with_texts(prompt: str, texts: Sequence[str]) -> str:
    """The prompt asking for these pieces of text exactly (unchanged for none)."""
    said = sentence(texts)
    if not said:
        return prompt
    prompt = prompt.rstrip()
    if not prompt or prompt.endswith((".", "!", "?", ":")):
        return f"{prompt} {said}".lstrip()
    return f"{prompt}. {said}"


def found_in(prompt: str) -> tuple[str, ...]:
    """The pieces of text a stored prompt asks for, in order (from every such sentence)."""
    return tuple(piece for match in _SENTENCE.finditer(prompt) for piece in _PIECE.findall(match.group(1)))


def without_texts(prompt: str) -> str:
    """The prompt as the person wrote it: the sentences taken out (a caption shows the pieces
    on their own)."""
    return " ".join(_SENTENCE.sub("", prompt).split())


def _plain_quotes(text: str) -> str:
    return text.replace("\u201c", '"').replace("\u201d", '"')
