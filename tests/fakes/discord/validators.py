"""Request validation shared by the routes: embeds, components, modals, commands, options and
thread bodies, with Discord's form-error paths."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from .constants import (
    COMMAND_NAME_RE,
    I_DIRECT_MESSAGES,
    I_GUILD_MESSAGES,
    I_GUILDS,
    I_MESSAGE_CONTENT,
    INTERACTIVE_TYPES,
    SELECT_TYPES,
    V2_TOP_LEVEL_TYPES,
)
from .records import _FormErrors, _walk_components

# ---------------------------------------------------------------------- module helpers


def _without(obj: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in obj.items() if k not in keys}


def _bad_flags(path: Sequence[str], message: str = "Invalid message flags") -> None:
    errors = _FormErrors()
    errors.add(path, "MESSAGE_FLAGS_INVALID", message)
    errors.raise_if_any()


def _option_spec(specs: list[dict[str, Any]] | None, name: str) -> dict[str, Any] | None:
    return next((s for s in specs or [] if s["name"] == name), None)


def _infer_option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    if isinstance(value, str):
        return 3
    if isinstance(value, Mapping):
        if "filename" in value and "url" in value:
            return 11
        if "username" in value:
            return 6
        if "permissions" in value and "position" in value and "type" not in value:
            return 8
        if "type" in value:
            return 7
    raise ValueError(f"cannot infer an option type for {value!r}; sync the command first")


def _visible_to(intents: int, event: str, payload: dict[str, Any], bot_id: str) -> dict[str, Any] | None:
    if event in ("READY", "RESUMED", "INTERACTION_CREATE"):
        return payload
    if event.startswith(("GUILD_", "CHANNEL_", "THREAD_")) and not intents & I_GUILDS:
        return None
    if event.startswith("MESSAGE_"):
        needed = I_GUILD_MESSAGES if payload.get("guild_id") else I_DIRECT_MESSAGES
        if not intents & needed:
            return None
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and not intents & I_MESSAGE_CONTENT:
            author = payload.get("author", {}).get("id")
            mentioned = any(m.get("id") == bot_id for m in payload.get("mentions", []))
            if author != bot_id and not mentioned and payload.get("guild_id"):
                payload = {**payload, "content": "", "embeds": [], "attachments": [], "components": []}
    return payload


def _validate_embeds(embeds: Any, path: tuple[str, ...], errors: _FormErrors) -> None:
    if not isinstance(embeds, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
        return
    if len(embeds) > 10:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    limits = {"title": 256, "description": 4096}
    for i, embed in enumerate(embeds):
        for key, hi in limits.items():
            value = embed.get(key) or ""
            total += len(value)
            if len(value) > hi:
                errors.add((*path, i, key), "BASE_TYPE_MAX_LENGTH", f"Must be {hi} or fewer in length.")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.add((*path, i, "fields"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, fld in enumerate(fields):
            for key, hi in (("name", 256), ("value", 1024)):
                value = str(fld.get(key) or "")
                total += len(value)
                if not value:
                    errors.add((*path, i, "fields", j, key), "BASE_TYPE_REQUIRED", "This field is required")
                elif len(value) > hi:
                    errors.add(
                        (*path, i, "fields", j, key),
                        "BASE_TYPE_MAX_LENGTH",
                        f"Must be {hi} or fewer in length.",
                    )
        for key, sub, hi in (("footer", "text", 2048), ("author", "name", 256)):
            value = (embed.get(key) or {}).get(sub) or ""
            total += len(value)
            if len(value) > hi:
                errors.add((*path, i, key, sub), "BASE_TYPE_MAX_LENGTH", f"Must be {hi} or fewer in length.")
    if total > 6000:
        errors.add(path, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _validate_components(components: Any, path: tuple[str, ...], errors: _FormErrors, *, v2: bool) -> None:
    if not isinstance(components, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
        return
    custom_ids: set[str] = set()
    if v2:
        total = sum(1 for _ in _walk_components(components))
        if total > 40:
            errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in length.")
        for i, comp in enumerate(components):
            if comp.get("type") not in V2_TOP_LEVEL_TYPES:
                errors.add(
                    (*path, i, "type"),
                    "UNION_TYPE_CHOICES",
                    f'Value of field "type" must be one of {sorted(V2_TOP_LEVEL_TYPES)}.',
                )
        for comp in _walk_components(components):
            if comp.get("type") in INTERACTIVE_TYPES:
                _validate_interactive(comp, path, errors, custom_ids)
        return
    if len(components) > 5:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for i, row in enumerate(components):
        rpath = (*path, i)
        if row.get("type") != 1:
            errors.add(
                (*rpath, "type"),
                "COMPONENT_TYPE_INVALID",
                "Top level components must be action rows (type 1).",
            )
            continue
        children = row.get("components")
        if not isinstance(children, list) or not 1 <= len(children) <= 5:
            errors.add((*rpath, "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
            continue
        kinds = {c.get("type") for c in children}
        if kinds & SELECT_TYPES and len(children) > 1:
            errors.add(
                (*rpath, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        if kinds - {2} - SELECT_TYPES:
            errors.add(
                (*rpath, "components"),
                "COMPONENT_TYPE_INVALID",
                "Action rows in messages hold buttons or one select.",
            )
        for j, comp in enumerate(children):
            _validate_interactive(comp, (*rpath, "components", j), errors, custom_ids)


def _validate_interactive(
    comp: dict[str, Any], path: tuple, errors: _FormErrors, custom_ids: set[str]
) -> None:
    ctype = comp.get("type")
    needs_custom_id = True
    if ctype == 2:
        style = comp.get("style")
        if style not in (1, 2, 3, 4, 5, 6):
            errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3, 4, 5, 6).")
        label = comp.get("label")
        if label is not None and len(label) > 80:
            errors.add((*path, "label"), "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length.")
        if style == 5:
            needs_custom_id = False
            url = comp.get("url")
            if not url or len(url) > 512:
                errors.add((*path, "url"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 512 in length.")
            if comp.get("custom_id"):
                errors.add(
                    (*path, "custom_id"),
                    "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                    "Link buttons cannot have a custom_id",
                )
        elif style == 6:
            needs_custom_id = False
            if not comp.get("sku_id"):
                errors.add((*path, "sku_id"), "BASE_TYPE_REQUIRED", "This field is required")
        elif not label and not comp.get("emoji"):
            errors.add(
                (*path, "label"),
                "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED",
                "A label or an emoji is required",
            )
    elif ctype in SELECT_TYPES:
        placeholder = comp.get("placeholder")
        if placeholder is not None and len(placeholder) > 150:
            errors.add((*path, "placeholder"), "BASE_TYPE_MAX_LENGTH", "Must be 150 or fewer in length.")
        lo, hi = comp.get("min_values", 1), comp.get("max_values", 1)
        if not 0 <= lo <= 25 or not 1 <= hi <= 25 or lo > hi:
            errors.add(
                (*path, "max_values"), "SELECT_COMPONENT_VALUES_INVALID", "min_values/max_values out of range"
            )
        if ctype == 3:
            options = comp.get("options")
            errors.length((*path, "options"), options, 1, 25)
            for k, opt in enumerate(options or []):
                for key in ("label", "value"):
                    errors.length((*path, "options", k, key), opt.get(key), 1, 100)
    cid = comp.get("custom_id")
    if needs_custom_id:
        if not isinstance(cid, str) or not 1 <= len(cid) <= 100:
            errors.add((*path, "custom_id"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        elif cid in custom_ids:
            errors.add(
                (*path, "custom_id"),
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        else:
            custom_ids.add(cid)


def _validate_modal(data: dict[str, Any]) -> None:
    errors = _FormErrors()
    p = ("data",)
    errors.length((*p, "custom_id"), data.get("custom_id"), 1, 100)
    errors.length((*p, "title"), data.get("title"), 1, 45)
    components = data.get("components")
    errors.length((*p, "components"), components, 1, 5)
    custom_ids: set[str] = set()
    for i, comp in enumerate(components or []):
        cpath = (*p, "components", i)
        if comp.get("type") == 1:
            children = comp.get("components") or []
            if len(children) != 1 or children[0].get("type") != 4:
                errors.add(cpath, "MODAL_ACTION_ROW_INVALID", "Modal action rows hold exactly one text input")
                continue
            _validate_text_input(children[0], (*cpath, "components", 0), errors, custom_ids, needs_label=True)
        elif comp.get("type") == 18:
            errors.length((*cpath, "label"), comp.get("label"), 1, 45)
            inner = comp.get("component") or {}
            if inner.get("type") == 4:
                _validate_text_input(inner, (*cpath, "component"), errors, custom_ids, needs_label=False)
            elif inner.get("type") in SELECT_TYPES | {19}:
                _validate_interactive(inner, (*cpath, "component"), errors, custom_ids)
            else:
                errors.add(
                    (*cpath, "component", "type"), "COMPONENT_TYPE_INVALID", "Invalid component in label"
                )
        elif comp.get("type") != 10:
            errors.add(
                (*cpath, "type"), "COMPONENT_TYPE_INVALID", "Modals hold action rows, labels or text displays"
            )
    errors.raise_if_any()


def _validate_text_input(
    comp: dict, path: tuple, errors: _FormErrors, ids: set[str], *, needs_label: bool
) -> None:
    _validate_interactive(comp, path, errors, ids)
    if needs_label:
        errors.length((*path, "label"), comp.get("label"), 1, 45)
    if comp.get("style") not in (1, 2):
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2).")
    lo, hi = comp.get("min_length", 0), comp.get("max_length", 4000)
    if not 0 <= lo <= 4000 or not 1 <= hi <= 4000 or lo > hi:
        errors.add((*path, "max_length"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 4000.")
    for key, limit in (("value", 4000), ("placeholder", 100)):
        value = comp.get(key)
        if value is not None and len(value) > limit:
            errors.add((*path, key), "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _validate_command(cmd: Any, path: tuple[str, ...], errors: _FormErrors) -> None:
    if not isinstance(cmd, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    ctype = cmd.get("type", 1)
    name = cmd.get("name")
    description = cmd.get("description", "")
    if ctype == 1:
        _validate_chat_name(name, (*path, "name"), errors)
        errors.length((*path, "description"), description, 1, 100)
    elif ctype in (2, 3):
        errors.length((*path, "name"), name, 1, 32)
        if description:
            errors.add(
                (*path, "description"),
                "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                "Context menu commands cannot have a description",
            )
        if cmd.get("options"):
            errors.add(
                (*path, "options"),
                "APPLICATION_COMMAND_CONTEXT_MENU_OPTIONS",
                "Context menu commands cannot have options",
            )
    elif ctype != 4:
        errors.add((*path, "type"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3, 4).")
    _validate_options(cmd.get("options") or [], (*path, "options"), errors, depth=0)


def _validate_chat_name(name: Any, path: tuple, errors: _FormErrors) -> None:
    if not isinstance(name, str) or not COMMAND_NAME_RE.fullmatch(name):
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    elif name != name.lower():
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name must be lowercase")


def _validate_options(options: list[Any], path: tuple, errors: _FormErrors, *, depth: int) -> None:
    if len(options) > 25:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    seen_optional = False
    names: set[str] = set()
    for i, opt in enumerate(options):
        opath = (*path, i)
        otype = opt.get("type")
        if otype not in range(1, 12):
            errors.add((*opath, "type"), "BASE_TYPE_CHOICES", "Value must be one of 1..11.")
            continue
        _validate_chat_name(opt.get("name"), (*opath, "name"), errors)
        errors.length((*opath, "description"), opt.get("description"), 1, 100)
        if opt.get("name") in names:
            errors.add(
                (*opath, "name"), "APPLICATION_COMMAND_OPTION_NAME_NOT_UNIQUE", "Option names must be unique"
            )
        names.add(opt.get("name"))
        if otype in (1, 2):
            if depth >= (1 if otype == 2 else 2):
                errors.add(
                    (*opath, "type"),
                    "APPLICATION_COMMAND_OPTION_INVALID_NESTING",
                    "Subcommands nested too deeply",
                )
            _validate_options(opt.get("options") or [], (*opath, "options"), errors, depth=depth + 1)
            continue
        if opt.get("required"):
            if seen_optional:
                errors.add(
                    (*opath, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = opt.get("choices")
        if choices is not None:
            errors.length((*opath, "choices"), choices, 0, 25)
            if opt.get("autocomplete"):
                errors.add(
                    (*opath, "autocomplete"),
                    "APPLICATION_COMMAND_AUTOCOMPLETE_CHOICES",
                    "Autocomplete and choices are exclusive",
                )


def _validate_thread_body(body: dict[str, Any], *, with_type: bool) -> None:
    errors = _FormErrors()
    errors.length(("name",), body.get("name"), 1, 100)
    duration = body.get("auto_archive_duration")
    if duration is not None and duration not in (60, 1440, 4320, 10080):
        errors.add(
            ("auto_archive_duration",), "BASE_TYPE_CHOICES", "Value must be one of (60, 1440, 4320, 10080)."
        )
    if with_type and body.get("type") not in (None, 10, 11, 12):
        errors.add(("type",), "BASE_TYPE_CHOICES", "Value must be one of (10, 11, 12).")
    slowmode = body.get("rate_limit_per_user")
    if slowmode is not None and not 0 <= int(slowmode) <= 21600:
        errors.add(
            ("rate_limit_per_user",), "NUMBER_TYPE_MAX", "int value should be less than or equal to 21600."
        )
    errors.raise_if_any()
