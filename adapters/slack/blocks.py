"""Core replies as Slack text and Block Kit, and Slack's message markup back to plain text.

Pure functions only: no I/O, so the limits Slack enforces (50 blocks, 25 elements per actions
block, 75-character button labels) are kept in one place; the length of a button's id is the
core codec's to check (bot.buttons).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from bot import outbound
from bot.answers import Button
from bot.domain import SessionKey
from bot.text import display_text

MAX_BLOCKS = 50
MAX_ACTIONS_PER_BLOCK = 25
MAX_BUTTON_TEXT = 75
MAX_SECTION_TEXT = 3000
MAX_MESSAGE_TEXT = 39_000  # Slack truncates at 40,000; keep a margin for what we add
EDIT_CALLBACK_ID = "ib_edit"
EDIT_BLOCK_ID = "instruction"
EDIT_ACTION_ID = "text"

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(\w+)(?:\^[^|>]*)?(?:\|([^>]*))?>")
_LINK = re.compile(r"<([^<>|@#!][^<>|]*)(?:\|([^<>]*))?>")


def _clean_line(line: str) -> str:
    # display_text, but a line's indentation (bullets the core indents) survives.
    body = display_text(line)
    return line[: len(line) - len(line.lstrip(" "))] + body if body else ""


def escape(text: str) -> str:
    """`&`, `<` and `>` as Slack's entities: whatever `text` holds shows as typed, never as a
    mention (`<!here>`, `<@U…>`, `<!subteam^…>`), a channel link or a URL."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> str:
    """Core text (Markdown-ish, may quote what people typed) as Slack mrkdwn.

    Every line loses control characters, ANSI escapes and bidi overrides (`display_text`), then
    `&`, `<` and `>` are escaped, so nothing in it can turn into a mention or a link; line breaks,
    backticks and `**bold**` (as Slack's `*bold*`) keep working.
    """
    text = "\n".join(_clean_line(line) for line in text.split("\n"))
    return _BOLD.sub(r"*\1*", escape(text))


def shown(text: str, limit: int) -> str:
    """Something a person typed or chose (a prompt, a display name, an id) as one line of mrkdwn
    of at most `limit` characters before escaping."""
    return escape(display_text(text, limit))


def plain_text(text: str, bot_user_id: str | None = None) -> str:
    """Slack message markup as the words a person typed: the bot's mention removed, other
    mentions and links as their labels, HTML entities decoded."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    text = _USER.sub(lambda m: "@" + (m.group(2) or m.group(1)).lstrip("@"), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _SPECIAL.sub(lambda m: "@" + (m.group(2) or m.group(1)).lstrip("@"), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: str, limit: int) -> str:
    """Plain text (not mrkdwn) on one line, without control characters, cut to `limit`."""
    return display_text(text, limit)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": trim(text, MAX_SECTION_TEXT)}}


def button_element(button: Button) -> dict[str, Any]:
    """A Block Kit button whose action_id and value are the core's custom_id (stateless)."""
    custom_id = button.custom_id
    element: dict[str, Any] = {
        "type": "button",
        "action_id": custom_id,
        "value": custom_id,
        "text": {"type": "plain_text", "text": trim(button.label, MAX_BUTTON_TEXT), "emoji": True},
    }
    if button.style in ("primary", "danger"):
        element["style"] = button.style
    return element


def action_blocks(buttons: Iterable[Button]) -> list[dict[str, Any]]:
    """Buttons as actions blocks, a row per family (bot.outbound.button_rows). (The codec keeps
    every id within Discord's 100 characters, well under Slack's 255.)"""
    rows = outbound.button_rows(buttons, width=MAX_ACTIONS_PER_BLOCK)
    return [{"type": "actions", "elements": [button_element(b) for b in row]} for row in rows]


def message_blocks(text: str, buttons: Sequence[Button] = ()) -> list[dict[str, Any]]:
    """A section with `text` (already mrkdwn) and the buttons under it."""
    return [section(text), *action_blocks(buttons)][:MAX_BLOCKS]


def edit_modal(image_id: str, where: SessionKey) -> dict[str, Any]:
    """The Edit… form. Everything the submit needs travels in private_metadata (≤3000 chars)."""
    metadata = json.dumps(
        {"i": image_id, "w": where.workspace, "c": where.channel, "t": where.thread}, separators=(",", ":")
    )
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK_ID,
        "title": {"type": "plain_text", "text": "Edit image"},
        "submit": {"type": "plain_text", "text": "Edit"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": metadata,
        "blocks": [
            {
                "type": "input",
                "block_id": EDIT_BLOCK_ID,
                "label": {
                    "type": "plain_text",
                    "text": trim(f"What should change in image {image_id}?", 2000),
                },
                "hint": {
                    "type": "plain_text",
                    "text": "One change per edit works best; --flags such as --quality high work here too.",
                },
                "element": {
                    "type": "plain_text_input",
                    "action_id": EDIT_ACTION_ID,
                    "multiline": True,
                    "max_length": 3000,
                    "placeholder": {
                        "type": "plain_text",
                        "text": "make the sky stormier, keep everything else",
                    },
                },
            }
        ],
    }


def parse_edit_metadata(metadata: str, platform: str) -> tuple[str, SessionKey]:
    """(image id, session) from an Edit… form's private_metadata; ValueError if it is not ours."""
    try:
        data = json.loads(metadata)
        image_id, workspace, channel, thread = data["i"], data["w"], data["c"], data["t"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError("not an imagebot edit form") from error
    if not all(isinstance(v, str) and v for v in (image_id, workspace, channel, thread)):
        raise ValueError("not an imagebot edit form")
    return image_id, SessionKey(platform, workspace, channel, thread)
