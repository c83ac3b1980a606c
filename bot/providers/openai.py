"""The OpenAI Images API provider (generate and edit, streaming partial images when asked)."""

from __future__ import annotations

import asyncio
import base64
import functools
import io
import logging
import re
import ssl
from typing import Any

import httpx2  # the SDK's own HTTP library (a dependency of openai)
import openai
from openai.types import ImagesResponse
from PIL import Image

from bot.config import DEFAULT_TEXT_MODEL
from bot.domain import Usage
from bot.errors import BotError, ErrorKind
from bot.model_catalog import model_info
from bot.providers import openai_describe
from bot.providers.base import (
    Descriptions,
    GeneratedImage,
    InputImage,
    OnPartial,
    ProviderRequest,
    ProviderResult,
)

log = logging.getLogger(f"imagebot.{__name__}")

# Responses read and decoded at once. A response of four real-size images is ~17 MB of JSON, and
# its images ~12 MB once decoded: reading them all as they arrive would hold every one of them
# at the same time (hundreds of MB for a burst) while two cores decode them anyway. The others
# wait, unread, in their sockets.
RESPONSES_DECODED_AT_ONCE = 2

_SAFETY_CODES = {"moderation_blocked", "content_policy_violation", "image_content_policy_violation"}
_CATEGORIES = re.compile(r"safety_violations=\[([^\]]*)\]")


@functools.cache
def tls_settings() -> ssl.SSLContext:
    """The SDK's own TLS settings (its HTTP library's defaults: the platform's trusted roots),
    built once per process. Building them reads every trusted certificate, about 30 ms of CPU,
    and each client would build its own (the test suite makes hundreds of clients)."""
    return httpx2.create_ssl_context()


class OpenAIProvider:
    name = "openai"
    charges = True
    label: str | None = None

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: float = 300.0,
        max_retries: int = 3,
        moderation: str = "auto",
        partial_images: int = 2,
        text_model: str = DEFAULT_TEXT_MODEL,
    ) -> None:
        self.client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            timeout=timeout,
            max_retries=max_retries,
            http_client=openai.DefaultAsyncHttpxClient(verify=tls_settings()),
        )
        self.moderation = moderation
        self.partial_images = partial_images
        self.text_model = text_model  # /describe's vision-capable model (Responses API)
        self._decoding = asyncio.Semaphore(RESPONSES_DECODED_AT_ONCE)

    async def close(self) -> None:
        await self.client.close()

    async def describe(
        self, image: InputImage, n: int, *, safety_identifier: str | None = None
    ) -> Descriptions:
        """`n` prompt suggestions for an image from the text model (bot.providers.base.Describer)."""
        return await openai_describe.describe(
            self.client, self.text_model, image, n, safety_identifier, _classify
        )

    async def run(self, request: ProviderRequest, on_partial: OnPartial | None = None) -> ProviderResult:
        params = self._params(request)
        info = model_info(request.options.model)
        stream = on_partial is not None and self.partial_images > 0 and (info is None or info.streaming)
        try:
            if stream and on_partial is not None:  # stream implies on_partial; said again for the type
                return await self._streamed(request, params, on_partial)
            return await self._whole(request, params)
        except openai.APIError as error:
            raise _classify(error) from None

    async def _whole(self, request: ProviderRequest, params: dict[str, Any]) -> ProviderResult:
        """A non-streamed call. Its body is read only when a decoding place is free, and parsed
        (JSON, base64, each image's header) in a thread: megabytes of it would stall the loop."""
        images_api = self.client.images.with_streaming_response
        call = images_api.generate if request.kind == "generate" else images_api.edit
        async with call(**params) as response, self._decoding:
            body = await response.read()
            images, usage = await asyncio.to_thread(_parse_images, body)
        if len(images) != request.options.n:
            log.warning("asked for %d images, the API returned %d", request.options.n, len(images))
        if not images:
            raise BotError(ErrorKind.UNAVAILABLE, "OpenAI answered without any image; please try again.")
        return ProviderResult(images=images, usage=usage)

    def _params(self, request: ProviderRequest) -> dict[str, Any]:
        options = request.options
        params: dict[str, Any] = {
            "model": options.model,  # always explicit: the API has no safe default
            "prompt": request.prompt,
            "n": options.n,
            "size": options.size,
            "quality": options.quality,
            "output_format": options.output_format,
        }
        if options.background != "auto":
            params["background"] = options.background
        if options.compression is not None:
            params["output_compression"] = options.compression
        if request.safety_identifier:
            params["safety_identifier"] = request.safety_identifier
        if request.kind == "generate":
            params["moderation"] = self.moderation
        else:
            if not request.images:
                raise BotError(ErrorKind.INTERNAL, "an edit needs at least one image")
            # (filename, bytes, mime): bare bytes would go out as application/octet-stream,
            # which the API rejects. A list always sends image[] parts, the primary image first.
            params["image"] = [(img.filename, img.data, img.mime) for img in request.images]
            if request.mask is not None:
                params["mask"] = (request.mask.filename, request.mask.data, request.mask.mime)
        return params

    async def _streamed(
        self, request: ProviderRequest, params: dict[str, Any], on_partial: OnPartial
    ) -> ProviderResult:
        call = self.client.images.generate if request.kind == "generate" else self.client.images.edit
        stream = await call(**params, stream=True, partial_images=self.partial_images)
        images: list[GeneratedImage] = []
        usage: Usage | None = None
        async with stream:
            async for event in stream:
                kind = getattr(event, "type", "")
                if kind.endswith(".partial_image") and event.b64_json:
                    await on_partial(await asyncio.to_thread(base64.b64decode, event.b64_json))
                elif kind.endswith(".completed") and event.b64_json:
                    # The stream names no image index: completed events arrive in the set's order.
                    images.append(await asyncio.to_thread(_image, event.b64_json, None))
                    step = _usage(getattr(event, "usage", None))
                    if step is not None:
                        usage = step if usage is None else usage + step
        if not images:
            raise BotError(ErrorKind.UNAVAILABLE, "OpenAI's stream ended without an image; please try again.")
        return ProviderResult(images=tuple(images), usage=usage)


