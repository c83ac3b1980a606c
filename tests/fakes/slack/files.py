"""The routes outside the Web API: file uploads and downloads, and response_url endpoints."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .constants import _LOGIN_PAGE, DOWNLOAD, RESPONSE_URL, UPLOAD, new_ts
from .records import Call, _StoredFile
from .validators import validate_blocks


class FileRoutes:
    """Mixin of FakeSlack: upload, download and response_url routes."""

    async def _handle_upload(self, request: web.Request) -> web.Response:
        upload_id = request.match_info["upload_id"]
        hdrs = {k.lower(): v for k, v in request.headers.items()}
        sf = self.files.get(upload_id)
        if sf is None or sf.user != self.bot_user_id or sf.completed:
            self._unexpected(f"POST {request.path} (unknown or already completed upload)")
            return web.Response(status=404, text="not found", content_type="text/plain")
        failure = self._take_failure(UPLOAD)
        if failure is not None:
            status, body, headers = self._failure_response(failure)
            self.calls.append(Call(UPLOAD, {"file_id": upload_id}, hdrs, status, body))
            self._changed()
            return web.json_response(body, status=status, headers=headers)
        if request.content_type == "multipart/form-data":
            data = b""
            reader = await request.multipart()
            async for part in reader:
                if getattr(part, "filename", None) or part.name in ("file", "filename"):
                    chunk = await part.read()
                    if getattr(part, "filename", None) or not data:
                        data = bytes(chunk)
            encoding = "multipart"
        else:
            data = await request.read()
            encoding = "raw"
        if sf.declared_length is not None and len(data) != sf.declared_length:
            self.calls.append(Call(UPLOAD, {"file_id": upload_id, "length": len(data)}, hdrs, 400, None))
            self._changed()
            return web.Response(
                status=400,
                text=f"length mismatch: declared {sf.declared_length}, got {len(data)}",
                content_type="text/plain",
            )
        sf.data = data
        self.uploads.append(
            {
                "file_id": sf.id,
                "filename": sf.name,
                "title": sf.title,
                "alt_txt": sf.alt_txt,
                "data": data,
                "size": len(data),
                "content_type": request.headers.get("Content-Type"),
                "encoding": encoding,
                "authorization": request.headers.get("Authorization"),
                "completed": False,
                "channel_id": None,
                "thread_ts": None,
            }
        )
        self.calls.append(
            Call(UPLOAD, {"file_id": upload_id, "length": len(data)}, hdrs, 200, f"OK - {len(data)}")
        )
        self._changed()
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _handle_download(self, request: web.Request) -> web.Response:
        team_file = request.match_info["team_file"]
        team, _, file_id = team_file.partition("-")
        sf = self.files.get(file_id)
        hdrs = {k.lower(): v for k, v in request.headers.items()}
        if team != self.team_id or sf is None or sf.data is None:
            self._unexpected(f"GET {request.path} (unknown file)")
            return web.Response(status=404, text=_LOGIN_PAGE, content_type="text/html")
        failure = self._take_failure(DOWNLOAD)
        if failure is not None:
            status, body, headers = self._failure_response(failure)
            self.calls.append(Call(DOWNLOAD, {"file_id": file_id}, hdrs, status, body))
            self._changed()
            return web.json_response(body, status=status, headers=headers)
        auth = request.headers.get("Authorization", "")
        authorized = auth == f"Bearer {self.bot_token}" and "files:read" in self.scopes
        self.downloads.append({"file_id": file_id, "authorized": authorized, "path": request.path})
        self.calls.append(Call(DOWNLOAD, {"file_id": file_id}, hdrs, 200, None))
        self._changed()
        if not authorized:
            # What Slack does without a (files:read) token: a 200 HTML sign-in page, not the bytes.
            return web.Response(text=_LOGIN_PAGE, content_type="text/html")
        if sf.stream_bytes is not None:
            return await self._stream_download(request, sf)
        return web.Response(
            body=sf.data,
            content_type=sf.mimetype,
            headers={"Content-Disposition": f'attachment; filename="{sf.name}"'},
        )

    async def _stream_download(self, request: web.Request, sf: _StoredFile) -> web.StreamResponse:
        assert sf.data is not None
        assert sf.stream_bytes is not None
        record: dict[str, Any] = {"file_id": sf.id, "sent": 0, "total": sf.stream_bytes, "done": False}
        self.streamed.append(record)
        response = web.StreamResponse(headers={"Content-Type": sf.mimetype})
        response.enable_chunked_encoding()  # no Content-Length: the client cannot know the size
        await response.prepare(request)
        head, zeros = sf.data[: sf.stream_bytes], bytes(64 * 1024)
        try:
            if head:
                await response.write(head)
                record["sent"] += len(head)
            while record["sent"] < sf.stream_bytes:
                chunk = zeros[: sf.stream_bytes - record["sent"]]
                await response.write(chunk)
                record["sent"] += len(chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # the client hung up: what was sent is recorded
        finally:
            record["done"] = True
            self._changed()
        return response

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        hdrs = {k.lower(): v for k, v in request.headers.items()}
        info = self._response_urls.get(rid)
        if info is None:
            self._unexpected(f"POST {request.path} (unknown response_url)")
            return web.Response(status=404, text="no_such_url", content_type="text/plain")
        try:
            body = await request.json()
        except ValueError:
            self._unexpected(f"POST {request.path} (response_url body is not JSON)")
            return web.Response(status=400, text="invalid_payload", content_type="text/plain")
        failure = self._take_failure(RESPONSE_URL)
        if failure is not None:
            status, resp, headers = self._failure_response(failure)
            self.calls.append(Call(RESPONSE_URL, body, hdrs, status, resp))
            self._changed()
            return web.json_response(resp, status=status, headers=headers)
        info["uses"] += 1
        if info["uses"] > 5:
            self.calls.append(Call(RESPONSE_URL, body, hdrs, 404, "used_url"))
            self._changed()
            return web.Response(status=404, text="used_url", content_type="text/plain")
        blocks = body.get("blocks")
        if blocks:
            errors = validate_blocks(blocks, known_file_ids=self.files.keys())
            if errors:
                self.calls.append(Call(RESPONSE_URL, body, hdrs, 400, "invalid_blocks"))
                self._changed()
                return web.Response(status=400, text="invalid_blocks", content_type="text/plain")
        rec = {
            "channel": info["channel"],
            "user": info["user"],
            "message_ts": info["message_ts"],
            "body": body,
        }
        self.responses.append(rec)
        channel = info["channel"]
        if body.get("delete_original") and info["message_ts"]:
            msg = self.message(channel, info["message_ts"])
            if msg is not None:
                self._messages.remove(msg)
                self._deleted.append(msg)
        elif body.get("replace_original") and info["message_ts"]:
            msg = self.message(channel, info["message_ts"])
            if msg is not None:
                msg["text"] = body.get("text", "")
                if "blocks" in body:
                    msg["blocks"] = body["blocks"]
                msg["edited"] = {"user": self.bot_user_id, "ts": new_ts()}
        elif body.get("response_type") == "in_channel":
            self._messages.append(self._bot_message(channel, body))
        else:
            self.ephemerals.append(
                {
                    "channel": channel,
                    "user": info["user"],
                    "text": body.get("text", ""),
                    "blocks": body.get("blocks"),
                    "thread_ts": body.get("thread_ts"),
                    "message_ts": new_ts(),
                    "via": "response_url",
                }
            )
        self.calls.append(Call(RESPONSE_URL, body, hdrs, 200, "ok"))
        self._changed()
        return web.Response(text="ok", content_type="text/plain")
