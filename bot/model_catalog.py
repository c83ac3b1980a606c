"""What each GPT Image model can do, as the Images API documents it today.

One table, read by option validation, the providers and upscale/outpaint planning, so a limit
lives in exactly one place (the sizes, qualities and limits of the Images API reference).
"""

from __future__ import annotations

from dataclasses import dataclass

STANDARD_SIZES: tuple[tuple[int, int], ...] = ((1024, 1024), (1536, 1024), (1024, 1536))
BASE_QUALITIES: frozenset[str] = frozenset({"low", "medium", "high", "auto"})
EXTRA_QUALITIES: frozenset[str] = frozenset({"xhigh", "max"})


@dataclass(frozen=True)
class SizeRules:
    """Rules for models that accept arbitrary WIDTHxHEIGHT sizes (the gpt-image-2 family)."""

    multiple: int = 16
    max_edge: int = 3840
    max_ratio: float = 3.0
    # Pixel budget of the API today: at least 1024x640 and at most 3840x2160 worth of pixels.
    min_pixels: int = 655_360
    max_pixels: int = 3840 * 2160


@dataclass(frozen=True)
class ModelInfo:
    name: str
    qualities: frozenset[str]
    # None: only STANDARD_SIZES (and "auto"); otherwise arbitrary sizes within these rules.
    arbitrary_sizes: SizeRules | None
    transparent: bool = True
    streaming: bool = True

    @property
    def max_size(self) -> tuple[int, int]:
        """The largest landscape size this model renders (portrait is the transpose)."""
        if self.arbitrary_sizes is None:
            return (1536, 1024)
        return (3840, 2160)


_GPT2 = SizeRules()

MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in [
        ModelInfo("gpt-image-2", BASE_QUALITIES, _GPT2),
        ModelInfo("gpt-image-2-2026-04-21", BASE_QUALITIES, _GPT2),
        ModelInfo("gpt-image-2.5-sunburst", BASE_QUALITIES | EXTRA_QUALITIES, _GPT2),
        ModelInfo("gpt-image-2.5-sunburst-2026-09-08", BASE_QUALITIES | EXTRA_QUALITIES, _GPT2),
        ModelInfo("gpt-image-2.5-flare", BASE_QUALITIES | EXTRA_QUALITIES, _GPT2),
        ModelInfo("gpt-image-2.5-flare-2026-09-08", BASE_QUALITIES | EXTRA_QUALITIES, _GPT2),
        # The SDK lists the 2.6 models but documents no size or quality extras for them, so we
        # offer only what every GPT Image model is documented to support.
        ModelInfo("gpt-image-2.6-sunburst", BASE_QUALITIES, None),
        ModelInfo("gpt-image-2.6-flare", BASE_QUALITIES, None),
        ModelInfo("gpt-image-1.5", BASE_QUALITIES, None),
        ModelInfo("gpt-image-1-mini", BASE_QUALITIES, None),
        ModelInfo("chatgpt-image-latest", BASE_QUALITIES, None),
    ]
}

RETIRED: dict[str, str] = {
    "gpt-image-1": (
        "gpt-image-1 was shut down on October 23, 2026; "
        "use gpt-image-2.5-sunburst or gpt-image-2.5-flare instead"
    ),
    "dall-e-2": "dall-e-2 was retired on May 12, 2026; use gpt-image-2 instead",
    "dall-e-3": "dall-e-3 was retired on May 12, 2026; use gpt-image-2 instead",
}


def known_models() -> list[str]:
    return sorted(MODELS)


def model_info(name: str) -> ModelInfo | None:
    return MODELS.get(name)