def _parse_images(body: bytes) -> tuple[tuple[GeneratedImage, ...], Usage | None]:
    """The images and usage of an Images API response body (in a worker thread)."""
    try:
        parsed = ImagesResponse.model_validate_json(body)
    except ValueError:
        raise BotError(
            ErrorKind.UNAVAILABLE, "OpenAI's answer could not be read; please try again."
        ) from None
    images = tuple(_image(item.b64_json, item.revised_prompt) for item in parsed.data or [])
    return images, _usage(parsed.usage)


def _image(b64: str | None, revised_prompt: str | None) -> GeneratedImage:
    if not b64:
        raise BotError(ErrorKind.UNAVAILABLE, "OpenAI returned an empty image; please try again.")
    data = base64.b64decode(b64)
    with Image.open(io.BytesIO(data)) as img:
        mime = Image.MIME.get(img.format or "", "image/png")
        width, height = img.size
    return GeneratedImage(data=data, mime=mime, width=width, height=height, revised_prompt=revised_prompt)


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    details = getattr(raw, "input_tokens_details", None)
    return Usage(
        input_tokens=raw.input_tokens or 0,
        input_text_tokens=getattr(details, "text_tokens", 0) or 0,
        input_image_tokens=getattr(details, "image_tokens", 0) or 0,
        output_tokens=raw.output_tokens or 0,
    )


def _classify(error: openai.APIError) -> BotError:
    """Map an SDK error to a user-facing kind and a message a person understands."""
    message = getattr(error, "message", "") or str(error)
    code = getattr(error, "code", None)
    if code in _SAFETY_CODES or "safety system" in message.lower():
        match = _CATEGORIES.search(message)
        category = match.group(1).strip() if match and match.group(1).strip() else None
        text = "OpenAI's safety system declined this request"
        text += f" (category: {category})." if category else "."
        text += " Try rephrasing the prompt; nothing was charged to your quota."
        return BotError(ErrorKind.REFUSED, text, category=category)
    if isinstance(error, openai.RateLimitError):
        return BotError(
            ErrorKind.RATE_LIMITED, "OpenAI is rate-limiting the bot right now; retried and still busy."
        )
    if isinstance(error, openai.APITimeoutError):
        return BotError(ErrorKind.UNAVAILABLE, "OpenAI took too long to answer, even after retries.")
    if isinstance(error, openai.APIConnectionError):
        return BotError(ErrorKind.UNAVAILABLE, "The bot could not reach OpenAI, even after retries.")
    if isinstance(error, openai.InternalServerError):
        return BotError(ErrorKind.UNAVAILABLE, "OpenAI is having trouble right now (server error).")
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return BotError(
            ErrorKind.INTERNAL, "OpenAI rejected the bot's credentials; an admin should check OPENAI_API_KEY."
        )
    if isinstance(error, openai.BadRequestError | openai.NotFoundError | openai.UnprocessableEntityError):
        detail = message.split(" - ", 1)[-1]
        return BotError(ErrorKind.INVALID_INPUT, f"OpenAI rejected the request: {detail}")
    if isinstance(error, openai.APIStatusError):
        return BotError(ErrorKind.UNAVAILABLE, f"OpenAI answered with an error ({error.status_code}).")
    return BotError(ErrorKind.UNAVAILABLE, f"OpenAI reported an error while streaming: {message}")
