"""Wire helpers: reading JSON and multipart bodies, SSE events and error bodies."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Mapping
from typing import Any

from aiohttp import BodyPartReader, web

from .records import RecordedFile, RecordedRequest, _invalid
from .validators import _open

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
    except Exception:  # noqa: BLE001 - anything Pillow cannot read is simply "not an image"
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
