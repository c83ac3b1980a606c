"""Size rules for the GPT Image models: checking sizes, turning aspect ratios into sizes and
planning canvases for upscale, zoom out and change-aspect.

Pure arithmetic over the capability table in `bot.model_catalog`; reading flags out of chat text is
`bot.options`' job, and reading a typed size or ratio is `bot.size_parsing`'s. Every rejection is a
`bot.errors.invalid(...)` whose message is shown to the person verbatim, so each one names the
rule that was broken and, when it is easy, a size that works.
"""

from __future__ import annotations

import math

from bot.domain import Placement
from bot.errors import invalid
from bot.model_catalog import MODELS, STANDARD_SIZES, ModelInfo, SizeRules
from bot.size_parsing import parse_size, read_aspect

# An upscale that adds less than this much area is not worth a paid request.
MIN_UPSCALE_GAIN = 1.25
ZOOM_FACTORS: tuple[float, ...] = (1.5, 2.0)
# aspect_to_size's documented rule: the long edge is 1536 px (the long edge of the standard
# landscape/portrait sizes, so 3:2 and 2:3 land exactly on them) and 1:1 is the standard square.
ASPECT_LONG_EDGE = 1536
SQUARE_SIZE = (1024, 1024)
# Two aspect ratios closer than ~1% count as the same: sizes snapped to multiples of 16 are
# rarely exact (21:9 becomes 1536x656), and a canvas 1% wider is not a change anyone would ask for.
SAME_ASPECT_TOLERANCE = 0.01

# ---- small helpers ----------------------------------------------------------------------------


def _round_half_up(value: float) -> int:
    # Python's round() rounds halves to even (62.5 -> 62); people expect 1000 -> 1008, not 992.
    return math.floor(value + 0.5)


def _snap(value: float, multiple: int) -> int:
    """The nearest positive multiple of `multiple`."""
    return max(multiple, _round_half_up(value / multiple) * multiple)


def _size_text(width: int, height: int) -> str:
    return f"{width}x{height}"


def _ratio_limit_text(rules: SizeRules) -> str:
    limit = f"{rules.max_ratio:g}"
    return f"between 1:{limit} and {limit}:1"


def _ratio_of(width: int, height: int) -> str:
    """'3.84:1' / '1:3.84': how far off a size is, in the same terms as the rule."""
    long, short = max(width, height), min(width, height)
    value = f"{long / short:.2f}".rstrip("0").rstrip(".")
    return f"{value}:1" if width >= height else f"1:{value}"


def _arbitrary_model_name() -> str:
    """The model to suggest when someone needs a size a standard-size model cannot make."""
    for name, info in MODELS.items():
        if info.arbitrary_sizes is not None:
            return name
    return "gpt-image-2"  # pragma: no cover - the table always has one


def _standard_list() -> str:
    sizes = [_size_text(w, h) for w, h in STANDARD_SIZES]
    return ", ".join(sizes[:-1]) + " or " + sizes[-1]


def _reduced(a: int, b: int) -> tuple[int, int]:
    g = math.gcd(a, b)
    return a // g, b // g


