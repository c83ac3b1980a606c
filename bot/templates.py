"""Prompt templates: a named prompt with placeholders, filled by `--template NAME key="value"`.

What `template save NAME TEXT` takes:

- `{product}`: a placeholder, replaced by what was typed (`product="red sneaker"`).
- `{headline:text}`: words meant to appear in the image letter for letter. The value goes into
  the prompt in quotes and is asked for exactly (bot.exact_text), like `--text`.
- `{{` and `}}`: a literal brace.
- Prompts separated by ` || ` make a pack: one image per prompt, run as one set. Each may start
  with a label, `lifestyle: a photo of {product} …`, to tell the images apart.
- `--flags` (image options) anywhere: the template's defaults, under what the person types.

Placeholder names are a letter or _, then letters, digits or _ (at most 32), case-insensitive,
the same as the `key=` of a filling (bot.directives). This module is pure: parse, check, fill.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot import exact_text, options
from bot.directives import TEXT_MAX_CHARS, split_directives
from bot.domain import OptionOverrides
from bot.errors import invalid
from bot.text import display_text, has_visible

PACK_MAX = 4  # prompts in one pack: one image each, shown as one grid
FILL_MAX_CHARS = 1000  # one filling; the whole prompt is checked against the model's limit after
LABEL_RE = re.compile(r"^([A-Za-z0-9_-]{1,32}):\s+")
_PACK_SEPARATOR = re.compile(r"\s*\|\|\s*")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_PLACEHOLDER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]{0,31})(?::(text))?$")

Scope = Literal["personal", "workspace", "starter"]
Renamed = Literal["renamed", "missing", "taken"]


@dataclass(frozen=True)
class Shelf:
    """Where saved templates are kept: one person's in one workspace, or the workspace's own.
    Every look-up names its shelf, so a name never reaches another workspace's templates."""

    platform: str
    workspace: str
    owner: str = ""  # UserRef.key; "" for the workspace's templates

    @property
    def scope(self) -> Scope:
        return "personal" if self.owner else "workspace"


@dataclass(frozen=True)
class Placeholder:
    name: str  # lower-case: fillings are matched without regard to case
    text: bool  # rendered in the image exactly (`{name:text}`)


Segment = str | Placeholder


@dataclass(frozen=True)
class Part:
    """One prompt of a template, as written (placeholders and all)."""

    prompt: str
    label: str | None = None  # a pack's name for this prompt's image


@dataclass(frozen=True)
class TemplateBody:
    """What a template holds: one prompt, or several (a pack), and default image options."""

    parts: tuple[Part, ...]
    flags: OptionOverrides = field(default_factory=OptionOverrides)

    @property
    def is_pack(self) -> bool:
        return len(self.parts) > 1

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        """Every placeholder once, in the order they first appear (`:text` if any use says so)."""
        found: dict[str, bool] = {}
        for part in self.parts:
            for segment in segments(part.prompt):
                if isinstance(segment, Placeholder):
                    found[segment.name] = found.get(segment.name, False) or segment.text
        return tuple(Placeholder(name, text) for name, text in found.items())


@dataclass(frozen=True)
class Template:
    name: str  # as its author typed it; looked up without regard to case
    body: TemplateBody
    scope: Scope
    created_by: str = ""  # UserRef.key; "" for a starter


@dataclass(frozen=True)
class FilledPart:
    label: str
    prompt: str  # ready for the model: placeholders filled, exact-text sentence added


@dataclass(frozen=True)
class Filled:
    """A template filled in for one request: one prompt per part (one image each for a pack),
    and the template's default options, to apply under what the person typed."""

    name: str
    parts: tuple[FilledPart, ...]
    flags: OptionOverrides

    @property
    def is_pack(self) -> bool:
        return len(self.parts) > 1


def segments(prompt: str) -> tuple[Segment, ...]:
    """A template prompt as literal text and placeholders; a specific refusal for a placeholder
    that is not well formed, so a broken template is refused when it is saved."""
    pieces: list[Segment] = []
    literal: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(prompt):
        literal.append(prompt[pos : match.start()])
        pos = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
        elif token in ("{", "}"):
            raise invalid(
                f"the template has an unmatched {token!r} near “{display_text(prompt[max(match.start() - 20, 0) : match.end() + 20])}”:"
                " write {{ or }} for a brace, {name} for a placeholder"
            )
        else:
            found = _PLACEHOLDER.match(token[1:-1].strip())
            if found is None:
                raise invalid(
                    f"placeholder {display_text(token, 40)} is not valid: use a name of letters, digits and _"
                    " (like {product}), or {name:text} for words to render in the image"
                )
            if "".join(literal):
                pieces.append("".join(literal))
            literal = []
            pieces.append(Placeholder(found.group(1).lower(), found.group(2) is not None))
    literal.append(prompt[pos:])
    if "".join(literal):
        pieces.append("".join(literal))
    return tuple(pieces)


