"""The canvas and mask an outpainting (zoom-out) request sends to the model."""

from __future__ import annotations

from PIL import Image

from bot.domain import Placement
from bot.imaging.encoding import encode
from bot.imaging.reading import load_image


def outpaint_inputs(data: bytes, placement: Placement) -> tuple[bytes, bytes]:
    """The (canvas, mask) PNG pair for outpainting `data` onto a larger canvas.

    The canvas is RGBA: the image, resized (Lanczos) to the inner size, pasted at (x, y), the
    rest fully transparent. The mask has alpha 255 over the pasted image and alpha 0 where the
    model should paint ("fully transparent areas indicate where the image should be edited").
    """
    p = placement
    if p.inner_width <= 0 or p.inner_height <= 0:
        raise ValueError(f"bad inner size {p.inner_width}x{p.inner_height}")
    if p.x < 0 or p.y < 0 or p.x + p.inner_width > p.canvas_width or p.y + p.inner_height > p.canvas_height:
        raise ValueError(f"placement {p} does not fit inside its canvas")
    im = load_image(data).convert("RGBA")
    inner = im.resize((p.inner_width, p.inner_height), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (p.canvas_width, p.canvas_height), (0, 0, 0, 0))
    canvas.paste(inner, (p.x, p.y))
    mask = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    mask.paste((255, 255, 255, 255), (p.x, p.y, p.x + p.inner_width, p.y + p.inner_height))
    return encode(canvas, "png"), encode(mask, "png")
