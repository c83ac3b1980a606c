"""Pillow helpers: safe decoding of uploads, encoding, grids, fitting under upload limits, masks.

Every function here is synchronous and CPU-bound; async callers run them through `offload`, in
the imaging pool (`pool`: threads sized to the machine), so the event loop never stalls.

Untrusted bytes go through `decode_upload` (and `mask_from_upload`), which raise `BotError`s with
messages meant for the person who sent the file. Everything else works on our own, already
validated images and raises `ValueError` for programming errors.

Callers use the names below (`from bot import imaging; imaging.make_grid(...)`); the modules
behind them each do one job:

- `reading`: what format bytes really are, their header, their pixels;
- `uploads`: validating untrusted uploads and stripping their metadata;
- `encoding`: PNG/WebP/JPEG output and the alpha questions it depends on;
- `fitting`: re-encoding under an upload limit;
- `grids`: the numbered preview grid;
- `outpainting`: the canvas and mask for zoom-out;
- `fonts`: the font every drawn label uses;
- `pool`: the bounded thread pool the work above runs in.
"""

from bot.imaging.encoding import (
    DEFAULT_QUALITY,
    alpha_low,
    encode,
    has_transparency,
    resample,
    to_png,
)
from bot.imaging.fitting import Fitted, fit_under
from bot.imaging.fonts import load_font
from bot.imaging.grids import GRID_EXTENSION, GRID_MIME, grid_columns, make_grid
from bot.imaging.outpainting import outpaint_inputs
from bot.imaging.pool import offload
from bot.imaging.reading import load_image, probe
from bot.imaging.uploads import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    DecodedImage,
    decode_upload,
    mask_from_upload,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_QUALITY",
    "GRID_EXTENSION",
    "GRID_MIME",
    "DecodedImage",
    "Fitted",
    "alpha_low",
    "decode_upload",
    "encode",
    "fit_under",
    "grid_columns",
    "has_transparency",
    "load_font",
    "load_image",
    "make_grid",
    "mask_from_upload",
    "offload",
    "outpaint_inputs",
    "probe",
    "resample",
    "to_png",
]
