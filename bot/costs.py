"""Estimated cost in USD from the API's token usage and a configurable price table."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from bot.domain import ImageOptions, SpendRefusal, Usage


def estimate_cost(usage: Usage | None, prices: Mapping[str, float]) -> float:
    """USD for one call. Prices are per 1M tokens: text_input, image_input, image_output.

    Input tokens the API did not split into text and image are billed as text (the cheaper
    rate), so the estimate errs low rather than alarming anyone.
    """
    if usage is None:
        return 0.0
    unsplit = max(usage.input_tokens - usage.input_text_tokens - usage.input_image_tokens, 0)
    dollars = (
        (usage.input_text_tokens + unsplit) * prices.get("text_input", 0.0)
        + usage.input_image_tokens * prices.get("image_input", 0.0)
        + usage.output_tokens * prices.get("image_output", 0.0)
    )
    return round(dollars / 1_000_000, 6)


# Output tokens of one 1024x1024 image by quality: the published GPT Image table for low, medium
# and high, doubled for each extra tier. "auto" may pick any, so it is reserved as "high".
OUTPUT_TOKENS_PER_MEGAPIXEL = {"low": 272, "medium": 1056, "high": 4160, "xhigh": 8320, "max": 16640}
PARTIAL_IMAGE_TOKENS = 100  # each streamed partial preview is billed as extra output tokens
_AUTO_SIZE = (1536, 1024)  # the largest an "auto" size can come out


def estimate_job_cost(
    options: ImageOptions,
    prices: Mapping[str, float],
    *,
    prompt: str,
    input_sizes: Sequence[tuple[int, int]] = (),
    partial_images: int = 0,
) -> float:
    """USD a job may cost, from its parameters alone: what is reserved against the budgets
    before it runs. It errs high (auto quality counts as high, every partial preview is paid)
    so a budget is never overshot; the API's reported usage replaces it afterwards."""
    width, height = options.dimensions() or _AUTO_SIZE
    per_megapixel = OUTPUT_TOKENS_PER_MEGAPIXEL.get(options.quality, OUTPUT_TOKENS_PER_MEGAPIXEL["high"])
    if options.quality == "auto":
        per_megapixel = OUTPUT_TOKENS_PER_MEGAPIXEL["high"]
    per_image = math.ceil(per_megapixel * width * height / 1024**2) + partial_images * PARTIAL_IMAGE_TOKENS
    text = math.ceil(len(prompt) / 3) + 50  # generous: tokens run about 4 characters each
    images_in = sum(65 + 129 * math.ceil(w / 512) * math.ceil(h / 512) for w, h in input_sizes)
    usage = Usage(
        input_tokens=text + images_in,
        input_text_tokens=text,
        input_image_tokens=images_in,
        output_tokens=per_image * options.n,
    )
    return estimate_cost(usage, prices)


def budget_refusal(refusal: SpendRefusal, cost: float) -> str:
    """Why a job was refused, with the figures: what it would cost and what is left."""
    limit = refusal.limit
    whose = "your" if limit.requester else "this workspace's"
    held = (
        f" (${refusal.reserved_usd:.2f} of it held by jobs still running)"
        if refusal.reserved_usd >= 0.005
        else ""
    )
    return (
        f"Not started: this would cost about ${cost:.2f}; ${refusal.left_usd:.2f} of {whose}"
        f" ${limit.budget_usd:.2f} budget for this month is left{held}. Try fewer images (--n),"
        " a smaller size or a lower --quality, or ask an admin."
    )
