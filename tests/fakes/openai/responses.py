"""The fake's ``POST /v1/responses``: a vision-capable text model, as /describe uses it.

It validates what the real API documents for the parts it models (``model``; ``input`` as a
string or messages whose content is ``input_text`` / ``input_image`` parts; an ``input_image`` as
a base64 data URL of a real image, with ``detail``; ``text.format``; ``max_output_tokens``;
``safety_identifier``) and answers 400 with the API's error body otherwise. What it does not model
(streaming, tools, images by URL or file id, other input item types) is recorded in
``fake.unexpected`` and answered 400, like every unknown route.

The answer is deterministic and says what it saw: for each request, ``prompt_count`` prompts
(JSON ``{"prompts": [...]}`` when ``text.format`` is a json_schema or json_object, else a
numbered list) naming the first image's size and its average colour as ``#rrggbb``, so a test
can tell that the image really went through. ``answer_next(text)`` scripts the next output text
(a malformed answer); ``fail_next(...)`` the next HTTP error; ``gate`` holds calls (a slow model). Every call is kept in ``calls``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image, UnidentifiedImageError

from .records import ApiError, _invalid
from .wire import _json_error, _read_json

_KNOWN = frozenset(
    {
        "model", "input", "instructions", "max_output_tokens", "text", "store", "safety_identifier",
        "user", "metadata", "temperature", "top_p", "reasoning", "truncation", "parallel_tool_calls",
        "include", "service_tier", "prompt_cache_key", "previous_response_id",
    }
)  # fmt: skip
_NOT_MODELLED = frozenset({"stream", "tools", "tool_choice", "conversation", "background", "prompt"})
_DETAILS = ("low", "high", "auto", "original")
_ROLES = ("user", "assistant", "system", "developer")
_DATA_URL = re.compile(r"data:(image/(?:png|jpeg|webp|gif));base64,(.*)", re.DOTALL)
_FORMAT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass
class ResponseCall:
    """One ``POST /v1/responses`` as received, and what the fake answered."""

    number: int
    body: dict[str, Any]
    headers: dict[str, str]
    status: int | None = None
    error: dict[str, Any] | None = None
    texts: list[str] = field(default_factory=list)  # input_text parts, in order
    images: list[bytes] = field(default_factory=list, repr=False)  # input_image data, decoded
    image_sizes: list[tuple[int, int]] = field(default_factory=list)
    output_text: str = ""
    usage: dict[str, Any] | None = None

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))


class ResponsesEndpoint:
    """State and handler of ``/v1/responses``; the server routes to ``handle``."""

    def __init__(self, unexpected: list[str]) -> None:
        self.unexpected = unexpected  # shared with the server: leaving the fake fails on any
        self.calls: list[ResponseCall] = []
        self.prompt_count = 4
        self.gate: asyncio.Event | None = None  # when set to an Event, calls wait for it (a slow model)
        self._answers: list[str] = []
        self._errors: list[ApiError] = []
        self._arrived = asyncio.Condition()

    # -- scripting ---------------------------------------------------------------------------
    def answer_next(self, text: str) -> None:
        """The next valid call answers with this output text instead of the prompts."""
        self._answers.append(text)

    def fail_next(
        self, status: int, message: str = "The server had an error.", *, code: str | None = None
    ) -> None:
        error = ApiError(
            status, message, code=code, type="server_error" if status >= 500 else "invalid_request_error"
        )
        if status >= 500:
            error.headers["x-should-retry"] = "false"  # one call, one answer: no SDK retries
        self._errors.append(error)

    async def wait_for_calls(self, n: int, timeout: float = 5.0) -> ResponseCall:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.calls) >= n), timeout)
        return self.calls[n - 1]

    # -- handling ----------------------------------------------------------------------------
    async def handle(self, request: web.Request, check_auth: Callable[[str | None], None]) -> web.Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        call = ResponseCall(number=len(self.calls) + 1, body={}, headers=headers)
        request_id = f"req_fake_resp_{call.number:06d}"
        try:
            check_auth(headers.get("authorization"))
            call.body = await _read_json(request)
            async with self._arrived:
                self.calls.append(call)
                self._arrived.notify_all()
            await asyncio.to_thread(self._validate, call, f"{request.method} {request.path}")
            if self.gate is not None:
                await asyncio.wait_for(self.gate.wait(), 30)
            if self._errors:
                raise self._errors.pop(0)
        except ApiError as error:
            if call not in self.calls:
                async with self._arrived:
                    self.calls.append(call)
                    self._arrived.notify_all()
            call.status, call.error = error.status, error.body
            return _json_error(error.status, error.body, request_id=request_id, headers=error.headers)
        call.output_text = self._answers.pop(0) if self._answers else self._prompts(call)
        call.usage = _usage(call)
        call.status = 200
        return web.json_response(_response_body(call), headers={"x-request-id": request_id})

    def _validate(self, call: ResponseCall, route: str) -> None:
        body = call.body
        for key in body:
            if key in _NOT_MODELLED:
                self.unexpected.append(f"{route}: unsupported {key}")
                raise _invalid(f"The fake does not model '{key}'.", key, "unsupported_parameter")
            if key not in _KNOWN:
                raise _invalid(f"Unknown parameter: '{key}'.", key, "unknown_parameter")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _invalid("Missing required parameter: 'model'.", "model", "missing_required_parameter")
        if "input" not in body:
            raise _invalid("Missing required parameter: 'input'.", "input", "missing_required_parameter")
        self._read_input(call, body["input"], route)
        limit = body.get("max_output_tokens")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 16):
            raise _invalid(
                f"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got {limit} instead.",
                "max_output_tokens",
                "integer_below_min_value",
            )
        ident = body.get("safety_identifier")
        if ident is not None and (not isinstance(ident, str) or len(ident) > 128):
            raise _invalid("Invalid 'safety_identifier': string too long (at most 128).", "safety_identifier")
        _check_text_format(body.get("text"))

    def _read_input(self, call: ResponseCall, value: Any, route: str) -> None:
        if isinstance(value, str):
            call.texts.append(value)
            return
        if not isinstance(value, list) or not value:
            raise _invalid(
                "Invalid 'input': expected a string or a non-empty array.", "input", "invalid_type"
            )
        for i, item in enumerate(value):
            where = f"input[{i}]"
            if not isinstance(item, Mapping) or item.get("type", "message") != "message":
                self.unexpected.append(f"{route}: unsupported input item {str(item)[:60]}")
                raise _invalid(f"The fake models only message items ({where}).", where)
            if item.get("role") not in _ROLES:
                raise _invalid(f"Invalid value for '{where}.role': {item.get('role')!r}.", f"{where}.role")
            content = item.get("content")
            if isinstance(content, str):
                call.texts.append(content)
                continue
            if not isinstance(content, list) or not content:
                raise _invalid(
                    f"Invalid '{where}.content': expected a string or an array.", f"{where}.content"
                )
            for k, part in enumerate(content):
                self._read_part(call, part, f"{where}.content[{k}]", route)

    def _read_part(self, call: ResponseCall, part: Any, where: str, route: str) -> None:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "input_text":
            if not isinstance(part.get("text"), str):
                raise _invalid(f"Missing required parameter: '{where}.text'.", f"{where}.text")
            call.texts.append(part["text"])
            return
        if kind != "input_image":
            self.unexpected.append(f"{route}: unsupported content part {kind!r}")
            raise _invalid(f"Invalid value for '{where}.type': {kind!r}.", f"{where}.type")
        if part.get("detail") not in _DETAILS:
            raise _invalid(
                f"Invalid value for '{where}.detail': expected one of {', '.join(_DETAILS)}.",
                f"{where}.detail",
            )
        url = part.get("image_url")
        if not isinstance(url, str) or not url.startswith("data:"):
            self.unexpected.append(f"{route}: input_image by URL or file id")
            raise _invalid(f"The fake reads only data URLs in '{where}.image_url'.", f"{where}.image_url")
        found = _DATA_URL.fullmatch(url)
        if found is None:
            raise _invalid(
                f"Invalid '{where}.image_url': not a base64 image data URL.",
                f"{where}.image_url",
                "invalid_image_url",
            )
        try:
            data = base64.b64decode(found.group(2), validate=True)
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                size = image.size
        except (binascii.Error, ValueError):
            raise _invalid(
                "Invalid base64 image data.", f"{where}.image_url", "invalid_base64_image"
            ) from None
        except (UnidentifiedImageError, OSError):
            raise _invalid(
                "The image data is not a valid image.", f"{where}.image_url", "invalid_image"
            ) from None
        call.images.append(data)
        call.image_sizes.append(size)

    def _prompts(self, call: ResponseCall) -> str:
        """What the fake model "sees": the first image's size and average colour (else the text)."""
        if call.images:
            with Image.open(io.BytesIO(call.images[0])) as image:
                r, g, b = image.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
            width, height = call.image_sizes[0]
            seen = f"a {width}x{height} picture mostly #{r:02x}{g:02x}{b:02x}"
        else:
            seen = "nothing in particular"
        prompts = [f"Prompt {k}: {seen}, style {k}" for k in range(1, self.prompt_count + 1)]
        fmt = ((call.body.get("text") or {}).get("format") or {}).get("type")
        if fmt in ("json_schema", "json_object"):
            return json.dumps({"prompts": prompts})
        return "\n".join(f"{k}. {p}" for k, p in enumerate(prompts, 1))


