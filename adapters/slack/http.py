"""The HTTP door: a request's Slack signature is checked on its raw bytes before anything reads
the body, then the body is parsed strictly.

Bolt's own aiohttp adapter decodes and parses first (`to_bolt_request`), so an unsigned request
with a binary body, malformed JSON or a non-numeric timestamp made it raise (a 500 and a traceback
per request). Here anyone without the signing secret gets a 401 and one log line, and only a
request Slack signed is parsed; if that body is malformed it is a 400.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

MAX_SKEW_SECONDS = 300  # Slack's documented replay window: 5 minutes
_MAX_TIMESTAMP_DIGITS = 12


class Refused(Exception):
    """A request that is not answered; `status` and a short `reason` (safe to log: no body, no
    header values)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_signature(
    secret: str, raw: bytes, headers: Mapping[str, str], *, clock: Callable[[], float] = time.time
) -> None:
    """Raise `Refused(401, …)` unless `raw` carries a valid v0 signature made with `secret`
    within the last 5 minutes. Reads nothing but two headers and the bytes."""
    if not secret:
        raise Refused(401, "no SLACK_SIGNING_SECRET to check it with")
    timestamp = headers.get("X-Slack-Request-Timestamp") or headers.get("x-slack-request-timestamp")
    signature = headers.get("X-Slack-Signature") or headers.get("x-slack-signature")
    if not timestamp or not signature:
        raise Refused(401, "no Slack signature")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        raise Refused(401, "a timestamp that is not a number")
    if abs(clock() - int(timestamp)) > MAX_SKEW_SECONDS:
        raise Refused(401, "a timestamp more than 5 minutes off")
    base = b"v0:" + timestamp.encode("ascii") + b":" + raw
    expected = "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise Refused(401, "a signature that does not match (is SLACK_SIGNING_SECRET right?)")


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """A signed body as Bolt's payload dict; `Refused(400, …)` when it is not one.

    Events come as JSON; slash commands as a form; interactivity as a form whose `payload` field
    is JSON. (Bolt's own parser reads any form body containing the word "payload", such as
    `/imagine a payload bay`, as empty; this one looks for the field.)
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "a body that is not UTF-8 text") from None
    content_type = content_type.split(";")[0].strip().lower()
    try:
        if content_type == "application/json":
            body = json.loads(text)
        elif content_type == "application/x-www-form-urlencoded":
            fields = dict(urllib.parse.parse_qsl(text, keep_blank_values=True))
            body = json.loads(fields["payload"]) if "payload" in fields else fields
        else:
            raise Refused(400, "an unexpected content type")
    except ValueError:
        raise Refused(400, "a body that is not valid JSON or form data") from None
    if not isinstance(body, dict) or not body:
        raise Refused(400, "an empty body or one that is not an object")
    return body
