"""What the fake keeps: recorded calls, scripted failures and stored files, with small helpers for
file types and image sizes."""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass, field
from typing import Any

# ----------------------------------------------------------------------------------------------
# Records
# ----------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One request seen by the fake (API methods and pseudo-methods upload/download/response_url)."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    status: int = 200
    response: Any = None

    @property
    def ok(self) -> bool:
        return isinstance(self.response, dict) and self.response.get("ok") is True


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    error: str
    times: int


@dataclass
class _Window:
    """A fault for every call until ``until`` (time.monotonic)."""

    status: int
    retry_after: int | None
    error: str
    until: float


@dataclass
class _StoredFile:
    id: str
    name: str
    title: str
    mimetype: str
    filetype: str
    data: bytes | None
    user: str
    created: int
    alt_txt: str | None = None
    declared_length: int | None = None
    completed: bool = False
    size: int | None = None  # what the file object says, when it lies (None: the real size)
    stream_bytes: int | None = None  # serve this many bytes, streamed without Content-Length
    extra: dict[str, Any] = field(default_factory=dict)


def _filetype_for(name: str, mimetype: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext == "jpeg":
        ext = "jpg"
    if ext:
        return ext
    guessed = mimetypes.guess_extension(mimetype) or ""
    return guessed.lstrip(".") or "binary"


def _image_dims(data: bytes | None) -> tuple[int, int] | None:
    if not data:
        return None
    try:
        import io

        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:  # noqa: BLE001 - a fake records whatever it is sent; unreadable bytes have no size
        return None


def _loads_maybe(value: Any) -> Any:
    """Form/query-encoded arrays and objects (blocks, files, view) arrive as JSON strings."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
