"""The registry's handlers that are a thin call into one use case each (bot.commands declares
the commands; the handlers that need the registry itself, /build and /help, stay there)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.answers import Outcome
from bot.command_model import Call
from bot.directives import take_workspace_flag
from bot.domain import OptionOverrides
from bot.errors import invalid
from bot.replies import error_reply

if TYPE_CHECKING:
    from bot.service import ImageBot

REFERENCES = ("reference1", "reference2", "reference3")  # /imagine's image fields, in order


async def on_imagine(bot: ImageBot, call: Call) -> Outcome:
    overrides = OptionOverrides(
        aspect=call.text("aspect") or None,
        n=call.number("n"),
        quality=call.text("quality") or None,
        model=call.text("model") or None,
        output_format=call.text("format") or None,
        background=call.text("background") or None,
    )
    references = [image for name in REFERENCES if (image := call.image(name)) is not None]
    return await bot.imagine(
        call.actor, call.where, call.text("prompt"), overrides, references, open_session=call.open_session
    )


async def on_edit(bot: ImageBot, call: Call) -> Outcome:
    image, instruction = call.image("image"), call.text("instruction")
    if image is None and instruction and await bot.session_state(call.where) is not None:
        # "@imagebot edit make it blue" in a session thread, no file: as a reply, the current image
        return await bot.reply(call.actor, call.where, instruction)
    if image is None:
        return error_reply(invalid("Attach the image to edit."))
    return await bot.edit_upload(
        call.actor,
        call.where,
        image,
        instruction,
        call.image("mask"),
        open_session=call.open_session,
    )


async def on_blend(bot: ImageBot, call: Call) -> Outcome:
    overrides = OptionOverrides(aspect=call.text("aspect") or None)
    images, text = call.images("image"), call.text("prompt")
    return await bot.blend(call.actor, call.where, images, text, overrides, open_session=call.open_session)


async def on_describe(bot: ImageBot, call: Call) -> Outcome:
    return await bot.describe(call.actor, call.where, call.image("image"))


async def on_settings(bot: ImageBot, call: Call) -> Outcome:
    scope, changes = call.text("scope").lower(), call.text("changes")
    if scope and changes:
        return await bot.update_settings(call.actor, call.where, scope, changes)
    return await bot.settings_view(call.actor, call.where)


async def on_show(bot: ImageBot, call: Call) -> Outcome:
    return await bot.show(call.actor, call.where, call.text("id"), open_session=call.open_session)


async def on_history(bot: ImageBot, call: Call) -> Outcome:
    return await bot.history(call.actor, call.where, mine=call.switch("mine"))


async def on_queue(bot: ImageBot, call: Call) -> Outcome:
    return await bot.queue(call.actor, call.where)


async def on_cancel(bot: ImageBot, call: Call) -> Outcome:
    return await bot.cancel(call.actor, call.where, call.text("job") or None)


async def on_usage(bot: ImageBot, call: Call) -> Outcome:
    return await bot.usage(call.actor, call.where)


async def on_template(bot: ImageBot, call: Call) -> Outcome:
    # On text surfaces --workspace arrives among the words; on Discord it is a field.
    words, shared = take_workspace_flag(f"{call.text('name')} {call.text('text')}")
    action = call.text("action")
    return await bot.template(
        call.actor, call.where, action, words, workspace=shared or call.switch("workspace")
    )