def _check_text_format(text: Any) -> None:
    if text is None:
        return
    fmt = text.get("format") if isinstance(text, Mapping) else None
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise _invalid(f"Invalid value for 'text.format.type': {kind!r}.", "text.format.type")
    if kind == "json_schema":
        if not isinstance(fmt.get("name"), str) or not _FORMAT_NAME.fullmatch(fmt["name"]):
            raise _invalid(
                "Invalid 'text.format.name': a-z, A-Z, 0-9, _ and -, at most 64.", "text.format.name"
            )
        if not isinstance(fmt.get("schema"), Mapping):
            raise _invalid("Missing required parameter: 'text.format.schema'.", "text.format.schema")


def _usage(call: ResponseCall) -> dict[str, Any]:
    text_in = sum(math.ceil(len(t) / 4) for t in call.texts) + math.ceil(
        len(str(call.body.get("instructions") or "")) / 4
    )
    image_in = sum(85 + 170 * math.ceil(w / 512) * math.ceil(h / 512) for w, h in call.image_sizes)
    out = max(1, math.ceil(len(call.output_text) / 4))
    return {
        "input_tokens": text_in + image_in,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": out,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": text_in + image_in + out,
    }


def _response_body(call: ResponseCall) -> dict[str, Any]:
    body = call.body
    return {
        "id": f"resp_fake_{call.number:06d}",
        "object": "response",
        "created_at": time.time(),
        "status": "completed",
        "model": body["model"],
        "output": [
            {
                "type": "message",
                "id": f"msg_fake_{call.number:06d}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": call.output_text, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "store": body.get("store", True),
        "safety_identifier": body.get("safety_identifier"),
        "text": body.get("text") or {"format": {"type": "text"}},
        "usage": call.usage,
    }
