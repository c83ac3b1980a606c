"""Estimated cost in USD from the API's token usage and a configurable price table."""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain import Usage


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
