"""What the fake keeps and returns: snowflake-keyed dicts, recorded calls, interactions, uploaded
files, Discord-shaped errors, and small helpers for JSON answers and component trees."""

from __future__ import annotations

import asyncio
import datetime
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

_V = TypeVar("_V")


class SnowflakeDict(dict[str, _V]):
    """A dict keyed by snowflake strings that also accepts the ``int`` ids discord.py hands out."""

    def __getitem__(self, key: object) -> _V:
        return super().__getitem__(str(key))

    def __setitem__(self, key: object, value: _V) -> None:
        super().__setitem__(str(key), value)

    def __delitem__(self, key: object) -> None:
        super().__delitem__(str(key))

    def __contains__(self, key: object) -> bool:
        return super().__contains__(str(key))

    def get(self, key: object, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(str(key), default)

    def pop(self, key: object, *default: Any) -> Any:  # type: ignore[override]
        return super().pop(str(key), *default)


class ApiError(Exception):
    """A Discord-shaped error response: ``{"code": ..., "message": ..., "errors": ...}``."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None):
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class _FormErrors:
    """Collects Invalid Form Body (50035) errors in Discord's nested ``{"a": {"0": {"_errors": []}}}`` form."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def length(self, path: Sequence[str | int], value: object, lo: int, hi: int) -> None:
        n = len(value) if isinstance(value, str | list | tuple) else -1
        if n == -1:
            self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        elif n < lo or n > hi:
            if lo == 0:
                self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {hi} or fewer in length.")
            else:
                self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {lo} and {hi} in length.")

    def raise_if_any(self) -> None:
        if self.tree:
            raise ApiError(400, 50035, "Invalid Form Body", self.tree)


@dataclass
class UploadedFile:
    """One ``files[n]`` part of a multipart request."""

    field: str
    index: int
    filename: str
    content_type: str | None
    data: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.field!r}, {self.filename!r}, {len(self.data)} bytes)"


@dataclass
class Call:
    """One request the fake received. ``json`` is the JSON body or the multipart ``payload_json``."""

    method: str
    path: str
    query: dict[str, str]
    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)
    status: int | None = None
    response: Any = None

    def __repr__(self) -> str:
        return f"<Call {self.method} {self.path} -> {self.status}>"


_CALL = web.RequestKey("call", Call)


@dataclass
class FakeInteraction:
    """Server-side record of an interaction the fake built, and what the bot did with it."""

    id: str
    token: str
    type: int
    payload: dict[str, Any]
    channel_id: str
    guild_id: str | None
    user: dict[str, Any]
    created: float
    message_id: str | None = None  # the message a component/modal interaction came from
    response: dict[str, Any] | None = None
    original_message_id: str | None = None
    followup_ids: list[str] = field(default_factory=list)
    expired: bool = False


@dataclass
class _RateLimit:
    prefix: str
    method: str | None
    retry_after: float
    is_global: bool
    remaining: int


@dataclass
class _Hold:
    method: str
    path: re.Pattern[str]
    remaining: int
    release: asyncio.Event
    fail: bool


@dataclass
class _Fault:
    method: str | None
    path: re.Pattern[str]
    until: float  # time.monotonic() deadline
    status: int  # 429 (rate limited, with Via and retry_after) or a 5xx
    retry_after: float


@dataclass
class _GatewaySession:
    ws: web.WebSocketResponse
    session_id: str
    intents: int = 0
    identified: bool = False
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def _json_response(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    # Exactly "application/json": discord.py compares the header with == (aiohttp's json_response adds a
    # charset and discord.py then treats the body as a plain string).
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=json.dumps(obj).encode(), headers=all_headers)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in {"1", "true", "yes"}


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:  # noqa: BLE001 - a fake records whatever it is sent; unreadable bytes have no size
        return None


def _walk_components(components: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for comp in components:
        yield comp
        if isinstance(comp.get("components"), list):
            yield from _walk_components(comp["components"])
        if isinstance(comp.get("component"), dict):
            yield from _walk_components([comp["component"]])
        if isinstance(comp.get("accessory"), dict):
            yield from _walk_components([comp["accessory"]])


def _find_component(components: Iterable[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    return next((c for c in _walk_components(components) if c.get("custom_id") == custom_id), None)


def _assign_component_ids(components: list[dict[str, Any]]) -> None:
    # Discord numbers every component of a message (depth first) unless the sender chose an id.
    used = {c["id"] for c in _walk_components(components) if isinstance(c.get("id"), int)}
    counter = itertools.count(1)
    for comp in _walk_components(components):
        if not isinstance(comp.get("id"), int):
            n = next(counter)
            while n in used:
                n = next(counter)
            comp["id"] = n
