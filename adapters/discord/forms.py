"""Registry commands asked in a form (`Command.form`, e.g. /build): the modal made from the
command's arguments, and its custom_id, which carries the command and the slash options given.

A form must be the first answer to the slash command, so nothing about it is kept in memory: the
submit names the command and repeats the options in its custom_id (read back by `read_form_id`),
which keeps a form submitted after a restart working.
"""

from __future__ import annotations

from collections.abc import Mapping

import discord

from adapters.discord.components import MODAL_PREFIX
from bot.command_model import Arg, Command
from bot.errors import invalid

FORM_KIND = "cmd"
CUSTOM_ID_MAX = 100  # Discord's limit for a modal's custom_id
FIELDS_MAX = 5  # Discord's limit for a modal's top-level components
LABEL_MAX = 45
PLACEHOLDER_MAX = 100
VALUE_MAX = 4000


def slash_args(command: Command) -> tuple[Arg, ...]:
    """The arguments offered as slash-command options: a form command's field-only ones (the
    rest are its form's fields), every argument of any other command."""
    if command.form is None:
        return command.args
    return tuple(a for a in command.args if a.field_only)


def form_args(command: Command) -> tuple[Arg, ...]:
    return tuple(a for a in command.args if not a.field_only)


def form_id(command: Command, options: Mapping[str, object]) -> str:
    """The modal's custom_id: `ib-form:cmd:<command>[:<option>=<value>]...`. Each option value is
    first checked by its argument's own check (a BotError to show); one that cannot travel in a
    custom_id (a colon, too long) is refused too."""
    parts = [f"{MODAL_PREFIX}{FORM_KIND}", command.name]
    for arg in slash_args(command):
        value = options.get(arg.name)
        if value is None or value == "":
            continue
        text = str(value).strip()
        if arg.check is not None:
            arg.check(text)
        if ":" in text:
            raise invalid(f"The {arg.name} cannot hold ':'.")
        parts.append(f"{arg.name}={text}")
    custom_id = ":".join(parts)
    if len(custom_id) > CUSTOM_ID_MAX:
        raise invalid(f"Those options are too long for a form; shorten the {parts[-1].partition('=')[0]}.")
    return custom_id


def read_form_id(custom_id: str) -> tuple[str, dict[str, str]] | None:
    """(command name, options given) from a form's custom_id; None if it is not a command form."""
    prefix = f"{MODAL_PREFIX}{FORM_KIND}:"
    if not custom_id.startswith(prefix):
        return None
    name, *given = custom_id.removeprefix(prefix).split(":")
    options = {}
    for item in given:
        key, equals, value = item.partition("=")
        if not equals:
            return None
        options[key] = value
    return name, options


def command_form(command: Command, custom_id: str) -> discord.ui.Modal:
    """The modal asking a form command's fields, in the registry's order."""
    fields = form_args(command)
    if not 1 <= len(fields) <= FIELDS_MAX:
        raise ValueError(f"/{command.name}'s form has {len(fields)} fields; a modal holds 1 to {FIELDS_MAX}")
    modal = discord.ui.Modal(
        title=(command.form or command.name)[:LABEL_MAX], custom_id=custom_id, timeout=None
    )
    for arg in fields:
        modal.add_item(
            discord.ui.TextInput(
                label=arg.description[:LABEL_MAX],
                custom_id=arg.name,
                style=discord.TextStyle.paragraph,
                placeholder=(f"e.g. {arg.example}"[:PLACEHOLDER_MAX] if arg.example else None),
                required=arg.required,
                max_length=VALUE_MAX,
            )
        )
    return modal
