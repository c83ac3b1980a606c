"""Block Kit and modal view validation against Slack's documented limits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# ----------------------------------------------------------------------------------------------
# Block Kit validation
# ----------------------------------------------------------------------------------------------

_TEXT_TYPES = ("plain_text", "mrkdwn")
_INTERACTIVE_ELEMENTS = {
    "button",
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "timepicker",
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
    "overflow",
    "radio_buttons",
    "plain_text_input",
    "number_input",
    "email_text_input",
    "url_text_input",
    "rich_text_input",
    "file_input",
    "workflow_button",
}
_INPUT_ELEMENTS = _INTERACTIVE_ELEMENTS - {"button", "overflow", "workflow_button"}
_BLOCK_TYPES = {
    "actions",
    "context",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "video",
}


class _BlockChecker:
    """Collects Slack-style error strings ("... [json-pointer:/blocks/0/text/text]")."""

    def __init__(self, known_file_ids: Iterable[str] | None = None) -> None:
        self.errors: list[str] = []
        self.action_ids: dict[str, str] = {}
        self.block_ids: dict[str, str] = {}
        self.known_file_ids = set(known_file_ids) if known_file_ids is not None else None

    def err(self, msg: str, ptr: str) -> None:
        self.errors.append(f"{msg} [json-pointer:{ptr}]")

    def max_len(self, value: Any, limit: int, ptr: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.err(f"must be less than {limit + 1} characters", ptr)

    def text(
        self, obj: Any, ptr: str, *, limit: int, plain_only: bool = False, required: bool = True
    ) -> None:
        if obj is None:
            if required:
                self.err("missing required field: text", ptr)
            return
        if not isinstance(obj, dict):
            self.err("must be a text object", ptr)
            return
        ttype = obj.get("type")
        allowed = ("plain_text",) if plain_only else _TEXT_TYPES
        if ttype not in allowed:
            self.err(f"must be one of {list(allowed)}", f"{ptr}/type")
        value = obj.get("text")
        if not isinstance(value, str) or not value:
            self.err("must be more than 0 characters", f"{ptr}/text")
        else:
            self.max_len(value, limit, f"{ptr}/text")
        if "emoji" in obj and ttype != "plain_text":
            self.err("emoji is only allowed on plain_text", f"{ptr}/emoji")
        if "verbatim" in obj and ttype != "mrkdwn":
            self.err("verbatim is only allowed on mrkdwn", f"{ptr}/verbatim")

    def action_id(self, element: dict, ptr: str) -> None:
        aid = element.get("action_id")
        if aid is None:
            return
        if not isinstance(aid, str) or not aid:
            self.err("must be a non-empty string", f"{ptr}/action_id")
            return
        self.max_len(aid, 255, f"{ptr}/action_id")
        if aid in self.action_ids:
            self.err(f"duplicate action_id {aid!r} (first at {self.action_ids[aid]})", f"{ptr}/action_id")
        else:
            self.action_ids[aid] = ptr

    def options(self, opts: Any, ptr: str, *, max_items: int, min_items: int = 1) -> None:
        if not isinstance(opts, list):
            self.err("must be an array", ptr)
            return
        if len(opts) < min_items:
            self.err(f"must provide at least {min_items} items", ptr)
        if len(opts) > max_items:
            self.err(f"must be less than {max_items + 1} items", ptr)
        for i, opt in enumerate(opts):
            p = f"{ptr}/{i}"
            if not isinstance(opt, dict):
                self.err("must be an option object", p)
                continue
            self.text(opt.get("text"), f"{p}/text", limit=75)
            value = opt.get("value")
            if not isinstance(value, str) or not value:
                self.err("must be more than 0 characters", f"{p}/value")
            else:
                self.max_len(value, 150, f"{p}/value")

    def image_source(self, obj: dict, ptr: str, url_key: str) -> None:
        url = obj.get(url_key)
        slack_file = obj.get("slack_file")
        if (url is None) == (slack_file is None):
            self.err(f"must provide exactly one of {url_key} or slack_file", ptr)
        if url is not None:
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                self.err("must be a valid http(s) URL", f"{ptr}/{url_key}")
            else:
                self.max_len(url, 3000, f"{ptr}/{url_key}")
        if slack_file is not None and (
            not isinstance(slack_file, dict)
            or not (slack_file.get("id") or slack_file.get("url"))
            or (
                self.known_file_ids is not None
                and slack_file.get("id")
                and slack_file["id"] not in self.known_file_ids
            )
        ):
            self.err("invalid slack file", f"{ptr}/slack_file")
        alt = obj.get("alt_text")
        if not isinstance(alt, str) or not alt:
            self.err("missing required field: alt_text", f"{ptr}/alt_text")
        else:
            self.max_len(alt, 2000, f"{ptr}/alt_text")

    def element(self, el: Any, ptr: str, *, allowed: set[str]) -> None:
        if not isinstance(el, dict):
            self.err("must be an element object", ptr)
            return
        etype = el.get("type")
        if etype == "image" and "image" in allowed:
            self.image_source(el, ptr, "image_url")
            return
        if etype not in allowed:
            self.err(f"unsupported element type {etype!r}", f"{ptr}/type")
            return
        self.action_id(el, ptr)
        if etype == "button":
            self.text(el.get("text"), f"{ptr}/text", limit=75, plain_only=True)
            self.max_len(el.get("value"), 2000, f"{ptr}/value")
            self.max_len(el.get("url"), 3000, f"{ptr}/url")
            if "style" in el and el["style"] not in ("primary", "danger"):
                self.err("must be one of [primary, danger]", f"{ptr}/style")
        elif etype in ("static_select", "multi_static_select"):
            if "options" in el:
                self.options(el["options"], f"{ptr}/options", max_items=100)
            elif "option_groups" not in el:
                self.err("must provide options or option_groups", ptr)
        elif etype == "overflow":
            self.options(el.get("options"), f"{ptr}/options", max_items=5, min_items=1)
        elif etype in ("checkboxes", "radio_buttons"):
            self.options(el.get("options"), f"{ptr}/options", max_items=10)
        if "placeholder" in el:
            self.text(el["placeholder"], f"{ptr}/placeholder", limit=150, plain_only=True)

    def block(self, blk: Any, ptr: str) -> None:
        if not isinstance(blk, dict):
            self.err("must be a block object", ptr)
            return
        btype = blk.get("type")
        if btype not in _BLOCK_TYPES:
            self.err(f"unsupported block type {btype!r}", f"{ptr}/type")
            return
        bid = blk.get("block_id")
        if bid is not None:
            if not isinstance(bid, str) or not bid:
                self.err("must be a non-empty string", f"{ptr}/block_id")
            else:
                self.max_len(bid, 255, f"{ptr}/block_id")
                if bid in self.block_ids:
                    self.err(f"duplicate block_id {bid!r}", f"{ptr}/block_id")
                else:
                    self.block_ids[bid] = ptr
        if btype == "section":
            has_text = "text" in blk
            fields = blk.get("fields")
            if not has_text and not fields:
                self.err("must provide text or fields", ptr)
            if has_text:
                self.text(blk["text"], f"{ptr}/text", limit=3000)
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > 10:
                    self.err("must be less than 11 items", f"{ptr}/fields")
                else:
                    for i, f in enumerate(fields):
                        self.text(f, f"{ptr}/fields/{i}", limit=2000)
            if "accessory" in blk:
                self.element(blk["accessory"], f"{ptr}/accessory", allowed=_INTERACTIVE_ELEMENTS | {"image"})
        elif btype == "actions":
            elements = blk.get("elements")
            if not isinstance(elements, list) or not elements:
                self.err("must provide at least 1 items", f"{ptr}/elements")
                return
            if len(elements) > 25:
                self.err("must be less than 26 items", f"{ptr}/elements")
            for i, el in enumerate(elements):
                self.element(el, f"{ptr}/elements/{i}", allowed=_INTERACTIVE_ELEMENTS)
        elif btype == "context":
            elements = blk.get("elements")
            if not isinstance(elements, list) or not elements:
                self.err("must provide at least 1 items", f"{ptr}/elements")
                return
            if len(elements) > 10:
                self.err("must be less than 11 items", f"{ptr}/elements")
            for i, el in enumerate(elements):
                p = f"{ptr}/elements/{i}"
                if isinstance(el, dict) and el.get("type") in _TEXT_TYPES:
                    self.text(el, p, limit=3000)
                elif isinstance(el, dict) and el.get("type") == "image":
                    self.image_source(el, p, "image_url")
                else:
                    self.err("must be a text or image element", p)
        elif btype == "header":
            self.text(blk.get("text"), f"{ptr}/text", limit=150, plain_only=True)
        elif btype == "image":
            self.image_source(blk, ptr, "image_url")
            if "title" in blk:
                self.text(blk["title"], f"{ptr}/title", limit=2000, plain_only=True)
        elif btype == "input":
            self.text(blk.get("label"), f"{ptr}/label", limit=2000, plain_only=True)
            if "hint" in blk:
                self.text(blk["hint"], f"{ptr}/hint", limit=2000, plain_only=True)
            if "element" not in blk:
                self.err("missing required field: element", ptr)
            else:
                self.element(blk["element"], f"{ptr}/element", allowed=_INPUT_ELEMENTS)
        elif btype == "markdown":
            text = blk.get("text")
            if not isinstance(text, str) or not text:
                self.err("must be more than 0 characters", f"{ptr}/text")
            else:
                self.max_len(text, 12000, f"{ptr}/text")


def validate_blocks(
    blocks: Any,
    *,
    max_blocks: int = 50,
    pointer: str = "/blocks",
    known_file_ids: Iterable[str] | None = None,
) -> list[str]:
    """Validate a Block Kit ``blocks`` array like Slack does. Returns Slack-style error strings."""
    checker = _BlockChecker(known_file_ids)
    if not isinstance(blocks, list):
        checker.err("must be an array", pointer)
        return checker.errors
    if len(blocks) > max_blocks:
        checker.err(f"must be less than {max_blocks + 1} items", pointer)
    for i, blk in enumerate(blocks):
        checker.block(blk, f"{pointer}/{i}")
    return checker.errors


def validate_view(view: Any, *, known_file_ids: Iterable[str] | None = None) -> list[str]:
    """Validate a modal view (views.open / views.push / views.update)."""
    errors: list[str] = []
    if not isinstance(view, dict):
        return ["must be a view object [json-pointer:/view]"]
    checker = _BlockChecker(known_file_ids)
    if view.get("type") != "modal":
        checker.err("must be modal", "/view/type")
    checker.text(view.get("title"), "/view/title", limit=24, plain_only=True)
    for key in ("submit", "close"):
        if key in view:
            checker.text(view[key], f"/view/{key}", limit=24, plain_only=True)
    checker.max_len(view.get("callback_id"), 255, "/view/callback_id")
    checker.max_len(view.get("external_id"), 255, "/view/external_id")
    pm = view.get("private_metadata")
    if pm is not None and not isinstance(pm, str):
        checker.err("must be a string", "/view/private_metadata")
    checker.max_len(pm, 3000, "/view/private_metadata")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        checker.err("must be an array", "/view/blocks")
    else:
        if len(blocks) > 100:
            checker.err("must be less than 101 items", "/view/blocks")
        for i, blk in enumerate(blocks):
            checker.block(blk, f"/view/blocks/{i}")
        if any(isinstance(b, dict) and b.get("type") == "input" for b in blocks) and "submit" not in view:
            checker.err("submit is required when an input block is within the blocks array", "/view")
    errors.extend(checker.errors)
    return errors
