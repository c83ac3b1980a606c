"""Validation: a raw request (JSON or multipart) becomes normalised parameters, or the API's 400."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

from .records import ApiError, RecordedFile, _invalid, _one_of
from .rules import (
    BACKGROUNDS,
    INPUT_MIMETYPES,
    LEGACY_PARAMS,
    MAX_EDGE,
    MAX_IMAGE_BYTES,
    MAX_INPUT_IMAGES,
    MAX_MASK_BYTES,
    MAX_N,
    MAX_PIXELS,
    MAX_PROMPT_CHARS,
    MAX_RATIO,
    MIN_PIXELS,
    MODELS,
    OUTPUT_FORMATS,
    PARAMS,
    RETIRED_MODELS,
    SIZE_MULTIPLE,
    STANDARD_SIZES,
    UNMODELLED_PARAMS,
    Endpoint,
    ModelRules,
)

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
