"""The Web API methods the bot calls: auth.test, chat.*, views.*, files.* (the upload v2 flow),
conversations.* and users.info."""

from __future__ import annotations

import mimetypes
import secrets
import time
from typing import Any

from .constants import _is_trigger_id, _looks_like_channel, _looks_like_ts, _new_id, new_ts
from .records import _filetype_for, _loads_maybe, _StoredFile
from .validators import validate_view


class WebApiMethods:
    """Mixin of FakeSlack: one handler per Web API method."""

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        ticket = secrets.token_hex(8)
        self._tickets.add(ticket)
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"}

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"{self.base_url}/",
            "team": "Fake Team",
            "user": "imagebot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        err = self._channel_error(channel) or self._thread_error(channel, args.get("thread_ts"))
        if err:
            return {"ok": False, "error": err}
        if (bad := self._blocks_error(args)) is not None:
            return bad
        if err := self._text_error(args):
            return {"ok": False, "error": err}
        if err := self._metadata_error(args):
            return {"ok": False, "error": err}
        msg = self._bot_message(channel, args)
        self._messages.append(msg)
        return {"ok": True, "channel": channel, "ts": msg["ts"], "message": self._public(msg)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), args.get("ts")
        if err := self._channel_error(channel):
            return {"ok": False, "error": err}
        msg = self.message(channel, ts) if ts else None
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        if msg.get("user") != self.bot_user_id:
            return {"ok": False, "error": "cant_update_message"}
        if (bad := self._blocks_error(args)) is not None:
            return bad
        if (
            "text" not in args
            and "blocks" not in args
            and "attachments" not in args
            and "file_ids" not in args
        ):
            return {"ok": False, "error": "no_text"}
        if isinstance(args.get("text"), str) and len(args["text"]) > 40000:
            return {"ok": False, "error": "msg_too_long"}
        if "text" in args:
            msg["text"] = args["text"] or ""
        if "blocks" in args:
            if args["blocks"]:
                msg["blocks"] = args["blocks"]
            else:
                msg.pop("blocks", None)
        if "attachments" in args:
            msg["attachments"] = _loads_maybe(args["attachments"])
        msg["edited"] = {"user": self.bot_user_id, "ts": new_ts()}
        return {"ok": True, "channel": channel, "ts": ts, "text": msg["text"], "message": self._public(msg)}

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), args.get("ts")
        msg = self.message(channel, ts) if channel and ts else None
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        if msg.get("user") != self.bot_user_id:
            return {"ok": False, "error": "cant_delete_message"}
        self._messages.remove(msg)
        self._deleted.append(msg)
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if err := self._channel_error(channel):
            return {"ok": False, "error": err}
        if not args.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        if err := self._thread_error(channel, args.get("thread_ts")):
            return {"ok": False, "error": err}
        if (bad := self._blocks_error(args)) is not None:
            return bad
        if err := self._text_error(args):
            return {"ok": False, "error": err}
        rec = {
            "channel": channel,
            "user": args["user"],
            "text": args.get("text") or "",
            "blocks": args.get("blocks"),
            "thread_ts": args.get("thread_ts"),
            "message_ts": new_ts(),
        }
        self.ephemerals.append(rec)
        return {"ok": True, "message_ts": rec["message_ts"]}

    def _check_trigger(self, trigger_id: Any) -> str | None:
        if not trigger_id:
            return "invalid_arguments"
        if not _is_trigger_id(trigger_id):
            return "invalid_trigger_id"
        if trigger_id in self._triggers_expired:
            return "expired_trigger_id"
        if trigger_id in self._triggers_used:
            return "exchanged_trigger_id"
        return None

    def _view_errors(self, view: Any) -> dict[str, Any] | None:
        errors = validate_view(view, known_file_ids=self.files.keys())
        if errors:
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
            }
        return None

    def _make_view(self, view: dict[str, Any], *, root_view_id: str | None, previous: str | None) -> dict:
        view_id = _new_id("V")
        body = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous,
            "root_view_id": root_view_id or view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        return body

    def _views_open(self, args: dict[str, Any], *, push: bool = False) -> dict[str, Any]:
        trigger_id = args.get("trigger_id") or args.get("interactivity_pointer")
        if err := self._check_trigger(trigger_id):
            return {"ok": False, "error": err}
        view = _loads_maybe(args.get("view"))
        if (bad := self._view_errors(view)) is not None:
            return bad
        ext = view.get("external_id")
        if ext and any(v["external_id"] == ext for v in self.views):
            return {"ok": False, "error": "duplicate_external_id"}
        self._triggers_used.add(trigger_id)
        root = self.views[-1]["root_view_id"] if push and self.views else None
        prev = self.views[-1]["id"] if push and self.views else None
        body = self._make_view(view, root_view_id=root, previous=prev)
        self.views.append(body)
        self.view_calls.append(
            {"method": "views.push" if push else "views.open", "trigger_id": trigger_id, "view": body}
        )
        return {"ok": True, "view": body}

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._views_open(args, push=True)

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id, ext = args.get("view_id"), args.get("external_id")
        if not view_id and not ext:
            return {"ok": False, "error": "invalid_arguments"}
        current = next(
            (v for v in self.views if (view_id and v["id"] == view_id) or (ext and v["external_id"] == ext)),
            None,
        )
        if current is None:
            return {"ok": False, "error": "not_found"}
        if args.get("hash") and args["hash"] != current["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        view = _loads_maybe(args.get("view"))
        if (bad := self._view_errors(view)) is not None:
            return bad
        updated = self._make_view(
            view, root_view_id=current["root_view_id"], previous=current["previous_view_id"]
        )
        updated["id"] = current["id"]
        self.views[self.views.index(current)] = updated
        self.view_calls.append({"method": "views.update", "trigger_id": None, "view": updated})
        return {"ok": True, "view": updated}

    def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        length = args.get("length")
        try:
            length_int = int(length) if length is not None else None
        except (TypeError, ValueError):
            length_int = None
        if not filename or length_int is None or length_int < 0:
            return {"ok": False, "error": "invalid_arguments"}
        alt_txt = args.get("alt_txt")
        if isinstance(alt_txt, str) and len(alt_txt) > 1000:
            return {"ok": False, "error": "alt_txt_too_large"}
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        sf = _StoredFile(
            id=_new_id("F"),
            name=filename,
            title=filename,
            mimetype=mimetype,
            filetype=_filetype_for(filename, mimetype),
            data=None,
            user=self.bot_user_id,
            created=int(time.time()),
            alt_txt=alt_txt,
            declared_length=length_int,
        )
        self.files[sf.id] = sf
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{sf.id}", "file_id": sf.id}

    def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        files = _loads_maybe(args.get("files"))
        if (
            not isinstance(files, list)
            or not files
            or not all(isinstance(f, dict) and f.get("id") for f in files)
        ):
            return {"ok": False, "error": "invalid_arguments"}
        channel = args.get("channel_id")
        channels = [c for c in str(args.get("channels") or "").split(",") if c]
        if channel and channels:
            return {"ok": False, "error": "invalid_arguments"}
        targets = [channel] if channel else channels
        thread_ts = args.get("thread_ts")
        if thread_ts and len(targets) != 1:
            return {"ok": False, "error": "invalid_arguments"}
        for c in targets:
            if err := self._channel_error(c) or self._thread_error(c, thread_ts):
                return {"ok": False, "error": err}
        stored: list[_StoredFile] = []
        for f in files:
            sf = self.files.get(f["id"])
            if sf is None or sf.user != self.bot_user_id or sf.completed:
                return {"ok": False, "error": "file_not_found"}
            if sf.data is None:
                return {"ok": False, "error": "file_upload_not_completed"}
            stored.append(sf)
        for f, sf in zip(files, stored, strict=True):
            sf.completed = True
            if f.get("title"):
                sf.title = f["title"]
        for up in self.uploads:
            if up["file_id"] in {sf.id for sf in stored}:
                up.update(
                    completed=True, channel_id=channel or ",".join(channels) or None, thread_ts=thread_ts
                )
                up["title"] = self.files[up["file_id"]].title
        file_objs = [self.file_object(sf.id) for sf in stored]
        for c in targets:
            msg: dict[str, Any] = {
                "type": "message",
                "channel": c,
                "user": self.bot_user_id,
                "bot_id": self.bot_id,
                "app_id": self.app_id,
                "team": self.team_id,
                "ts": new_ts(),
                "text": args.get("initial_comment") or "",
                "files": file_objs,
                "upload": True,
                "display_as_bot": False,
            }
            if not args.get("initial_comment") and args.get("blocks"):
                msg["blocks"] = _loads_maybe(args["blocks"])
            if thread_ts:
                msg["thread_ts"] = str(thread_ts)
            self._messages.append(msg)
        # Real Slack shares files asynchronously: the response carries no message ts and no shares yet.
        return {
            "ok": True,
            "files": [{**fo, "shares": {}, "channels": [], "groups": [], "ims": []} for fo in file_objs],
        }

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        sf = self.files.get(args.get("file") or "")
        if sf is None or not sf.completed:
            return {"ok": False, "error": "file_not_found"}
        return {
            "ok": True,
            "file": self.file_object(sf.id),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if channel in self.channels:
            return {"ok": True, "channel": dict(self.channels[channel])}
        if _looks_like_channel(channel):
            info = self.add_channel(channel)
            return {"ok": True, "channel": dict(info)}
        return {"ok": False, "error": "channel_not_found"}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread, parent first, oldest first; ``metadata`` only with include_all_metadata
        (as Slack does). Paginated by ``limit`` (default 100, at most 1000) and ``cursor``."""
        channel, ts = args.get("channel"), args.get("ts")
        if err := self._channel_error(channel):
            return {"ok": False, "error": err}
        if not _looks_like_ts(ts):
            return {"ok": False, "error": "invalid_ts" if ts else "invalid_arguments"}
        thread = [
            m
            for m in self._messages
            if m["channel"] == channel and (m["ts"] == ts or m.get("thread_ts") == ts)
        ]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        thread.sort(key=lambda m: (m["ts"] != ts, float(m["ts"])))
        try:
            limit = min(max(int(args.get("limit") or 100), 1), 1000)
            start = int(args.get("cursor") or 0)
        except ValueError:
            return {"ok": False, "error": "invalid_cursor"}
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        page = thread[start : start + limit]
        out = []
        for m in page:
            public = self._public(m)
            if not with_metadata:
                public.pop("metadata", None)
            if m["ts"] == ts:
                public["reply_count"] = len(thread) - 1
            out.append(public)
        more = start + limit < len(thread)
        return {
            "ok": True,
            "messages": out,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def add_user(
        self, user_id: str, name: str, *, is_admin: bool = False, is_owner: bool = False
    ) -> dict[str, Any]:
        """Register a workspace member (what users.info answers for them)."""
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name.lower().replace(" ", "."),
            "real_name": name,
            "deleted": False,
            "is_bot": False,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "profile": {"real_name": name, "display_name": name},
        }
        self.users[user_id] = user
        return dict(user)

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user") or ""))
        return {"ok": True, "user": dict(user)} if user else {"ok": False, "error": "user_not_found"}
