"""Registry commands asked in a form (`Command.form`, e.g. `/imagebot build`) as Slack modals:
the view made from the command's arguments, and reading its submit back.

Pure functions. Everything the submit needs (the command, the team and channel it was asked in)
travels in the view's private_metadata, so a form submitted after a restart still works.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.command_model import Command
from bot.domain import SessionKey
from bot.errors import BotError

FORM_CALLBACK_ID = "ib_form"
TITLE_MAX = 24  # Slack's limit for a modal's title (and its submit and close labels)
LABEL_MAX = 2000
PLACEHOLDER_MAX = 150
VALUE_MAX = 3000


def form_modal(command: Command, where: SessionKey, first: str = "") -> dict[str, Any]:
    """The modal asking every argument of a form command, one input block each (its block and
    action named after the argument), `first` already filled in as the first one (`/imagebot build a red fox`)."""
    metadata = json.dumps(
        {"n": command.name, "w": where.workspace, "c": where.channel}, separators=(",", ":")
    )
    blocks = []
    for index, arg in enumerate(command.args):
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": arg.name,  # unique in the view, as Slack requires
            "multiline": True,
            "max_length": VALUE_MAX,
        }
        if arg.example:
            element["placeholder"] = {"type": "plain_text", "text": f"e.g. {arg.example}"[:PLACEHOLDER_MAX]}
        if index == 0 and first.strip():
            element["initial_value"] = first.strip()[:VALUE_MAX]
        blocks.append(
            {
                "type": "input",
                "block_id": arg.name,
                "optional": not arg.required,
                "label": {"type": "plain_text", "text": arg.description[:LABEL_MAX]},
                "element": element,
            }
        )
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK_ID,
        "title": {"type": "plain_text", "text": (command.form or command.name)[:TITLE_MAX]},
        "submit": {"type": "plain_text", "text": "Make it"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": metadata,
        "blocks": blocks,
    }


def read_form(view: Mapping[str, Any], platform: str) -> tuple[str, SessionKey, dict[str, str]]:
    """(command name, where it was asked, the values typed by argument name) from a submitted
    form; ValueError if the view is not one of ours. Values are plain text already (a modal's
    input carries no Slack markup)."""
    try:
        data = json.loads(str(view.get("private_metadata") or ""))
        name, workspace, channel = data["n"], data["w"], data["c"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError("not an imagebot form") from error
    if not all(isinstance(v, str) and v for v in (name, workspace, channel)):
        raise ValueError("not an imagebot form")
    values: dict[str, str] = {}
    state = (view.get("state") or {}).get("values") or {}
    for block_id, actions in state.items():
        typed = (actions or {}).get(block_id) or {}
        if isinstance(typed, Mapping) and typed.get("value") is not None:
            values[str(block_id)] = str(typed["value"])
    return name, SessionKey(platform, workspace, channel, ""), values


def first_block(view: Mapping[str, Any]) -> str | None:
    """The first input block of a submitted view: where an error about the whole form is shown."""
    for block in view.get("blocks") or []:
        if isinstance(block, Mapping) and block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    return None


def field_errors(command: Command, values: Mapping[str, str]) -> dict[str, str]:
    """Each typed field its argument's own check refuses, with why (block id -> message): Slack
    shows them next to their fields and keeps the form open. Checks the whole form still runs
    (an empty subject, a style not in this version) are the core's, after the form closes."""
    errors: dict[str, str] = {}
    for arg in command.args:
        value = values.get(arg.name, "")
        if arg.check is None or not value.strip():
            continue
        try:
            arg.check(value)
        except BotError as error:
            errors[arg.name] = error.message
    return errors
