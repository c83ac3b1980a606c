"""Rendering and accounting: the images returned (blocking Pillow work: run in a thread) and the
usage figures that go with them."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import itertools
import json
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image

from .rules import _TOKENS_PER_MEGAPIXEL
from .validators import ImageJob

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
    if not job.inputs:
        return _solid(size, color, job.transparent)
    base = job.inputs[0].convert("RGB").resize(size, Image.Resampling.BILINEAR)
    tinted = Image.blend(base, Image.new("RGB", size, color), 0.4)
    if job.mask is not None:
        # Alpha 0 in the mask marks where the edit happens; elsewhere the input is kept.
        alpha = job.mask.getchannel("A").resize(size, Image.Resampling.NEAREST)
        tinted = Image.composite(tinted, base, alpha.point(lambda a: 255 if a == 0 else 0))
    return _with_frame(tinted) if job.transparent else tinted


def _solid(size: tuple[int, int], color: tuple[int, int, int], transparent: bool) -> Image.Image:
    image = Image.new("RGB", size, color)
    return _with_frame(image) if transparent else image


def _with_frame(image: Image.Image) -> Image.Image:
    """An opaque centre on a fully transparent frame, so alpha-0 pixels are guaranteed."""
    width, height = image.size
    image = image.convert("RGBA")
    alpha = Image.new("L", image.size, 0)
    alpha.paste(255, (width // 8, height // 8, width * 7 // 8, height * 7 // 8))
    image.putalpha(alpha)
    return image


def partial(final: Image.Image, k: int, total: int) -> Image.Image:
    """Partial k of total: the final image faded towards grey, getting closer at each step."""
    grey = Image.new(final.mode, final.size, (128,) * len(final.getbands()))
    return Image.blend(grey, final, (k + 1) / (total + 1))


def final_bytes(job: ImageJob, color: tuple[int, int, int], final: Image.Image | None) -> bytes:
    """The encoded final image; `final` is the rendered edit, None for a generation."""
    if final is None:
        return _generation_bytes(job.width, job.height, color, *_encoding(job), step=None)
    return encode(final, job)


def partial_bytes(
    job: ImageJob, color: tuple[int, int, int], final: Image.Image | None, k: int, total: int
) -> bytes:
    """Partial image k of total, encoded; `final` as for `final_bytes`."""
    if final is None:
        return _generation_bytes(job.width, job.height, color, *_encoding(job), step=(k, total))
    return encode(partial(final, k, total), job)


def _encoding(job: ImageJob) -> tuple[str, int | None, bool]:
    return job.output_format, job.output_compression, job.transparent


# A generation is a colour alone, so its bytes are the same whenever the colour, size and format
# are. Colours follow the request's number in its fake, so every test's first requests ask for the
# same few: kept once per process, they cost the suite no encoding after the first (a 1024x1024
# PNG is about 10 ms to encode, and about 15 kB to keep).
@functools.lru_cache(maxsize=512)
def _generation_bytes(
    width: int,
    height: int,
    color: tuple[int, int, int],
    output_format: str,
    compression: int | None,
    transparent: bool,
    *,
    step: tuple[int, int] | None,
) -> bytes:
    image = _solid((width, height), color, transparent)
    if step is not None:
        image = partial(image, *step)
    return encode_as(image, output_format, compression)


def encode(image: Image.Image, job: ImageJob) -> bytes:
    return encode_as(image, job.output_format, job.output_compression)


def encode_as(image: Image.Image, output_format: str, compression: int | None = None) -> bytes:
    out = io.BytesIO()
    if output_format == "jpeg":
        image.convert("RGB").save(out, format="JPEG", quality=compression or 95)
    elif output_format == "webp":
        image.save(out, format="WEBP", quality=compression or 100)
    else:
        image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


@dataclass(frozen=True)
class PooledImage:
    data: bytes  # the encoded image
    item: bytes  # its entry in a reply's "data" list, JSON-encoded once: {"b64_json": "..."}


class ImagePool:
    """Pre-rendered final images, for benchmarks: off unless ``FakeOpenAI.pool`` is set.

    Rendering per request costs the fake real CPU (about 10 ms for a solid 1024² PNG, 115 ms for a
    noisy one), which a benchmark would count against whatever shares the machine. A pool renders
    ``size`` images once per (width, height, format), encoded and base64-encoded in their JSON
    entry, and hands them out in turn, so a reply costs ~0 (``reply_body``). ``kind="noisy"``
    gives random pixels, which compress like real model output (about 3 MB as a 1024² PNG);
    ``"solid"`` gives the usual colours. Pool images ignore inputs, masks, background and
    compression, and do not follow ``color_for``. Only non-streaming replies use the pool.
    Thread-safe: the first request of a size renders it (or call ``warm`` first).
    """

    def __init__(self, kind: Literal["solid", "noisy"] = "noisy", size: int = 8) -> None:
        self.kind = kind
        self.size = size
        self._sets: dict[tuple[int, int, str], list[PooledImage]] = {}
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def warm(self, width: int, height: int, output_format: str = "png") -> None:
        """Render the set for this size and format now, before any request needs it."""
        self._set(width, height, output_format)

    def take(self, job: ImageJob) -> list[PooledImage]:
        """``job.n`` images of the job's size and format, the pool's next ones in turn."""
        images = self._set(job.width, job.height, job.output_format)
        return [images[next(self._turn) % len(images)] for _ in range(job.n)]

    @staticmethod
    def reply_body(fields: dict[str, Any], images: Sequence[PooledImage]) -> bytes:
        """The JSON reply: ``fields`` and a ``data`` list spliced from the images' ready entries
        (encoding megabytes of base64 per reply would cost the fake more than its client)."""
        head = json.dumps(fields).encode()
        data = b'"data": [' + b", ".join(image.item for image in images) + b"]}"
        return head[:-1] + (b", " if fields else b"") + data

    def _set(self, width: int, height: int, output_format: str) -> list[PooledImage]:
        key = (width, height, output_format)
        with self._lock:
            if key not in self._sets:
                self._sets[key] = [self._render(width, height, output_format, i) for i in range(self.size)]
            return self._sets[key]

    def _render(self, width: int, height: int, output_format: str, index: int) -> PooledImage:
        if self.kind == "noisy":
            image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
        else:
            image = Image.new("RGB", (width, height), color_for(0, index))
        data = encode_as(image, output_format)
        item = json.dumps({"b64_json": base64.b64encode(data).decode("ascii")}).encode()
        return PooledImage(data, item)


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
