"""A strict local fake of the OpenAI Images API, for hermetic tests.

What is faked: ``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (multipart with
``image`` / ``image[]`` / ``mask`` file parts), with non-streaming JSON replies and SSE streaming of
partial images, shaped as in ../shared/reference/openai-images-wire.md. The real ``openai`` SDK is
pointed at it with ``base_url=fake.base_url``.

How strict it is: the SDK checks almost nothing client-side, so this server is where a bad request
must fail. It validates what the real API documents (models, sizes, n, quality, formats,
background, compression, partial images, input files and masks) and answers 400/404 with the
API's error body. Anything it does not model is a loud failure, never a silent success:

- an unknown route is answered 404 and recorded in ``fake.unexpected``;
- a real API feature the fake does not implement (GIF/SVG output, ``markup``, ``svg[...]``,
  ``frame_count``...) is answered 400 and also recorded in ``fake.unexpected``;

and leaving ``async with FakeOpenAI()`` raises AssertionError when ``fake.unexpected`` is not empty.

Returned images are real files (Pillow) at the resolved size and format. Each is a solid colour
derived from (request number, image index), see ``FakeOpenAI.color_for``, so a test can tell which
API image ended up where; an edit keeps the first input image visible (resized and tinted, only
inside the mask's transparent area when a mask is given). Everything returned is kept on the
``RecordedRequest``.

Scripting: ``fail_next``/``refuse_next`` (HTTP errors), ``stream_error_next`` (error mid-stream),
``delay`` and ``gate`` (slow or held provider) and ``wait_for_requests`` (wait for arrivals
without sleeping).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import BodyPartReader, web
from PIL import Image

API_KEY = "sk-test"

Endpoint = Literal["generations", "edits"]

# ---------------------------------------------------------------------------------------------
# The API's rules. Deliberately written out here, not imported from bot/: the fake plays the API,
# so a mistake in the bot's own model table must be caught by these tests, not copied into them.
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------


@dataclass
class RecordedFile:
    """One multipart file part as received."""

    field: str  # "image", "image[]" or "mask"
    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)
    # As decoded by Pillow; all None when the bytes are not an image.
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    format: str | None = None

    @property
    def size(self) -> tuple[int, int] | None:
        return None if self.width is None or self.height is None else (self.width, self.height)


@dataclass
class RecordedRequest:
    """One image request as received, and what the fake answered."""

    number: int  # 1-based arrival order
    endpoint: Endpoint
    # JSON body for generations; multipart scalar fields (all strings) for edits.
    fields: dict[str, Any]
    files: list[RecordedFile]
    headers: dict[str, str]  # keys lower-cased
    status: int | None = None  # None while the request is still being handled
    error: dict[str, Any] | None = None  # the error object sent (HTTP error or stream error event)
    returned: list[bytes] = field(default_factory=list, repr=False)  # final images, in order
    partials: list[bytes] = field(default_factory=list, repr=False)  # streamed partials, in order
    colors: list[tuple[int, int, int]] = field(default_factory=list)  # fill colour of each image
    response: dict[str, Any] | None = field(default=None, repr=False)  # non-stream body minus images
    events: list[str] = field(default_factory=list)  # SSE event types sent, in order

    @property
    def images(self) -> list[RecordedFile]:
        return [f for f in self.files if f.field in ("image", "image[]")]

    @property
    def mask(self) -> RecordedFile | None:
        return next((f for f in self.files if f.field == "mask"), None)

    @property
    def stream(self) -> bool:
        return self.fields.get("stream") in (True, "true")


@dataclass
class _ScriptedError:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int


class ApiError(Exception):
    """An error answer: the HTTP status and the API's ``{"error": {...}}`` object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"message": message, "type": type, "param": param, "code": code}
        self.headers = dict(headers or {})


