"""What each button does: the verb → handler table behind `ImageBot.press`.

A click arrives as a decoded `ButtonId` (bot.buttons); its handler finds what the id names in the
clicker's workspace, checks who may press it, and runs the use case. Verbs that open a form
(Edit…) have no handler: the adapter opens the form, and its submit is the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.buttons import ButtonId, Verb
from bot.domain import Operation, Reply, SessionKey, StoredImage, UserRef
from bot.errors import BotError, ErrorKind, invalid

if TYPE_CHECKING:
    from bot.service import ImageBot

Handler = Callable[["ImageBot", UserRef, SessionKey, ButtonId], Awaitable[Reply]]
ZOOM_FACTORS = {"1.5": 1.5, "2": 2.0}


async def dispatch(bot: ImageBot, actor: UserRef, where: SessionKey, button: ButtonId) -> Reply:
    """Run the handler of `button`'s verb; BotError for one that has none (a form verb)."""
    handler = HANDLERS.get(button.verb)
    if handler is None:
        raise invalid(f"The {button.verb.value} button opens a form; it does nothing by itself.")
    return await handler(bot, actor, where, button)


# --- a set's buttons: U1..Un, V1..Vn ------------------------------------------------------------
async def _set_member(
    bot: ImageBot, actor: UserRef, where: SessionKey, button: ButtonId
) -> tuple[StoredImage, int]:
    image_set = await bot.store.images.image_set(button.target, within=where)
    if image_set is None:
        raise BotError(ErrorKind.NOT_FOUND, f"Set `{button.target}` is not stored here.")
    bot._check_may_press(actor, image_set.requester)
    index = image_number(button.arg, len(image_set.image_ids))
    return await bot._image(image_set.image_ids[index - 1], where), index


async def _select(bot: ImageBot, actor: UserRef, where: SessionKey, button: ButtonId) -> Reply:
    image, index = await _set_member(bot, actor, where, button)
    session = await bot.store.images.session_for(where)
    return await bot._make_current(session, image, actor, f"👉 Image {index}")


async def _vary_member(bot: ImageBot, actor: UserRef, where: SessionKey, button: ButtonId) -> Reply:
    image, _ = await _set_member(bot, actor, where, button)
    return await bot._vary(actor, where, image, Operation.VARY_STRONG, button.encode())


# --- jobs ---------------------------------------------------------------------------------------
async def _retry(bot: ImageBot, actor: UserRef, where: SessionKey, button: ButtonId) -> Reply:
    return await bot._retry(actor, where, button.target)


async def _cancel(bot: ImageBot, actor: UserRef, where: SessionKey, button: ButtonId) -> Reply:
    return await bot.cancel(actor, where, button.target)


async def _reroll(bot: ImageBot, actor: UserRef, where: SessionKey, button: ButtonId) -> Reply:
    return await bot._reroll(actor, where, button.target, button.encode())


# --- a single image's buttons -------------------------------------------------------------------
async def _pressed_image(bot: ImageBot, actor: UserRef, where: SessionKey, button: ButtonId) -> StoredImage:
    image = await bot._image(button.target, where)
    bot._check_may_press(actor, image.requester)
    return image


async def _use(bot: ImageBot, actor: UserRef, where: SessionKey, button: ButtonId) -> Reply:
    image = await _pressed_image(bot, actor, where, button)
    session = await bot.store.images.session_for(where)
    return await bot._make_current(session, image, actor, "👉 Current image")


async def _undo(bot: ImageBot, actor: UserRef, where: SessionKey, button: ButtonId) -> Reply:
    image = await _pressed_image(bot, actor, where, button)
    session = await bot.store.images.session_for(where)
    return await bot._undo(actor, session, image)


def _vary(op: Operation) -> Handler:
    async def handler(bot: ImageBot, actor: UserRef, where: SessionKey, button: ButtonId) -> Reply:
        image = await _pressed_image(bot, actor, where, button)
        return await bot._vary(actor, where, image, op, button.encode())

    return handler


def _finish(op: Operation) -> Handler:
    """Upscale, zoom out, change aspect, remove background: one render from the image."""

    async def handler(bot: ImageBot, actor: UserRef, where: SessionKey, button: ButtonId) -> Reply:
        image = await _pressed_image(bot, actor, where, button)
        zoom = aspect = None
        if op is Operation.ZOOM_OUT:
            zoom = ZOOM_FACTORS.get(button.arg or "2")
            if zoom is None:
                raise invalid("Zoom out works at 1.5× or 2×.")
        if op is Operation.ASPECT:
            aspect = button.arg or "1:1"
        return await bot._finish_op(actor, where, image, op, button.encode(), zoom=zoom, aspect=aspect)

    return handler


HANDLERS: dict[Verb, Handler] = {
    Verb.U: _select,
    Verb.V: _vary_member,
    Verb.REROLL: _reroll,
    Verb.RETRY: _retry,
    Verb.CANCEL: _cancel,
    Verb.USE: _use,
    Verb.UNDO: _undo,
    Verb.VARY_SUBTLE: _vary(Operation.VARY_SUBTLE),
    Verb.VARY_STRONG: _vary(Operation.VARY_STRONG),
    Verb.UPSCALE: _finish(Operation.UPSCALE),
    Verb.ZOOM: _finish(Operation.ZOOM_OUT),
    Verb.ASPECT: _finish(Operation.ASPECT),
    Verb.NOBG: _finish(Operation.REMOVE_BG),
}


def image_number(arg: str | None, count: int) -> int:
    """Which image of a set of `count` the argument names (1-based), or why it names none."""
    try:
        index = int(arg or "")
    except ValueError:
        raise invalid("Which image? Use a number like U2.") from None
    if not 1 <= index <= count:
        raise invalid(f"There is no image {index} here: this set has {count} images (1–{count}).")
    return index