def parse_template(text: str) -> TemplateBody:
    """`template save`'s text as a template, or a specific refusal."""
    rest, asked = split_directives(text)
    if asked.any:
        raise invalid(
            "a template holds prompts and image options only, not --style, --template, --text or"
            " --compare: write {name:text} where words must appear in the image"
        )
    prompt, flags = options.split_flags(rest)
    pieces = _PACK_SEPARATOR.split(prompt.strip())
    if len(pieces) > PACK_MAX:
        raise invalid(f"a pack holds at most {PACK_MAX} prompts (one image each); this one has {len(pieces)}")
    parts = tuple(_part(piece, index, len(pieces)) for index, piece in enumerate(pieces, 1))
    labels = [p.label.lower() for p in parts if p.label]
    if len(set(labels)) != len(labels):
        raise invalid("two prompts of the pack have the same label: give each its own")
    if len(parts) > 1 and flags.n is not None:
        raise invalid("a pack makes one image per prompt: leave out --n")
    return TemplateBody(parts, flags)


def _part(piece: str, index: int, count: int) -> Part:
    label = None
    found = LABEL_RE.match(piece) if count > 1 else None  # one prompt needs no label: "Note: …" stays text
    if found:
        label, piece = found.group(1), piece[found.end() :]
    what = f"prompt {index} of the pack" if count > 1 else "prompt"
    if not has_visible(piece):
        raise invalid(f"the template's {what} is empty: describe the image, with {{placeholders}} to fill")
    options.validate_prompt(piece)
    segments(piece)
    return Part(piece.strip(), label)


def fill(template: Template, fills: Mapping[str, str], extra: str = "", texts: Sequence[str] = ()) -> Filled:
    """The template filled for one request: every placeholder given, nothing unknown; `extra`
    (prompt words typed beside the template) added to each prompt, `texts` (typed --text) asked
    for exactly after the template's own text placeholders."""
    wanted = template.body.placeholders
    names = [p.name for p in wanted]
    for key in fills:
        if key not in names:
            raise invalid(_unknown_fill(template, key, names))
    missing = [name for name in names if name not in fills]
    if missing:
        raise invalid(
            f"template {template.name} needs {_and([f'{m}=' for m in missing])}, e.g. {usage(template)}"
        )
    text_names = {p.name for p in wanted if p.text}
    for key, value in fills.items():
        if not has_visible(value):
            raise invalid(f'{key}= is empty: put the words in quotes, e.g. {key}="red sneaker"')
        limit = TEXT_MAX_CHARS if key in text_names else FILL_MAX_CHARS
        if len(value) > limit:
            raise invalid(f"{key}= is {len(value)} characters; at most {limit} fit here")
    parts = []
    for index, part in enumerate(template.body.parts, 1):
        prompt, pieces = _filled(part.prompt, fills)
        if has_visible(extra):
            prompt = _joined(prompt, extra)
        prompt = exact_text.with_texts(options.validate_prompt(prompt), (*pieces, *texts))
        parts.append(FilledPart(part.label or f"#{index}", options.validate_prompt(prompt)))
    return Filled(template.name, tuple(parts), template.body.flags)


def _filled(prompt: str, fills: Mapping[str, str]) -> tuple[str, list[str]]:
    """The prompt with its placeholders replaced (once: a filling is data, never read for more
    placeholders), and the pieces of text to render exactly, each once, in order."""
    out: list[str] = []
    pieces: list[str] = []
    for segment in segments(prompt):
        if isinstance(segment, str):
            out.append(segment)
            continue
        value = fills[segment.name]
        if segment.text:
            # Quoted as the exact-text sentence quotes it: curly quotes inside would end it early.
            plain = value.replace("\u201c", '"').replace("\u201d", '"')
            out.append(f"\u201c{plain}\u201d")
            if value not in pieces:
                pieces.append(value)
        else:
            out.append(value)
    return "".join(out), pieces


def _joined(prompt: str, extra: str) -> str:
    prompt, extra = prompt.rstrip(), extra.strip()
    return f"{prompt} {extra}" if prompt.endswith((".", "!", "?", ",", ";")) else f"{prompt}, {extra}"


def usage(template: Template) -> str:
    """How to use it: `--template poster event="..." title="..."`."""
    fills = " ".join(f'{p.name}="..."' for p in template.body.placeholders)
    return f"--template {template.name} {fills}".strip()


def _unknown_fill(template: Template, key: str, names: Sequence[str]) -> str:
    if not names:
        return f"template {template.name} has no placeholders, so {key}= fills nothing"
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]}=?)" if close else ""
    return (
        f"template {template.name} has no placeholder {key}={hint}; it takes {_and([f'{n}=' for n in names])}"
    )


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" and {words[-1]}"


_FLAG_NAMES = {"aspect": "ar", "output_format": "format"}


def options_text(flags: OptionOverrides) -> str:
    """Options as the --flags that set them."""
    given = [(name, getattr(flags, name)) for name in flags.__dataclass_fields__]
    return " ".join(f"--{_FLAG_NAMES.get(name, name)} {value}" for name, value in given if value is not None)