def _check_dims(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise invalid(f"the image has no pixels ({width}x{height})")


def _size_problems(width: int, height: int, rules: SizeRules) -> list[str]:
    """Every rule a WIDTHxHEIGHT breaks, worded for a person; empty when the size is valid."""
    problems: list[str] = []
    long, short = max(width, height), min(width, height)
    if width % rules.multiple or height % rules.multiple:
        problems.append(f"width and height must be multiples of {rules.multiple}")
    if long > rules.max_ratio * short:
        problems.append(
            f"the aspect ratio must be {_ratio_limit_text(rules)} (this is {_ratio_of(width, height)})"
        )
    if long > rules.max_edge:
        problems.append(f"the longest edge can be at most {rules.max_edge} px")
    pixels = width * height
    if pixels < rules.min_pixels:
        problems.append(f"the size needs at least {rules.min_pixels:,} pixels (this has {pixels:,})")
    elif pixels > rules.max_pixels:
        problems.append(f"the size can have at most {rules.max_pixels:,} pixels (this has {pixels:,})")
    return problems


def _nearest_valid(
    ratio: float, pixels: float, rules: SizeRules, *, max_pixels: int | None = None
) -> tuple[int, int]:
    """The valid size closest to `ratio` (width/height) and `pixels` (area).

    The ratio is clamped to the model's limit and the area to what the model (and `max_pixels`,
    a caller's budget) allows, including the edge limit. "Closest" weighs the error in aspect and
    in area equally on a log scale, so 0.2% of aspect is traded against 0.2% of area; we search all
    short edges because snapping both edges independently can step outside the limits.
    """
    landscape = ratio >= 1
    r = min(max(ratio, 1 / ratio), rules.max_ratio)
    cap = min(float(rules.max_pixels), rules.max_edge**2 / r)
    if max_pixels is not None:
        cap = min(cap, float(max_pixels))
    target = max(min(pixels, cap), float(rules.min_pixels))
    best = _best_candidate(r, target, rules, max_pixels)
    if best is None and max_pixels is not None:
        # A budget below every valid size of this aspect: the model's own floor wins.
        best = _best_candidate(r, target, rules, None)
    if best is None:  # pragma: no cover - impossible with any sane SizeRules
        raise ValueError(f"no valid size for ratio {ratio} under {rules}")
    long, short = best
    return (long, short) if landscape else (short, long)


def _best_candidate(
    r: float, target: float, rules: SizeRules, max_pixels: int | None
) -> tuple[int, int] | None:
    """(long, short) of the valid landscape size scoring best against ratio r and area target."""
    m = rules.multiple
    best: tuple[tuple[float, int], int, int] | None = None
    for short in range(m, rules.max_edge + 1, m):
        floor_long = int(short * r // m) * m
        for long in (floor_long, floor_long + m):
            if long < short or _size_problems(long, short, rules):
                continue
            if max_pixels is not None and long * short > max_pixels:
                continue
            score = abs(math.log(long / short / r)) + abs(math.log(long * short / target))
            key = (score, -long * short)  # on a tie, the larger size
            if best is None or key < best[0]:
                best = (key, long, short)
    return None if best is None else (best[1], best[2])


def _nearest_standard(width: int, height: int) -> tuple[int, int]:
    """The standard size whose aspect is closest to width:height (so it keeps the orientation)."""
    aspect = math.log(width / height)
    return min(STANDARD_SIZES, key=lambda s: abs(math.log(s[0] / s[1]) - aspect))


def _standard_for_aspect(a: int, b: int, model: ModelInfo, label: str) -> tuple[int, int]:
    """The standard size of exactly this aspect (1:1, 3:2, 2:3 and equivalents like 2:2)."""
    by_aspect = {_reduced(w, h): (w, h) for w, h in STANDARD_SIZES}
    size = by_aspect.get(_reduced(a, b))
    if size is None:
        ratios = [f"{x}:{y}" for x, y in by_aspect]
        raise invalid(
            f"{label} {a}:{b}: {model.name} makes only {', '.join(ratios[:-1])} and {ratios[-1]} images "
            f"({_standard_list()}); use --model {_arbitrary_model_name()} for other aspect ratios"
        )
    return size


def _check_ratio(a: int, b: int, rules: SizeRules, label: str) -> None:
    if max(a, b) > rules.max_ratio * min(a, b):
        raise invalid(f"{label} {a}:{b}: the aspect ratio must be {_ratio_limit_text(rules)}")


def _place(width: int, height: int, canvas: tuple[int, int], box_w: float, box_h: float) -> Placement:
    """Centre the image on `canvas`, scaled (keeping its aspect) to fit a box_w x box_h area."""
    cw, ch = canvas
    scale = min(box_w / width, box_h / height)
    inner_w = min(cw, max(1, _round_half_up(width * scale)))
    inner_h = min(ch, max(1, _round_half_up(height * scale)))
    return Placement(cw, ch, inner_w, inner_h, (cw - inner_w) // 2, (ch - inner_h) // 2)


# ---- public API -------------------------------------------------------------------------------


def is_valid_size(width: int, height: int, model: ModelInfo) -> bool:
    """Whether the model accepts exactly this WIDTHxHEIGHT."""
    if model.arbitrary_sizes is None:
        return (width, height) in STANDARD_SIZES
    return width > 0 and height > 0 and not _size_problems(width, height, model.arbitrary_sizes)


def validate_size(size: str, model: ModelInfo) -> tuple[int, int] | None:
    """Check a requested size against the model's rules: None for "auto", else (width, height).

    Arbitrary-size models: multiples of 16, aspect within 1:3..3:1, longest edge ≤ 3840 and the
    pixel budget; every broken rule is named, with a valid size to try. Standard-size models: only
    STANDARD_SIZES.
    """
    if size.strip().lower() == "auto":
        return None
    width, height = parse_size(size)
    label = f"--size {_size_text(width, height)}"
    rules = model.arbitrary_sizes
    if rules is None:
        if (width, height) in STANDARD_SIZES:
            return width, height
        closest = _size_text(*_nearest_standard(width, height))
        raise invalid(
            f"{label} is not available on {model.name}: it makes only {_standard_list()} (or auto); "
            f"the closest is {closest}, or use --model {_arbitrary_model_name()} for custom sizes"
        )
    problems = _size_problems(width, height, rules)
    if not problems:
        return width, height
    # Prefer the smallest fix (round each edge to a multiple of 16) when that alone is enough.
    snapped = (_snap(width, rules.multiple), _snap(height, rules.multiple))
    suggestion = snapped if not _size_problems(*snapped, rules) else fit_valid_size(width, height, model)
    hint = f" (try {_size_text(*suggestion)})" if suggestion != (width, height) else ""
    raise invalid(f"{label}: " + "; ".join(problems) + hint)


def aspect_to_size(aspect: str, model: ModelInfo) -> str:
    """The size to request for an aspect ratio, as 'WIDTHxHEIGHT'.

    Arbitrary-size models: 1:1 is 1024x1024; otherwise the long edge is 1536 px and the short edge
    is 1536 x short/long rounded to the nearest multiple of 16 (16:9 -> 1536x864, 21:9 -> 1536x656).
    Were that under the pixel minimum, both edges grow to the smallest valid size of that aspect.
    Ratios beyond 3:1 are refused. Standard-size models: only 1:1, 3:2 and 2:3 (and equivalents).
    """
    a, b = read_aspect(aspect, "--ar")
    rules = model.arbitrary_sizes
    if rules is None:
        return _size_text(*_standard_for_aspect(a, b, model, "--ar"))
    _check_ratio(a, b, rules, "--ar")
    if a == b:
        width, height = SQUARE_SIZE
    else:
        short = _snap(ASPECT_LONG_EDGE * min(a, b) / max(a, b), rules.multiple)
        width, height = (ASPECT_LONG_EDGE, short) if a > b else (short, ASPECT_LONG_EDGE)
    if _size_problems(width, height, rules):
        # Not reachable with today's limits (3:1 at 1536 is 786,432 px), kept so a tighter pixel
        # floor in the model table cannot make us send an invalid size.
        width, height = _nearest_valid(a / b, max(width * height, rules.min_pixels), rules)
    return _size_text(width, height)


def standard_size_like(width: int, height: int, model: ModelInfo) -> tuple[int, int]:
    """The everyday size of this image's aspect, as `--ar` would choose it: 1024x1024 for a
    square, otherwise a long edge of 1536 (3520x2352 -> 1536x1024). Variations of an upscaled
    image render here, so an upscale is never inherited (and paid for) by accident.
    Standard-size models: the standard size with the nearest aspect."""
    _check_dims(width, height)
    rules = model.arbitrary_sizes
    if rules is None:
        return _nearest_standard(width, height)
    ratio = width / height
    if abs(math.log(ratio)) < 0.01:
        return SQUARE_SIZE
    long_edge, short_edge = max(width, height), min(width, height)
    short = _snap(ASPECT_LONG_EDGE * short_edge / long_edge, rules.multiple)
    size = (ASPECT_LONG_EDGE, short) if width >= height else (short, ASPECT_LONG_EDGE)
    if _size_problems(*size, rules):
        return _nearest_valid(ratio, max(size[0] * size[1], rules.min_pixels), rules)
    return size


def fit_valid_size(
    width: int, height: int, model: ModelInfo, *, max_pixels: int | None = None
) -> tuple[int, int]:
    """The valid size for the model closest to an arbitrary size, keeping (nearly) its aspect.

    Used when an edit keeps an uploaded image's size: 4032x3024 -> 3312x2480 on gpt-image-2.
    A ratio beyond the model's limit is clamped to it. `max_pixels` optionally caps the area below
    the model's own maximum (e.g. 2560*1440, above which the API calls sizes experimental).
    Standard-size models: the standard size with the nearest aspect.
    """
    _check_dims(width, height)
    rules = model.arbitrary_sizes
    if rules is None:
        return _nearest_standard(width, height)
    within_budget = max_pixels is None or width * height <= max_pixels
    if within_budget and not _size_problems(width, height, rules):
        return width, height
    return _nearest_valid(width / height, width * height, rules, max_pixels=max_pixels)


def upscale_target(width: int, height: int, model: ModelInfo) -> tuple[int, int] | None:
    """The largest size the model renders with (nearly) this aspect, or None if not worth it.

    Returned only when it has at least MIN_UPSCALE_GAIN times the pixels of the input:
    1024x1024 -> 2880x2880 and 1536x864 -> 3840x2160 on gpt-image-2; 3840x2160 -> None. A ratio
    beyond 3:1 is clamped to 3:1. Standard-size models: the standard size of the nearest aspect.
    """
    _check_dims(width, height)
    rules = model.arbitrary_sizes
    if rules is None:
        target = _nearest_standard(width, height)
    else:
        target = _nearest_valid(width / height, rules.max_pixels, rules)
    if target[0] * target[1] >= MIN_UPSCALE_GAIN * width * height:
        return target
    return None


def local_upscale_size(width: int, height: int, factor: int = 2, cap_edge: int = 7680) -> tuple[int, int]:
    """The size for the local (Lanczos) upscale fallback: `factor` times larger, keeping the aspect,
    with the longest edge capped at `cap_edge`. Never smaller than the input."""
    _check_dims(width, height)
    if factor < 1:
        raise ValueError(f"upscale factor must be at least 1, not {factor}")
    scale = max(1.0, min(float(factor), cap_edge / max(width, height)))
    return _round_half_up(width * scale), _round_half_up(height * scale)


def zoom_placement(width: int, height: int, factor: float, model: ModelInfo) -> Placement:
    """Plan a zoom out: a canvas about `factor` times the image on each edge, image centred.

    The canvas is the valid size nearest to (width*factor, height*factor), or the largest valid
    size of that aspect when that is beyond the model's limits. The image is scaled, keeping its
    aspect, to span 1/factor of the canvas, so the zoom looks the same whether or not the canvas
    was capped. Standard-size models: the canvas is the standard size of the same orientation.
    """
    if factor not in ZOOM_FACTORS:
        raise invalid(f"zoom must be 1.5 or 2 (not {factor:g})")
    _check_dims(width, height)
    rules = model.arbitrary_sizes
    if rules is None:
        canvas = _nearest_standard(width, height)
    else:
        canvas = _nearest_valid(width / height, width * height * factor**2, rules)
    return _place(width, height, canvas, canvas[0] / factor, canvas[1] / factor)


def aspect_placement(width: int, height: int, aspect: str, model: ModelInfo) -> Placement:
    """Plan a change of aspect ratio: a canvas of the target aspect holding the whole image.

    The canvas keeps the image's size along one edge and is extended along the other, snapped to
    a valid size and capped to the model's limits; the image is scaled (keeping its aspect) to fit
    the canvas exactly along the kept edge and centred. Standard-size models: the target must be
    1:1, 3:2 or 2:3 and the canvas is that standard size.
    """
    _check_dims(width, height)
    a, b = read_aspect(aspect, "aspect")
    rules = model.arbitrary_sizes
    if rules is None:
        canvas = _standard_for_aspect(a, b, model, "aspect")
    else:
        _check_ratio(a, b, rules, "aspect")
    target = a / b
    if abs(math.log(width / height) - math.log(target)) < SAME_ASPECT_TOLERANCE:
        raise invalid(f"the image is already {a}:{b}")
    if rules is not None:
        wanted = height * target * height if target > width / height else width * (width / target)
        canvas = _nearest_valid(target, wanted, rules)
    return _place(width, height, canvas, canvas[0], canvas[1])