def _invalid(message: str, param: str | None, code: str | None = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def _one_of(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


# ---------------------------------------------------------------------------------------------
# Validation: raw request -> normalised parameters
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageJob:
    """A validated request, with every default resolved."""

    endpoint: Endpoint
    model: str
    prompt: str
    n: int
    width: int
    height: int
    quality: str  # resolved: never "auto"
    output_format: str
    output_compression: int | None
    transparent: bool
    partial_images: int
    stream: bool
    safety_identifier: str | None
    inputs: tuple[Image.Image, ...] = ()
    mask: Image.Image | None = None

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def background(self) -> str:
        return "transparent" if self.transparent else "opaque"


def _coerce(name: str, value: Any, want: type, multipart: bool) -> Any:
    """Type-check one parameter. Multipart sends everything as text, so parse it there."""
    if multipart:
        if want is int:
            if not re.fullmatch(r"-?\d+", value):
                raise _invalid(f"Invalid type for '{name}': expected an integer, got '{value}'.", name)
            return int(value)
        if want is bool:
            if value not in ("true", "false"):
                raise _invalid(f"Invalid type for '{name}': expected a boolean, got '{value}'.", name)
            return value == "true"
        return value
    # JSON: bool is a subclass of int in Python, but not an integer to the API.
    ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
    if not ok:
        names = {str: "a string", int: "an integer", bool: "a boolean"}
        raise _invalid(
            f"Invalid type for '{name}': expected {names[want]}, but got {type(value).__name__} instead.",
            name,
            "invalid_type",
        )
    return value


def _check_param_names(endpoint: Endpoint, names: list[str], unsupported: Callable[[str], None]) -> None:
    for raw in names:
        name = raw.split("[", 1)[0]  # multipart nests objects as svg[model], svg[reasoning][effort]
        if name in UNMODELLED_PARAMS:
            unsupported(name)
            raise _invalid(f"FakeOpenAI does not implement the parameter '{name}'.", name, "unsupported")
        if name in LEGACY_PARAMS and LEGACY_PARAMS[name] in ("both", endpoint):
            raise _invalid(f"'{name}' is not supported for GPT image models.", name, "unsupported_parameter")
        spec = PARAMS.get(name)
        if spec is None or endpoint not in spec[1] or raw != name:
            raise _invalid(f"Unknown parameter: '{raw}'.", raw, "unknown_parameter")


def _model(params: dict[str, Any]) -> tuple[str, ModelRules]:
    name = params.get("model")
    if name is None:
        raise _invalid("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    if name in RETIRED_MODELS:
        raise ApiError(404, RETIRED_MODELS[name], param="model", code="model_not_found")
    rules = MODELS.get(name)
    if rules is None:
        raise ApiError(
            404,
            f"The model `{name}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    return name, rules


def _prompt(params: dict[str, Any]) -> str:
    prompt = params.get("prompt")
    if prompt is None:
        raise _invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
    if not prompt.strip():
        raise _invalid("Invalid 'prompt': empty string.", "prompt", "empty_string")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise _invalid(
            f"Invalid 'prompt': string too long. Expected a string with maximum length {MAX_PROMPT_CHARS}, "
            f"but got a string with length {len(prompt)} instead.",
            "prompt",
            "string_above_max_length",
        )
    return prompt


def _int_in(params: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if value < low:
        raise _invalid(
            f"Invalid '{name}': integer below minimum value. Expected a value >= {low}, "
            f"but got {value} instead.",
            name,
            "integer_below_min_value",
        )
    if value > high:
        raise _invalid(
            f"Invalid '{name}': integer above maximum value. Expected a value <= {high}, "
            f"but got {value} instead.",
            name,
            "integer_above_max_value",
        )
    return value


def _enum(params: dict[str, Any], name: str, default: str, allowed: tuple[str, ...], model: str) -> str:
    value = params.get(name, default)
    if value not in allowed:
        raise _invalid(
            f"Invalid value for '{name}': '{value}' is not supported with model '{model}'. "
            f"Supported values are: {_one_of(allowed)}.",
            name,
        )
    return value


def parse_size(size: str, model: str, rules: ModelRules) -> tuple[int, int] | None:
    """Validate a size string; None means "auto" (resolved later, it depends on the inputs)."""
    if size == "auto":
        return None
    match = re.fullmatch(r"([1-9]\d{0,5})x([1-9]\d{0,5})", size)
    if match is None:
        raise _invalid(f"Invalid size '{size}'. Expected 'auto' or a 'WIDTHxHEIGHT' string.", "size")
    w, h = int(match[1]), int(match[2])
    if not rules.arbitrary_sizes:
        if (w, h) not in STANDARD_SIZES:
            allowed = (*(f"{a}x{b}" for a, b in STANDARD_SIZES), "auto")
            raise _invalid(
                f"Invalid size '{size}' for model '{model}'. Supported sizes are: {_one_of(allowed)}.",
                "size",
            )
        return w, h
    problem = _arbitrary_size_problem(w, h)
    if problem:
        raise _invalid(f"Invalid size '{size}': {problem}", "size")
    return w, h


def _arbitrary_size_problem(w: int, h: int) -> str | None:
    if w % SIZE_MULTIPLE or h % SIZE_MULTIPLE:
        return f"width and height must both be multiples of {SIZE_MULTIPLE}."
    if max(w, h) / min(w, h) > MAX_RATIO:
        return "the aspect ratio must be between 1:3 and 3:1."
    if max(w, h) > MAX_EDGE:
        return f"the longest edge must be at most {MAX_EDGE} pixels."
    if w * h < MIN_PIXELS:
        return f"the image must have at least {MIN_PIXELS} pixels, got {w * h}."
    if w * h > MAX_PIXELS:
        return f"the image must have at most {MAX_PIXELS} pixels (3840x2160), got {w * h}."
    return None


def _auto_size(rules: ModelRules, inputs: tuple[Image.Image, ...]) -> tuple[int, int]:
    """What "auto" resolves to: 1024x1024 for a generation, the first input's shape for an edit."""
    if not inputs:
        return 1024, 1024
    w, h = inputs[0].size
    if rules.arbitrary_sizes:
        return _fit_arbitrary(w, h)
    # Standard-size models can only pick the standard size closest in aspect ratio.
    return min(STANDARD_SIZES, key=lambda s: abs(math.log((s[0] / s[1]) / (w / h))))


def _fit_arbitrary(w: int, h: int) -> tuple[int, int]:
    """The nearest valid arbitrary size to w x h (identity for sizes that are already valid)."""
    ratio = min(max(w / h, 1 / MAX_RATIO), MAX_RATIO)
    pixels = min(max(w * h, MIN_PIXELS), MAX_PIXELS)
    fw = math.sqrt(pixels * ratio)
    fh = fw / ratio
    scale = min(1.0, MAX_EDGE / max(fw, fh))
    fw, fh = fw * scale, fh * scale
    for rounding in (round, math.floor, math.ceil):
        cw = max(SIZE_MULTIPLE, int(rounding(fw / SIZE_MULTIPLE)) * SIZE_MULTIPLE)
        ch = max(SIZE_MULTIPLE, int(rounding(fh / SIZE_MULTIPLE)) * SIZE_MULTIPLE)
        if _arbitrary_size_problem(cw, ch) is None:
            return cw, ch
    return 1024, 1024


def _decode_input(file: RecordedFile, label: str) -> Image.Image:
    """Check one input image part the way the API does; Pillow work, run it in a thread."""
    if file.content_type not in INPUT_MIMETYPES:
        raise _invalid(
            f"Invalid file '{label}': unsupported mimetype ('{file.content_type}'). "
            f"Supported file formats are {_one_of(INPUT_MIMETYPES)}.",
            "image",
            "invalid_image_format",
        )
    if not file.data:
        raise _invalid(f"Invalid file '{label}': the file is empty.", "image", "empty_image_file")
    if len(file.data) >= MAX_IMAGE_BYTES:
        raise _invalid(
            f"Invalid file '{label}': {len(file.data)} bytes; images must be smaller than 50 MB.",
            "image",
            "image_file_too_large",
        )
    if file.width is None:
        raise _invalid(
            f"Invalid file '{label}': the image could not be decoded.", "image", "image_parse_error"
        )
    return _open(file.data)


def _decode_mask(mask: RecordedFile, first: Image.Image) -> Image.Image:
    if mask.content_type != "image/png" or mask.format != "PNG":
        raise _invalid(
            f"Invalid mask: it must be a PNG file (got mimetype '{mask.content_type}', "
            f"format '{mask.format}').",
            "mask",
            "invalid_image_format",
        )
    if len(mask.data) >= MAX_MASK_BYTES:
        raise _invalid(
            f"Invalid mask: {len(mask.data)} bytes; the mask must be smaller than 4 MB.",
            "mask",
            "image_file_too_large",
        )
    image = _open(mask.data)
    if "A" not in image.getbands() and "transparency" not in image.info:
        raise _invalid(
            f"Invalid mask: it must have an alpha channel (got mode '{image.mode}').",
            "mask",
            "invalid_image_mode",
        )
    if image.size != first.size:
        raise _invalid(
            f"Invalid mask: its dimensions {image.width}x{image.height} do not match the image's "
            f"{first.width}x{first.height}.",
            "mask",
        )
    return image.convert("RGBA")


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _validate_edit_files(files: list[RecordedFile]) -> tuple[tuple[Image.Image, ...], Image.Image | None]:
    parts = [f for f in files if f.field in ("image", "image[]")]
    masks = [f for f in files if f.field == "mask"]
    others = [f.field for f in files if f.field not in ("image", "image[]", "mask")]
    if others:
        raise _invalid(f"Unknown parameter: '{others[0]}'.", others[0], "unknown_parameter")
    if not parts:
        raise _invalid("Missing required parameter: 'image'.", "image", "missing_required_parameter")
    if len(parts) > MAX_INPUT_IMAGES:
        raise _invalid(f"Too many images: got {len(parts)}, at most {MAX_INPUT_IMAGES} are allowed.", "image")
    if len(masks) > 1:
        raise _invalid("Only one 'mask' file may be provided.", "mask")
    labels = ["image"] if len(parts) == 1 else [f"image[{i}]" for i in range(len(parts))]
    inputs = tuple(_decode_input(f, label) for f, label in zip(parts, labels, strict=True))
    mask = _decode_mask(masks[0], inputs[0]) if masks else None
    return inputs, mask


def validate(
    endpoint: Endpoint,
    raw: Mapping[str, Any],
    files: list[RecordedFile],
    unsupported: Callable[[str], None],
) -> ImageJob:
    """Check a request like the API does and resolve its defaults; raises ApiError.

    Blocking (decodes input images with Pillow): call it in a thread.
    """
    multipart = endpoint == "edits"
    _check_param_names(endpoint, list(raw) + [f.field for f in files if f.field == "markup"], unsupported)
    # JSON null means "use the default", as the SDK sends an explicit None as null.
    params = {k: _coerce(k, v, PARAMS[k][0], multipart) for k, v in raw.items() if v is not None}

    model, rules = _model(params)
    prompt = _prompt(params)
    n = _int_in(params, "n", 1, 1, MAX_N)
    size = parse_size(params.get("size", "auto"), model, rules)
    quality = _enum(params, "quality", "auto", rules.qualities, model)
    output_format = params.get("output_format", "png")
    if output_format in ("gif", "svg"):
        unsupported(f"output_format={output_format}")
        raise _invalid(f"FakeOpenAI does not implement output_format '{output_format}'.", "output_format")
    output_format = _enum(params, "output_format", "png", OUTPUT_FORMATS, model)
    background = _enum(params, "background", "auto", BACKGROUNDS, model)
    if background == "transparent" and output_format not in ("png", "webp"):
        raise _invalid(
            f"Transparent background is not supported with output_format '{output_format}'; "
            "use 'png' or 'webp'.",
            "background",
        )
    compression = params.get("output_compression")
    if compression is not None:
        compression = _int_in(params, "output_compression", 100, 0, 100)
        if output_format not in ("webp", "jpeg"):
            raise _invalid(
                f"output_compression is only supported with output_format 'webp' or 'jpeg', "
                f"not '{output_format}'.",
                "output_compression",
            )
    partial_images = _int_in(params, "partial_images", 0, 0, 3)
    _enum(params, "complexity", "medium", ("low", "medium", "high"), model)
    if endpoint == "generations":
        _enum(params, "moderation", "auto", ("low", "auto"), model)
    if "input_fidelity" in params:
        if not rules.input_fidelity:
            raise _invalid(
                f"input_fidelity is not supported for model '{model}'; omit this parameter.",
                "input_fidelity",
                "unsupported_parameter",
            )
        _enum(params, "input_fidelity", "low", rules.input_fidelity, model)

    inputs, mask = _validate_edit_files(files) if endpoint == "edits" else ((), None)
    width, height = size or _auto_size(rules, inputs)
    return ImageJob(
        endpoint=endpoint,
        model=model,
        prompt=prompt,
        n=n,
        width=width,
        height=height,
        quality="medium" if quality == "auto" else quality,
        output_format=output_format,
        output_compression=compression,
        transparent=background == "transparent",
        partial_images=partial_images,
        stream=params.get("stream", False),
        # A non-empty safety_identifier wins over the deprecated user.
        safety_identifier=params.get("safety_identifier") or params.get("user") or None,
        inputs=inputs,
        mask=mask,
    )


# ---------------------------------------------------------------------------------------------
# Rendering and accounting (blocking Pillow work: run in a thread)
# ---------------------------------------------------------------------------------------------


def color_for(request_number: int, index: int) -> tuple[int, int, int]:
    """The fill colour of image ``index`` (0-based) of request ``request_number`` (1-based)."""
    digest = hashlib.sha256(f"fake-openai:{request_number}:{index}".encode()).digest()
    return digest[0], digest[1], digest[2]


def render(job: ImageJob, color: tuple[int, int, int]) -> Image.Image:
    """The final image: a solid colour for a generation, the tinted first input for an edit."""
    size = (job.width, job.height)
    if job.inputs:
        base = job.inputs[0].convert("RGB").resize(size, Image.Resampling.BILINEAR)
        tinted = Image.blend(base, Image.new("RGB", size, color), 0.4)
        if job.mask is not None:
            # Alpha 0 in the mask marks where the edit happens; elsewhere the input is kept.
            alpha = job.mask.getchannel("A").resize(size, Image.Resampling.NEAREST)
            tinted = Image.composite(tinted, base, alpha.point(lambda a: 255 if a == 0 else 0))
        image = tinted
    else:
        image = Image.new("RGB", size, color)
    if job.transparent:
        # An opaque centre on a fully transparent frame, so alpha-0 pixels are guaranteed.
        image = image.convert("RGBA")
        alpha = Image.new("L", size, 0)
        alpha.paste(255, (job.width // 8, job.height // 8, job.width * 7 // 8, job.height * 7 // 8))
        image.putalpha(alpha)
    return image


def partial(final: Image.Image, k: int, total: int) -> Image.Image:
    """Partial k of total: the final image faded towards grey, getting closer at each step."""
    grey = Image.new(final.mode, final.size, (128,) * len(final.getbands()))
    return Image.blend(grey, final, (k + 1) / (total + 1))


def encode_partial(final: Image.Image, k: int, total: int, job: ImageJob) -> bytes:
    return encode(partial(final, k, total), job)


def encode(image: Image.Image, job: ImageJob) -> bytes:
    out = io.BytesIO()
    if job.output_format == "jpeg":
        image.convert("RGB").save(out, format="JPEG", quality=job.output_compression or 95)
    elif job.output_format == "webp":
        image.save(out, format="WEBP", quality=job.output_compression or 100)
    else:
        image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _text_tokens(prompt: str) -> int:
    return max(1, math.ceil(len(prompt) / 4))


def _input_image_tokens(image: Image.Image) -> int:
    return 65 + 129 * math.ceil(image.width / 512) * math.ceil(image.height / 512)


def output_tokens(job: ImageJob) -> int:
    """Output tokens of one image: proportional to its pixels, by quality."""
    return max(16, round(_TOKENS_PER_MEGAPIXEL[job.quality] * job.width * job.height / 1024**2))


def usage(job: ImageJob, images: int, *, with_input: bool = True, details: bool = True) -> dict[str, Any]:
    text = _text_tokens(job.prompt) if with_input else 0
    image_in = sum(_input_image_tokens(im) for im in job.inputs) if with_input else 0
    out = output_tokens(job) * images
    body: dict[str, Any] = {
        "input_tokens": text + image_in,
        "input_tokens_details": {"image_tokens": image_in, "text_tokens": text},
        "output_tokens": out,
        "total_tokens": text + image_in + out,
    }
    if details:  # the completed stream event's usage has no output_tokens_details
        body["output_tokens_details"] = {"image_tokens": out, "text_tokens": 0}
    return body


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------

_ROUTES: dict[tuple[str, str], Endpoint] = {
    ("POST", "/v1/images/generations"): "generations",
    ("POST", "/v1/images/edits"): "edits",
}


class FakeOpenAI:
    """A local, strict OpenAI Images API. Use as ``async with FakeOpenAI() as fake:``."""

    color_for = staticmethod(color_for)

    def __init__(self, *, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.base_url = ""  # set by start()
        self.requests: list[RecordedRequest] = []
        self.unexpected: list[str] = []
        # Seconds to wait before answering each image request (a slow provider).
        self.delay: float = 0.0
        # When set to an Event, image requests wait until it is set (a held provider).
        self.gate: asyncio.Event | None = None
        self._errors: list[_ScriptedError] = []
        self._stream_errors: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> FakeOpenAI:
        await self.start()
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        await self.close()
        if self.unexpected:
            message = "FakeOpenAI received requests it does not serve: " + "; ".join(self.unexpected)
            if exc is None:
                raise AssertionError(message)
            exc.add_note(message)  # don't mask the test's own failure

    async def start(self) -> None:
        # Edits may carry 16 images of up to 50 MB each; aiohttp's default limit is 1 MB.
        app = web.Application(client_max_size=(MAX_INPUT_IMAGES + 1) * MAX_IMAGE_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"

    async def close(self) -> None:
        """Stop the server; requests still held by ``gate`` or ``delay`` are answered 503."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that point the SDK (and the bot) at this server."""
        return {"OPENAI_BASE_URL": self.base_url, "OPENAI_API_KEY": self.api_key}

    # -- views -------------------------------------------------------------------------------

    @property
    def last(self) -> RecordedRequest:
        assert self.requests, "FakeOpenAI has received no image request"
        return self.requests[-1]

    @property
    def generations(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint == "generations"]

    @property
    def edits(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint == "edits"]

    @property
    def returned(self) -> list[list[bytes]]:
        """The final images returned, per request (empty for failed requests)."""
        return [r.returned for r in self.requests]

    # A timeout parameter (not asyncio.timeout) so every call is bounded by default.
    async def wait_for_requests(self, n: int, timeout: float = 5.0) -> RecordedRequest:
        """Wait until at least ``n`` image requests have arrived (parsed); returns the n-th."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.requests) >= n), timeout)
        return self.requests[n - 1]

    # -- scripting ---------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        type: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` valid image requests with this HTTP error.

        Invalid requests are still rejected by validation first and do not use up the script.
        """
        defaults = {
            429: ("rate_limit_exceeded", "Rate limit reached for images per min.", "requests"),
            500: (None, "The server had an error while processing your request.", "server_error"),
            503: (None, "The server is overloaded or not ready yet.", "server_error"),
        }
        d_code, d_message, d_type = defaults.get(status, (None, f"Error {status}", "invalid_request_error"))
        body = {
            "message": message if message is not None else d_message,
            "type": type or d_type,
            "param": param,
            "code": code if code is not None else d_code,
        }
        self._errors.append(_ScriptedError(status, body, dict(headers or {}), times))

    def refuse_next(self, category: str = "violence", *, times: int = 1) -> None:
        """The safety system rejects the next ``times`` valid image requests (HTTP 400)."""
        self.fail_next(
            400,
            code="moderation_blocked",
            type="image_generation_user_error",
            message=f"Your request was rejected by the safety system. safety_violations=[{category}].",
            times=times,
        )

    def stream_error_next(
        self,
        code: str | None = "moderation_blocked",
        message: str = "Your request was rejected by the safety system. safety_violations=[violence].",
        *,
        type: str = "image_generation_user_error",
    ) -> None:
        """The next valid *streaming* request sends one partial image (if it asked for partials)
        and then an ``error`` event instead of completing. Non-streaming requests skip it."""
        self._stream_errors.append({"message": message, "type": type, "param": None, "code": code})

    # -- request handling --------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        endpoint = _ROUTES.get((request.method, request.path))
        if endpoint is None:
            # Strict: a route we don't serve is a bug in the caller (or in this fake).
            self.unexpected.append(f"{request.method} {request.path}")
            error = {
                "message": f"Invalid URL ({request.method} {request.path})",
                "type": "invalid_request_error",
            }
            return _json_error(404, {**error, "param": None, "code": None}, request_id="req_fake_404")
        return await self._handle(endpoint, request)

    async def _handle(self, endpoint: Endpoint, request: web.Request) -> web.StreamResponse:
        rec = RecordedRequest(
            number=len(self.requests) + 1,
            endpoint=endpoint,
            fields={},
            files=[],
            headers={k.lower(): v for k, v in request.headers.items()},
        )
        parse_error: ApiError | None = None
        try:
            if endpoint == "generations":
                rec.fields = await _read_json(request)
            else:
                rec.fields, rec.files = await _read_multipart(request)
        except ApiError as e:
            parse_error = e
        await self._record(rec)

        request_id = f"req_fake_{rec.number:06d}"
        try:
            self._check_auth(rec.headers.get("authorization"))
            if parse_error is not None:
                raise parse_error
            await self._hold()
            job = await asyncio.to_thread(
                validate, endpoint, rec.fields, rec.files, self._unsupported(request)
            )
            self._raise_scripted_error()
        except ApiError as e:
            rec.status, rec.error = e.status, e.body
            return _json_error(e.status, e.body, request_id=request_id, headers=e.headers)

        if job.stream:
            return await self._stream(request, rec, job, request_id)
        return await self._respond(rec, job, request_id)

    async def _record(self, rec: RecordedRequest) -> None:
        async with self._arrived:
            self.requests.append(rec)
            self._arrived.notify_all()

    def _check_auth(self, header: str | None) -> None:
        if header is None:
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization "
                "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                type="invalid_request_error",
            )
        if header != f"Bearer {self.api_key}":
            raise ApiError(
                401, "Incorrect API key provided.", code="invalid_api_key", type="invalid_request_error"
            )

    def _unsupported(self, request: web.Request) -> Callable[[str], None]:
        def note(what: str) -> None:
            self.unexpected.append(f"{request.method} {request.path}: unsupported {what}")

        return note

    async def _hold(self) -> None:
        """Simulate a busy provider: wait for ``gate`` and ``delay``, unless the fake shuts down."""
        if self.gate is not None:
            await _first_of(self.gate.wait(), self._closing.wait())
        if self.delay > 0:
            try:
                await asyncio.wait_for(self._closing.wait(), self.delay)
            except TimeoutError:
                pass
        if self._closing.is_set():
            raise ApiError(503, "FakeOpenAI is shutting down.", type="server_error")

    def _raise_scripted_error(self) -> None:
        if not self._errors:
            return
        scripted = self._errors[0]
        scripted.times -= 1
        if scripted.times <= 0:
            self._errors.pop(0)
        error = ApiError(scripted.status, scripted.body["message"], headers=scripted.headers)
        error.body = dict(scripted.body)
        raise error

    async def _render_all(self, rec: RecordedRequest, job: ImageJob) -> list[Image.Image]:
        rec.colors = [color_for(rec.number, i) for i in range(job.n)]
        return await asyncio.to_thread(lambda: [render(job, c) for c in rec.colors])

    async def _respond(self, rec: RecordedRequest, job: ImageJob, request_id: str) -> web.Response:
        images = await self._render_all(rec, job)
        rec.returned = await asyncio.to_thread(lambda: [encode(im, job) for im in images])
        body: dict[str, Any] = {
            "created": int(time.time()),
            "background": job.background,
            "output_format": job.output_format,
            "quality": job.quality,
            "size": job.size,
            "usage": usage(job, job.n),
        }
        if job.safety_identifier:
            body["safety_identifier"] = job.safety_identifier
        rec.response = dict(body)
        body["data"] = [{"b64_json": _b64(data)} for data in rec.returned]
        rec.status = 200
        return web.json_response(body, headers={"x-request-id": request_id})

    async def _stream(
        self, request: web.Request, rec: RecordedRequest, job: ImageJob, request_id: str
    ) -> web.StreamResponse:
        prefix = "image_generation" if job.endpoint == "generations" else "image_edit"
        error = self._stream_errors.pop(0) if self._stream_errors else None
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "x-request-id": request_id,
            }
        )
        await response.prepare(request)
        rec.status = 200
        images = await self._render_all(rec, job)
        common = {
            "background": job.background,
            "created_at": int(time.time()),
            "output_format": job.output_format,
            "quality": job.quality,
            "size": job.size,
        }
        for i, final in enumerate(images):
            # With an error scripted, the stream breaks after at most one partial image.
            partials = min(job.partial_images, 1) if error else job.partial_images
            for k in range(partials):
                data = await asyncio.to_thread(encode_partial, final, k, partials, job)
                rec.partials.append(data)
                event = {"type": f"{prefix}.partial_image", "b64_json": _b64(data), "partial_image_index": k}
                await _send_event(response, rec, {**event, **common})
            if error:
                rec.error = error
                await _send_event(response, rec, {"error": error}, name="error")
                break
            data = await asyncio.to_thread(encode, final, job)
            rec.returned.append(data)
            # Input tokens are reported once (first image), so summing the events' usage gives
            # the same total as the non-streaming response.
            event = {
                "type": f"{prefix}.completed",
                "b64_json": _b64(data),
                **common,
                "usage": usage(job, 1, with_input=i == 0, details=False),
            }
            if job.safety_identifier:
                event["safety_identifier"] = job.safety_identifier
            await _send_event(response, rec, event)
        await response.write_eof()
        return response


# ---------------------------------------------------------------------------------------------
# Wire helpers
# ---------------------------------------------------------------------------------------------


async def _read_json(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise _invalid(
            f"Invalid Content-Type '{request.content_type}'; expected 'application/json'.", None, None
        )
    try:
        body = json.loads(await request.read())
    except ValueError:
        raise _invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
            "your HTTP library correctly.)",
            None,
            None,
        ) from None
    if not isinstance(body, dict):
        raise _invalid("The JSON body of your request must be an object.", None, None)
    return body


async def _read_multipart(request: web.Request) -> tuple[dict[str, str], list[RecordedFile]]:
    if request.content_type != "multipart/form-data":
        raise _invalid(
            f"Invalid Content-Type '{request.content_type}'; expected 'multipart/form-data'.", None, None
        )
    fields: dict[str, str] = {}
    files: list[RecordedFile] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            raise _invalid("Malformed multipart body: nested or unnamed part.", None, None)
        if part.filename is None:
            if part.name in fields:
                raise _invalid(f"Duplicate parameter: '{part.name}'.", part.name, None)
            fields[part.name] = await part.text()
        else:
            data = bytes(await part.read())
            files.append(await asyncio.to_thread(_recorded_file, part.name, part.filename, part, data))
    return fields, files


def _recorded_file(name: str, filename: str, part: BodyPartReader, data: bytes) -> RecordedFile:
    content_type = part.headers.get("Content-Type")
    file = RecordedFile(name, filename, content_type, data)
    try:
        image = _open(data)
    except Exception:  # anything Pillow cannot read is simply "not an image"
        return file
    file.width, file.height, file.mode, file.format = image.width, image.height, image.mode, image.format
    return file


async def _send_event(
    response: web.StreamResponse, rec: RecordedRequest, payload: dict[str, Any], name: str | None = None
) -> None:
    event = name or payload["type"]
    rec.events.append(event)
    # One-line JSON and a blank line after every event: the SDK drops an unterminated last event.
    await response.write(f"event: {event}\ndata: {json.dumps(payload)}\n\n".encode())


def _json_error(
    status: int, body: dict[str, Any], *, request_id: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": body}, status=status, headers={"x-request-id": request_id, **(headers or {})}
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def _first_of(*aws: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
