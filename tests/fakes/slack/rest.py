"""Web API plumbing: the route table, argument parsing, auth and scope checks, scripted failures,
and the checks the methods share."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from .constants import _EVENT_TYPE, _METHOD_SCOPES, _looks_like_channel, _looks_like_ts, new_ts
from .records import Call, _Failure, _loads_maybe
from .validators import validate_blocks


class WebApiPlumbing:
    """Mixin of FakeSlack: how a Web API request is read, checked and answered."""

    # -- HTTP plumbing --------------------------------------------------------------------------

    def _take_failure(self, method: str) -> _Failure | None:
        window = self._windows.get(method)
        if window is not None:
            if time.monotonic() < window.until:
                return _Failure(window.status, window.retry_after, window.error, times=1)
            del self._windows[method]
        queue = self._failures.get(method)
        if not queue:
            return None
        f = queue[0]
        f.times -= 1
        if f.times <= 0:
            queue.pop(0)
        return f

    def _failure_response(self, f: _Failure) -> tuple[int, dict[str, Any], dict[str, str]]:
        headers = {}
        if f.status == 429 and f.retry_after is not None:
            headers["Retry-After"] = str(f.retry_after)
        return f.status, {"ok": False, "error": f.error}, headers

    def _record(
        self, method: str, args: dict[str, Any], request: web.Request, status: int, response: Any
    ) -> None:
        hdrs = {k.lower(): v for k, v in request.headers.items()}
        self.calls.append(Call(method=method, args=args, headers=hdrs, status=status, response=response))
        self._changed()

    def _unexpected(self, what: str) -> None:
        self.unexpected.append(what)
        self._changed()

    async def _read_args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if request.can_read_body:
            if ctype == "application/json":
                raw = await request.read()
                if raw:
                    body = json.loads(raw)
                    if not isinstance(body, dict):
                        raise ValueError("JSON body must be an object")
                    args.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                args.update(form.items())  # multipart file parts stay aiohttp FileField objects
            else:
                raw = await request.read()
                if raw:
                    raise ValueError(f"unsupported content type {ctype!r}")
        return args

    def _authorized(self, request: web.Request, args: Mapping[str, Any], token: str) -> bool:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :].strip() == token
        return args.get("token") == token and request.method == "POST" and "token" not in request.query

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            args = await self._read_args(request)
        except ValueError as e:
            self._unexpected(f"{request.method} {request.path}: unreadable body ({e})")
            return web.json_response({"ok": False, "error": "invalid_form_data"})
        handler = self._methods().get(method)
        if handler is None:
            self._unexpected(f"{request.method} {request.path} (unknown method {method!r})")
            body = {"ok": False, "error": "unknown_method"}
            self._record(method, args, request, 200, body)
            return web.json_response(body)
        gate = self._holds.get(method)
        if gate is not None:
            self.held.append(method)
            self._changed()
            await gate.wait()
            transport = request.transport
            if transport is None or transport.is_closing():
                self.dropped.append(method)
                self._changed()
                return web.json_response({"ok": False, "error": "caller_gone"})
        # Only apps.connections.open takes the app-level token, and only it.
        token = self.app_token if method == "apps.connections.open" else self.bot_token
        authorized = self._authorized(request, args, token)
        args.pop("token", None)
        status, body, headers = 200, None, {}
        if not authorized:
            body = {
                "ok": False,
                "error": "not_authed" if not request.headers.get("Authorization") else "invalid_auth",
            }
        else:
            failure = self._take_failure(method)
            if failure is not None:
                status, body, headers = self._failure_response(failure)
            else:
                needed = _METHOD_SCOPES.get(method)
                if needed and needed not in self.scopes:
                    body = {
                        "ok": False,
                        "error": "missing_scope",
                        "needed": needed,
                        "provided": ",".join(sorted(self.scopes)),
                    }
                else:
                    body = handler(args)
        answer_hold = self._answer_holds.get(method)
        if answer_hold is not None and isinstance(body, dict) and body.get("ok") and answer_hold[0](args):
            self.held.append(method)
            self._changed()
            await answer_hold[1].wait()
        self._record(method, args, request, status, body)
        headers["x-oauth-scopes"] = ",".join(sorted(self.scopes))
        return web.json_response(body, status=status, headers=headers)

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        self._unexpected(f"{request.method} {request.path_qs} (unknown route)")
        return web.json_response({"ok": False, "error": "unknown_method"}, status=404)

    def _methods(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "apps.connections.open": self._apps_connections_open,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "files.info": self._files_info,
            "conversations.info": self._conversations_info,
            "conversations.replies": self._conversations_replies,
            "users.info": self._users_info,
        }

    # -- helpers for methods --------------------------------------------------------------------

    def _channel_error(self, channel: Any) -> str | None:
        if not channel:
            return "channel_not_found"
        info = self.channels.get(channel)
        if info is None:
            return None if _looks_like_channel(channel) else "channel_not_found"
        if info.get("is_archived"):
            return "is_archived"
        if not info.get("is_member"):
            return "not_in_channel"
        return None

    def _blocks_error(self, args: dict[str, Any]) -> dict[str, Any] | None:
        if "blocks" not in args or args["blocks"] in (None, ""):
            args.pop("blocks", None)
            return None
        args["blocks"] = _loads_maybe(args["blocks"])
        errors = validate_blocks(args["blocks"], known_file_ids=self.files.keys())
        if errors:
            return {
                "ok": False,
                "error": "invalid_blocks",
                "errors": errors,
                "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
            }
        return None

    @staticmethod
    def _text_error(args: dict[str, Any]) -> str | None:
        text = args.get("text")
        if not text and not args.get("blocks") and not args.get("attachments"):
            return "no_text"
        if isinstance(text, str) and len(text) > 40000:
            return "msg_too_long"
        return None

    def _thread_error(self, channel: str, thread_ts: Any) -> str | None:
        if thread_ts in (None, ""):
            return None
        if not _looks_like_ts(thread_ts):
            return "invalid_thread_ts"
        return None

    def _bot_message(self, channel: str, args: dict[str, Any]) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": new_ts(),
            "text": args.get("text") or "",
        }
        if args.get("blocks"):
            msg["blocks"] = args["blocks"]
        if args.get("attachments"):
            msg["attachments"] = _loads_maybe(args["attachments"])
        if args.get("thread_ts"):
            msg["thread_ts"] = str(args["thread_ts"])
            if str(args.get("reply_broadcast", "")).lower() in ("1", "true"):
                msg["subtype"] = "thread_broadcast"
        if args.get("metadata"):
            msg["metadata"] = _loads_maybe(args["metadata"])
        return msg

    @staticmethod
    def _metadata_error(args: dict[str, Any]) -> str | None:
        """Message metadata as Slack checks it: an object with a word-like ``event_type`` and an
        object ``event_payload``."""
        if args.get("metadata") in (None, ""):
            args.pop("metadata", None)
            return None
        metadata = _loads_maybe(args["metadata"])
        if not isinstance(metadata, dict) or set(metadata) - {"event_type", "event_payload"}:
            return "invalid_metadata_format"
        event_type = metadata.get("event_type")
        if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
            return "invalid_metadata_format"
        if not isinstance(metadata.get("event_payload"), dict):
            return "invalid_metadata_format"
        if len(json.dumps(metadata)) > 8000:
            return "metadata_too_large"
        args["metadata"] = metadata
        return None

    @staticmethod
    def _public(msg: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in msg.items() if k != "channel"}
