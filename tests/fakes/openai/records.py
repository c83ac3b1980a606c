"""What the fake records of each request (its parameters and files) and the API's errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .rules import Endpoint

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
