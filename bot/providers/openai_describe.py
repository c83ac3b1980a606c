"""/describe through OpenAI's Responses API: an image in, prompt suggestions out.

The image goes as an `input_image` data URL next to an `input_text` asking for exactly `n`
prompts; the answer is asked for as JSON (a strict json_schema), and read robustly anyway: a
numbered list is accepted too, and an answer with fewer prompts (or none: a refusal, an answer
cut short) is a clear error, never a crash.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import openai
from openai.types.responses import Response

from bot.domain import Usage
from bot.errors import BotError, ErrorKind
from bot.providers.base import Descriptions, InputImage

log = logging.getLogger(f"imagebot.{__name__}")

# Enough for four prompts of a few sentences; the cost estimate counts all of it.
MAX_OUTPUT_TOKENS = 1200
INSTRUCTIONS = (
    "You write prompts for an image generation model. Look at the image and write distinct prompts"
    " that would recreate it or a close variation of it: subject, setting, lighting, camera or"
    " medium, style and mood, one to three sentences each. Write only the prompts, no commentary."
)
_NUMBERED = re.compile(r"^\s*(?:\d+\s*[.):-]|[-*•])\s+(.+?)\s*$")
UNREADABLE = "The text model's answer could not be read as {n} prompts; please try again."


def request_params(model: str, image: InputImage, n: int, safety_identifier: str | None) -> dict[str, Any]:
    """The body of the Responses API call (a function of its own so tests can read it)."""
    data_url = f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"
    params: dict[str, Any] = {
        "model": model,
        "instructions": INSTRUCTIONS,
        "input": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "input_text",
                        "text": f"Write exactly {n} different prompts for this image, as JSON:"
                        ' {"prompts": ["...", ...]}.',
                    },
                    {"type": "input_image", "image_url": data_url, "detail": "auto"},
                ],
            }
        ],
        "text": {
            "format": {
                "type": "json_schema",
                "name": "prompt_suggestions",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"prompts": {"type": "array", "items": {"type": "string"}}},
                    "required": ["prompts"],
                    "additionalProperties": False,
                },
            }
        },
        "max_output_tokens": MAX_OUTPUT_TOKENS,
        # Nothing to continue later: the image is not kept on OpenAI's side for a conversation.
        "store": False,
    }
    if safety_identifier:
        params["safety_identifier"] = safety_identifier
    return params


async def describe(
    client: openai.AsyncOpenAI,
    model: str,
    image: InputImage,
    n: int,
    safety_identifier: str | None,
    classify: Callable[[openai.APIError], BotError],
) -> Descriptions:
    """Call the Responses API; `classify` maps an SDK error to a BotError (the provider's own)."""
    try:
        response = await client.responses.create(**request_params(model, image, n, safety_identifier))
    except openai.APIError as error:
        raise classify(error) from None
    return Descriptions(
        suggestions=read_suggestions(response, n),
        model=response.model or model,
        usage=_usage(response),
    )


def read_suggestions(response: Response, n: int) -> tuple[str, ...]:
    """The first `n` prompts of an answer: JSON `{"prompts": [...]}` (or a bare list), else a
    numbered or bulleted list; fewer than `n` is an error the person can act on (try again)."""
    if response.status == "failed" or response.error is not None:
        message = response.error.message if response.error is not None else "it failed"
        raise BotError(ErrorKind.UNAVAILABLE, f"OpenAI could not describe the image: {message}")
    text = (response.output_text or "").strip()
    prompts = _from_json(text)
    if prompts is None:
        prompts = [m.group(1) for line in text.splitlines() if (m := _NUMBERED.match(line))]
    prompts = [p.strip() for p in prompts if p.strip()]
    if len(prompts) < n:
        log.warning(
            "describe: the answer held %d prompts, not %d (status %s)", len(prompts), n, response.status
        )
        raise BotError(ErrorKind.UNAVAILABLE, UNREADABLE.format(n=n))
    return tuple(prompts[:n])


def _from_json(text: str) -> list[str] | None:
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    try:
        parsed, _ = json.JSONDecoder().raw_decode(text, start)  # text after the JSON is ignored
    except json.JSONDecodeError:
        return None
    if isinstance(parsed, dict):
        parsed = parsed.get("prompts", parsed.get("suggestions"))
    if not isinstance(parsed, list):
        return None
    return [item for item in parsed if isinstance(item, str)]


def _usage(response: Response) -> Usage | None:
    raw = response.usage
    if raw is None:
        return None
    # The Responses API counts the image in input_tokens without a split; it is billed at the
    # text model's input rate, so it is all "text" here.
    return Usage(
        input_tokens=raw.input_tokens or 0,
        input_text_tokens=raw.input_tokens or 0,
        output_tokens=raw.output_tokens or 0,
    )
