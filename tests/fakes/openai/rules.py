"""The Images API's rules: models, sizes, limits, parameters and token rates.

Deliberately written out here, not imported from bot/: the fake plays the API, so a mistake in the
bot's own model table must be caught by these tests, not copied into them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

API_KEY = "sk-test"

Endpoint = Literal["generations", "edits"]

STANDARD_SIZES: tuple[tuple[int, int], ...] = ((1024, 1024), (1536, 1024), (1024, 1536))
SIZE_MULTIPLE = 16
MAX_RATIO = 3.0
MAX_EDGE = 3840
MIN_PIXELS = 655_360
MAX_PIXELS = 8_294_400  # 3840x2160
MAX_PROMPT_CHARS = 32_000
MAX_N = 10
MAX_INPUT_IMAGES = 16
MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_MASK_BYTES = 4 * 1024 * 1024
INPUT_MIMETYPES = ("image/jpeg", "image/png", "image/webp")

BASE_QUALITIES = ("low", "medium", "high", "auto")
EXTRA_QUALITIES = ("xhigh", "max")
OUTPUT_FORMATS = ("png", "webp", "jpeg")
BACKGROUNDS = ("transparent", "opaque", "auto")


@dataclass(frozen=True)
class ModelRules:
    arbitrary_sizes: bool
    extra_qualities: bool = False
    # Allowed input_fidelity values on edits; empty means "omit this parameter".
    input_fidelity: tuple[str, ...] = ()

    @property
    def qualities(self) -> tuple[str, ...]:
        return BASE_QUALITIES + EXTRA_QUALITIES if self.extra_qualities else BASE_QUALITIES


_GPT2 = ModelRules(arbitrary_sizes=True)
_GPT25 = ModelRules(arbitrary_sizes=True, extra_qualities=True)
# The 2.6 models are listed by the SDK without documented size or quality extras.
_GPT26 = ModelRules(arbitrary_sizes=False)

MODELS: dict[str, ModelRules] = {
    "gpt-image-2": _GPT2,
    "gpt-image-2-2026-04-21": _GPT2,
    "gpt-image-2.5-sunburst": _GPT25,
    "gpt-image-2.5-sunburst-2026-09-08": _GPT25,
    "gpt-image-2.5-flare": _GPT25,
    "gpt-image-2.5-flare-2026-09-08": _GPT25,
    "gpt-image-2.6-sunburst": _GPT26,
    "gpt-image-2.6-flare": _GPT26,
    "gpt-image-1.5": ModelRules(arbitrary_sizes=False, input_fidelity=("high", "low")),
    "gpt-image-1-mini": ModelRules(arbitrary_sizes=False, input_fidelity=("low",)),
    "chatgpt-image-latest": ModelRules(arbitrary_sizes=False, input_fidelity=("high", "low")),
}

RETIRED_MODELS: dict[str, str] = {
    "gpt-image-1": (
        "The model `gpt-image-1` was shut down on October 23, 2026. "
        "Use gpt-image-2.5-sunburst or gpt-image-2.5-flare instead."
    ),
    "dall-e-2": "The model `dall-e-2` was retired on May 12, 2026. Use a GPT image model instead.",
    "dall-e-3": "The model `dall-e-3` was retired on May 12, 2026. Use a GPT image model instead.",
}

# Parameter name -> (python type, endpoints that accept it).
_BOTH = frozenset({"generations", "edits"})
PARAMS: dict[str, tuple[type, frozenset[str]]] = {
    "prompt": (str, _BOTH),
    "model": (str, _BOTH),
    "n": (int, _BOTH),
    "size": (str, _BOTH),
    "quality": (str, _BOTH),
    "output_format": (str, _BOTH),
    "output_compression": (int, _BOTH),
    "background": (str, _BOTH),
    "partial_images": (int, _BOTH),
    "stream": (bool, _BOTH),
    "safety_identifier": (str, _BOTH),
    "user": (str, _BOTH),
    "complexity": (str, _BOTH),
    "moderation": (str, frozenset({"generations"})),
    "input_fidelity": (str, frozenset({"edits"})),
}
# Real legacy parameters that GPT image models do not support: the API rejects them.
LEGACY_PARAMS = {"style": "generations", "response_format": "both"}
# Real parameters this fake does not implement: rejected and recorded as unexpected.
UNMODELLED_PARAMS = {"svg", "frame_count", "frame_duration_ms", "markup"}

# Output tokens per 1024x1024 image by quality (the published GPT Image table for low/medium/high;
# the extras extrapolated), scaled by pixel count. Only plausibility matters.
_TOKENS_PER_MEGAPIXEL = {"low": 272, "medium": 1056, "high": 4160, "xhigh": 8320, "max": 16640}
