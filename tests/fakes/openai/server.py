"""The fake OpenAI server: routes, scripting (errors, refusals, delay, gate), JSON and SSE replies."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from PIL import Image

from .records import ApiError, RecordedRequest, _ScriptedError
from .rendering import ImagePool, color_for, final_bytes, partial_bytes, render, usage
from .responses import ResponsesEndpoint
from .rules import API_KEY, MAX_IMAGE_BYTES, MAX_INPUT_IMAGES, Endpoint
from .validators import ImageJob, validate
from .wire import _b64, _first_of, _json_error, _read_json, _read_multipart, _send_event

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

    def __init__(self, *, api_key: str = API_KEY, backlog: int = 128) -> None:
        self.api_key = api_key
        # Connections waiting to be accepted (aiohttp's default). A benchmark opening hundreds at
        # once needs more: the kernel drops those past it and the client tries again 1 s later.
        self.backlog = backlog
        self.base_url = ""  # set by start()
        self.requests: list[RecordedRequest] = []
        self.unexpected: list[str] = []
        # POST /v1/responses (/describe's text model): its own calls and scripting, kept apart
        # from the image requests above (see responses.py).
        self.responses = ResponsesEndpoint(self.unexpected)
        # Seconds to wait before answering each image request (a slow provider).
        self.delay: float = 0.0
        # When set to an Event, image requests wait until it is set (a held provider).
        self.gate: asyncio.Event | None = None
        # Benchmarks only: non-streaming replies come from pre-rendered images (see ImagePool).
        self.pool: ImagePool | None = None
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
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=self.backlog)
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
        if (request.method, request.path) == ("POST", "/v1/responses"):
            return await self.responses.handle(request, self._check_auth)
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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.delay)
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

    async def _render_all(self, rec: RecordedRequest, job: ImageJob) -> list[Image.Image | None]:
        """The request's final images: each an edit's render, or None for a generation's (a
        colour alone, whose encoded bytes `final_bytes` and `partial_bytes` keep)."""
        rec.colors = [color_for(rec.number, i) for i in range(job.n)]
        if not job.inputs:
            return [None] * job.n
        return await asyncio.to_thread(lambda: [render(job, c) for c in rec.colors])

    async def _respond(self, rec: RecordedRequest, job: ImageJob, request_id: str) -> web.Response:
        pooled = await asyncio.to_thread(self.pool.take, job) if self.pool is not None else None
        if pooled is not None:
            rec.returned = [image.data for image in pooled]
        else:
            images = await self._render_all(rec, job)
            rec.returned = await asyncio.to_thread(
                lambda: [final_bytes(job, c, im) for c, im in zip(rec.colors, images, strict=True)]
            )
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
        rec.status = 200
        headers = {"x-request-id": request_id}
        if pooled is not None:
            reply = ImagePool.reply_body(body, pooled)
            return web.Response(body=reply, content_type="application/json", headers=headers)
        body["data"] = [{"b64_json": _b64(data)} for data in rec.returned]
        return web.json_response(body, headers=headers)

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
        for i, (color, final) in enumerate(zip(rec.colors, images, strict=True)):
            # With an error scripted, the stream breaks after at most one partial image.
            partials = min(job.partial_images, 1) if error else job.partial_images
            for k in range(partials):
                data = await asyncio.to_thread(partial_bytes, job, color, final, k, partials)
                rec.partials.append(data)
                event = {"type": f"{prefix}.partial_image", "b64_json": _b64(data), "partial_image_index": k}
                await _send_event(response, rec, {**event, **common})
            if error:
                rec.error = error
                await _send_event(response, rec, {"error": error}, name="error")
                break
            data = await asyncio.to_thread(final_bytes, job, color, final)
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
