"""Image options from chat: `--flags` in the prompt text -> OptionOverrides -> ImageOptions.

`split_flags` only reads text (Midjourney style, flags anywhere); `resolve_options` applies the
model's rules to overrides from any source (flags or slash-command fields) plus the defaults.
Every rejection is a `bot.errors.invalid(...)` whose message is shown to the person verbatim.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from typing import cast

from bot.domain import Background, ImageOptions, OptionOverrides, OutputFormat, Quality
from bot.errors import BotError, invalid
from bot.model_catalog import EXTRA_QUALITIES, MODELS, RETIRED, ModelInfo, known_models
from bot.size_parsing import parse_size
from bot.sizes import aspect_to_size, fit_valid_size, is_valid_size, validate_size
from bot.text import has_visible

PROMPT_MAX_CHARS = 32_000
N_MIN, N_MAX = 1, 10
FORMATS: tuple[str, ...] = ("png", "webp", "jpeg")
BACKGROUNDS: tuple[str, ...] = ("transparent", "opaque", "auto")
# Display order for quality lists (frozensets have none).
QUALITY_ORDER: tuple[str, ...] = ("low", "medium", "high", "xhigh", "max", "auto")

# Canonical flag -> one line of help text; iterating gives the flag names in a sensible order.
KNOWN_FLAGS: dict[str, str] = {
    "--ar": "aspect ratio W:H between 1:3 and 3:1, e.g. --ar 16:9 (also --aspect)",
    "--size": "exact size WIDTHxHEIGHT, e.g. --size 1536x864, or auto",
    "--n": "how many images, 1 to 10, e.g. --n 4",
    "--quality": "low, medium, high or auto; xhigh and max on the gpt-image-2.5 models (also --q)",
    "--model": "which model, e.g. --model gpt-image-2",
    "--format": "png, webp or jpeg (jpg works too)",
    "--background": "transparent, opaque or auto (also --bg)",
    "--compression": "0 to 100, for webp and jpeg only",
}
FLAG_ALIASES: dict[str, str] = {"--aspect": "--ar", "--q": "--quality", "--bg": "--background"}

_FIELD_BY_FLAG: dict[str, str] = {
    "--ar": "aspect",
    "--size": "size",
    "--n": "n",
    "--quality": "quality",
    "--model": "model",
    "--format": "output_format",
    "--background": "background",
    "--compression": "compression",
}
_EXAMPLE: dict[str, str] = {
    "--ar": "16:9",
    "--size": "1536x864",
    "--n": "4",
    "--quality": "high",
    "--model": "gpt-image-2",
    "--format": "png",
    "--background": "transparent",
    "--compression": "80",
}
_FORMAT_ALIASES = {"jpg": "jpeg"}

# A flag starts a word: "--" then a letter. iOS and macOS turn a typed "--" into an em dash, so
# "—ar" counts too, but only for known flag names: an em dash before a word is ordinary prose.
_FLAG_RE = re.compile(r"(?<!\S)(--|\u2014)([A-Za-z][^\s=]*)")
_SPACED_VALUE_RE = re.compile(r"[ \t]+(\S+)")
_EQUALS_VALUE_RE = re.compile(r"=(\S*)")
_INT_RE = re.compile(r"^[+-]?\d{1,9}$")
_SNAPSHOT_RE = re.compile(r"-\d{4}-\d{2}-\d{2}$")
# Sentence punctuation stuck to a value ("... --ar 16:9.") belongs to the sentence, not the value.
_TRAILING_PUNCTUATION = ".,;!?"


# ---- split_flags ------------------------------------------------------------------------------


def _canonical_flag(name: str) -> str | None:
    flag = "--" + name.lower()
    flag = FLAG_ALIASES.get(flag, flag)
    if flag in _FIELD_BY_FLAG:
        return flag
    return None


def _is_flag_token(token: str) -> bool:
    match = _FLAG_RE.match(token)
    if match is None:
        return False
    return match.group(1) == "--" or _canonical_flag(match.group(2)) is not None


def _unknown_flag(typed: str) -> BotError:
    names = [*KNOWN_FLAGS, *FLAG_ALIASES]
    close = difflib.get_close_matches(typed, names, n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]}?" if close else ""
    return invalid(f"unknown option {typed}{hint} (known: {', '.join(KNOWN_FLAGS)})")


def _read_value(text: str, pos: int) -> tuple[str | None, int]:
    """The value after a flag name ending at `pos` and where it ends; None when there is none."""
    equals = _EQUALS_VALUE_RE.match(text, pos)
    if equals is not None:
        value = equals.group(1)
        end = equals.end()
    else:
        # Only spaces or tabs between a flag and its value: a flag ending a line takes nothing
        # from the next line, which is prompt text.
        spaced = _SPACED_VALUE_RE.match(text, pos)
        if spaced is None or _is_flag_token(spaced.group(1)):
            return None, pos
        value = spaced.group(1)
        end = spaced.end()
    stripped = value.rstrip(_TRAILING_PUNCTUATION)
    value = stripped or value
    return (value or None), end


def _join_pieces(pieces: list[str]) -> str:
    """Glue the text around removed flags back together with one space (or the newline there)."""
    out = pieces[0]
    for piece in pieces[1:]:
        left, right = out.rstrip(" \t"), piece.lstrip(" \t")
        if left.endswith("\n") and right.startswith("\n"):
            right = right[1:]  # a flag on a line of its own leaves no blank line behind
        glue = "" if not left or not right or left.endswith("\n") or right.startswith("\n") else " "
        out = left + glue + right
    return out.strip()


def _flag_int(flag: str, raw: str, what: str, low: int, high: int) -> int:
    value = raw.removesuffix("%") if flag == "--compression" else raw
    if not _INT_RE.match(value):
        raise invalid(f"{flag} {raw}: {what} must be a whole number from {low} to {high}")
    return int(value)


def split_flags(text: str) -> tuple[str, OptionOverrides]:
    """Take `--flag value` / `--flag=value` options out of a prompt, wherever they are.

    Returns the prompt without the flags (whitespace tidied where they were, verbatim elsewhere)
    and the options given. Known flags are KNOWN_FLAGS plus FLAG_ALIASES. A "--" not followed by a
    letter ("a sign that says -- hi") is prompt text. Raises invalid(...) for an unknown flag, a
    flag without a value, a flag given twice, a non-integer --n/--compression, or --ar with --size.
    Values are otherwise checked by resolve_options.
    """
    values: dict[str, tuple[str, str]] = {}  # field -> (flag as typed, value)
    pieces: list[str] = []
    last = pos = 0
    while (match := _FLAG_RE.search(text, pos)) is not None:
        dash, name = match.groups()
        typed = "--" + name.lower()
        flag = _canonical_flag(name)
        if flag is None:
            if dash != "--":
                pos = match.end()
                continue
            raise _unknown_flag(typed)
        value, end = _read_value(text, match.end())
        if value is None:
            raise invalid(f"{typed} needs a value, e.g. {flag} {_EXAMPLE[flag]}")
        field = _FIELD_BY_FLAG[flag]
        if field in values:
            first_flag, first_value = values[field]
            raise invalid(
                f"{flag} was given twice ({first_flag} {first_value} and {typed} {value}): keep one"
            )
        values[field] = (typed, value)
        pieces.append(text[last : match.start()])
        last = pos = end
    pieces.append(text[last:])

    if "aspect" in values and "size" in values:
        raise invalid(_both_aspect_and_size(values["aspect"][1], values["size"][1]))
    raw = {field: value for field, (_, value) in values.items()}
    ints: dict[str, int] = {}
    if "n" in values:
        ints["n"] = _flag_int(values["n"][0], raw["n"], "n", N_MIN, N_MAX)
    if "compression" in values:
        ints["compression"] = _flag_int(values["compression"][0], raw["compression"], "compression", 0, 100)
    overrides = OptionOverrides(
        aspect=raw.get("aspect"),
        size=raw.get("size"),
        n=ints.get("n"),
        quality=raw.get("quality"),
        model=raw.get("model"),
        output_format=raw.get("output_format"),
        background=raw.get("background"),
        compression=ints.get("compression"),
    )
    return _join_pieces(pieces), overrides


def _both_aspect_and_size(aspect: str, size: str) -> str:
    return f"--ar {aspect} and --size {size} both set the size: use one of them"


# ---- resolve_options --------------------------------------------------------------------------


def _given(value: str | None) -> str | None:
    """A blank slash-command field means "not given", like an absent flag."""
    if value is None or not value.strip():
        return None
    return value.strip()


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _models_offering(quality: str) -> list[str]:
    """Models (without dated snapshots, which behave like their base) offering a quality."""
    return [n for n, m in MODELS.items() if quality in m.qualities and not _SNAPSHOT_RE.search(n)]


def _resolve_model(name: str, allowed: Collection[str] | None) -> ModelInfo:
    model = name.lower()
    if model in RETIRED:
        raise invalid(RETIRED[model])
    allowed_here = None if allowed is None else [m.lower() for m in allowed]
    info = MODELS.get(model)
    if info is None:
        choices = known_models() if allowed_here is None else sorted(set(allowed_here) & set(MODELS))
        close = difflib.get_close_matches(model, choices, n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else ""
        where = "known" if allowed_here is None else "available here"
        raise invalid(f"unknown model {name}{hint} ({where}: {', '.join(choices)})")
    if allowed_here is not None and model not in allowed_here:
        if not allowed_here:
            raise invalid(f"{model} is not enabled here: this team has no image models enabled")
        raise invalid(f"{model} is not enabled here: this team allows only {_and_list(sorted(allowed_here))}")
    return info


def _resolve_quality(raw: str, model: ModelInfo) -> Quality:
    quality = raw.lower()
    offered = [q for q in QUALITY_ORDER if q in model.qualities]
    if quality in model.qualities:
        return cast(Quality, quality)
    if quality in EXTRA_QUALITIES:
        raise invalid(
            f"--quality {quality} is only available on {_and_list(_models_offering(quality))}, "
            f"not {model.name} (which offers {_or_list(offered)})"
        )
    if quality in ("standard", "hd"):
        raise invalid(f"--quality {raw} was a DALL·E setting; GPT Image models take {_or_list(offered)}")
    raise invalid(f"--quality {raw}: choose {_or_list(offered)}")


def _resolve_format(raw: str) -> OutputFormat:
    fmt = raw.lower().lstrip(".")
    fmt = _FORMAT_ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise invalid(f"--format {raw}: choose {_or_list(list(FORMATS))}")
    return cast(OutputFormat, fmt)


def _resolve_size(overrides: OptionOverrides, model: ModelInfo, base_size: str | None) -> str:
    aspect, size = _given(overrides.aspect), _given(overrides.size)
    if aspect is not None and size is not None:
        raise invalid(_both_aspect_and_size(aspect, size))
    if size is not None:
        dims = validate_size(size, model)
        return "auto" if dims is None else f"{dims[0]}x{dims[1]}"
    if aspect is not None:
        return aspect_to_size(aspect, model)
    if base_size is None or base_size.strip().lower() == "auto":
        return "auto"
    # base_size comes from a stored image, not from a person: a size we cannot parse is a bug.
    try:
        width, height = parse_size(base_size)
    except Exception as exc:
        raise ValueError(f"base_size must be WIDTHxHEIGHT or auto, not {base_size!r}") from exc
    if not is_valid_size(width, height, model):
        width, height = fit_valid_size(width, height, model)
    return f"{width}x{height}"


def resolve_options(
    overrides: OptionOverrides,
    *,
    default_model: str,
    default_n: int,
    allowed_models: Collection[str] | None = None,
    base_size: str | None = None,
    default_quality: str = "auto",
    default_format: str = "png",
) -> ImageOptions:
    """Apply the chosen model's rules to what was asked for, filling the rest from defaults.

    Checks, in order: model (retired, unknown, not in `allowed_models`), n (1..10), quality for
    that model, format (jpg means jpeg), background (transparent needs png or webp; when no format
    was asked for, transparent switches a jpeg default to png), compression (0..100, webp/jpeg
    only), then the size: --size, else --ar, else `base_size` (an edit keeping its source's size;
    fitted to the model when it is not valid there), else "auto". Raises invalid(...) on the first
    problem.
    """
    model = _resolve_model(_given(overrides.model) or default_model, allowed_models)

    n = overrides.n if overrides.n is not None else default_n
    if not N_MIN <= n <= N_MAX:
        raise invalid(f"--n {n}: n must be between {N_MIN} and {N_MAX}")

    quality = _resolve_quality(_given(overrides.quality) or default_quality, model)

    raw_background = _given(overrides.background) or "auto"
    background = raw_background.lower()
    if background not in BACKGROUNDS:
        raise invalid(f"--background {raw_background}: choose {_or_list(list(BACKGROUNDS))}")

    asked_format = _given(overrides.output_format)
    output_format = _resolve_format(asked_format or default_format)
    if background == "transparent":
        if not model.transparent:
            raise invalid(f"{model.name} cannot make transparent backgrounds")
        if output_format == "jpeg":
            if asked_format is not None:
                raise invalid(
                    "--background transparent needs --format png or webp (jpeg has no transparency)"
                )
            # The jpeg came from a default, not from the person: honour what they did ask for.
            output_format = "png"

    compression = overrides.compression
    if compression is not None:
        if not 0 <= compression <= 100:
            raise invalid(f"--compression {compression}: compression must be between 0 and 100")
        if output_format == "png":
            raise invalid("--compression only works with --format webp or jpeg (png is lossless)")

    return ImageOptions(
        model=model.name,
        size=_resolve_size(overrides, model, base_size),
        n=n,
        quality=quality,
        output_format=output_format,
        background=cast(Background, background),
        compression=compression,
    )


# ---- prompts ----------------------------------------------------------------------------------


def validate_prompt(prompt: str, *, what: str = "prompt") -> str:
    """The prompt without surrounding whitespace; refuses an empty one or one over 32,000 chars."""
    text = prompt.strip()
    if not has_visible(text):
        wanted = "describe the image you want" if what == "prompt" else "say what you want changed"
        raise invalid(f"the {what} is empty: {wanted}")
    if len(text) > PROMPT_MAX_CHARS:
        raise invalid(
            f"the {what} is {len(text):,} characters long; the limit is {PROMPT_MAX_CHARS:,}, "
            f"so shorten it by {len(text) - PROMPT_MAX_CHARS:,}"
        )
    return text
