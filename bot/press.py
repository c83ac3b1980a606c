"""What each button does: the verb → handler table behind `ImageBot.press`.

A click arrives as a decoded `ButtonId` (bot.buttons); its handler finds what the id names in the
clicker's workspace, checks who may press it, and runs the use case. Verbs that open a form
(Edit…) have no handler: the adapter opens the form, and its submit is the request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from bot import sizes
from bot.answers import Notice, Outcome
from bot.buttons import ButtonId, Verb
from bot.choosing import OptionChooser
from bot.config import Settings
from bot.domain import Operation, SessionKey, StoredImage, UserRef
from bot.errors import BotError, ErrorKind, invalid
from bot.jobs import JobRunner
from bot.lookup import image_here, set_here
from bot.model_catalog import model_info
from bot.parts import set_options
from bot.policy import Policy
from bot.ports import Storage
from bot.reports import Reports
from bot.sessions import Sessions, index_in_set
from bot.submission import Request, Submitter

ZOOM_FACTORS = {"1.5": 1.5, "2": 2.0}
_FINISHES = {
    Verb.UPSCALE: Operation.UPSCALE,
    Verb.ZOOM: Operation.ZOOM_OUT,
    Verb.ASPECT: Operation.ASPECT,
    Verb.NOBG: Operation.REMOVE_BG,
}


class Buttons:
    def __init__(
        self,
        settings: Settings,
        store: Storage,
        runner: JobRunner,
        policy: Policy,
        chooser: OptionChooser,
        submitter: Submitter,
        sessions: Sessions,
        reports: Reports,
    ) -> None:
        self.settings = settings
        self.store = store
        self.runner = runner
        self.policy = policy
        self.chooser = chooser
        self.submitter = submitter
        self.sessions = sessions
        self.reports = reports

    async def press(self, actor: UserRef, where: SessionKey, button: ButtonId) -> Outcome:
        """A click, decoded: run its verb's handler (a second press finds the job already on it)."""
        active = self.runner.active_job_for_origin(button.encode())
        if active is not None:
            return Notice(f"Already on it: job `{active}` is working on that.", job_id=active)
        handler = HANDLERS.get(button.verb)
        if handler is None:  # a verb that opens a form: the adapter opens it, its submit is the request
            raise invalid(f"The {button.verb.value} button opens a form; it does nothing by itself.")
        return await handler(self, actor, where, button)

    # --- a set's buttons: U1..Un, V1..Vn --------------------------------------------------------
    async def _set_member(
        self, actor: UserRef, where: SessionKey, button: ButtonId
    ) -> tuple[StoredImage, int]:
        image_set = await set_here(self.store.images, button.target, where)
        self.policy.check_may_press(actor, image_set.requester)
        index = index_in_set(button.arg, len(image_set.image_ids))
        return await image_here(self.store.images, image_set.image_ids[index - 1], where), index

    async def _select(self, actor: UserRef, where: SessionKey, button: ButtonId) -> Outcome:
        image, index = await self._set_member(actor, where, button)
        session = await self.store.images.session_for(where)
        return await self.sessions.make_current(session, image, f"👉 Image {index}")

    async def _vary_member(self, actor: UserRef, where: SessionKey, button: ButtonId) -> Outcome:
        image, _ = await self._set_member(actor, where, button)
        return await self._vary(actor, where, image, Operation.VARY_STRONG, button.encode())

    # --- jobs -----------------------------------------------------------------------------------
    async def _retry(self, actor: UserRef, where: SessionKey, button: ButtonId) -> Outcome:
        return await self.submitter.retry(actor, where, button.target)

    async def _cancel(self, actor: UserRef, where: SessionKey, button: ButtonId) -> Outcome:
        return await self.reports.cancel(actor, where, button.target)

    # --- a single image's buttons ---------------------------------------------------------------
    async def _pressed_image(self, actor: UserRef, where: SessionKey, button: ButtonId) -> StoredImage:
        image = await image_here(self.store.images, button.target, where)
        self.policy.check_may_press(actor, image.requester)
        return image

    async def _use(self, actor: UserRef, where: SessionKey, button: ButtonId) -> Outcome:
        image = await self._pressed_image(actor, where, button)
        session = await self.store.images.session_for(where)
        return await self.sessions.make_current(session, image, "👉 Current image")

    async def _undo(self, actor: UserRef, where: SessionKey, button: ButtonId) -> Outcome:
        image = await self._pressed_image(actor, where, button)
        session = await self.store.images.session_for(where)
        return await self.sessions.undo(session, image)

    async def _vary_image(self, actor: UserRef, where: SessionKey, button: ButtonId) -> Outcome:
        image = await self._pressed_image(actor, where, button)
        op = Operation.VARY_SUBTLE if button.verb is Verb.VARY_SUBTLE else Operation.VARY_STRONG
        return await self._vary(actor, where, image, op, button.encode())

    async def _finish_image(self, actor: UserRef, where: SessionKey, button: ButtonId) -> Outcome:
        """Upscale, zoom out, change aspect, remove background: one render from the image."""
        image = await self._pressed_image(actor, where, button)
        op = _FINISHES[button.verb]
        zoom = aspect = None
        if op is Operation.ZOOM_OUT:
            zoom = ZOOM_FACTORS.get(button.arg or "2")
            if zoom is None:
                raise invalid("Zoom out works at 1.5× or 2×.")
        if op is Operation.ASPECT:
            aspect = button.arg or "1:1"
        return await self._finish(actor, where, image, op, button.encode(), zoom=zoom, aspect=aspect)

    async def _vary(
        self, actor: UserRef, where: SessionKey, image: StoredImage, op: Operation, origin: str
    ) -> Outcome:
        # Variations are new renders: an upscaled image is varied at its aspect's everyday size
        # (as --ar picks it), never at the upscale's size and cost by accident.
        size = (image.width, image.height)
        if _is_upscaled(image):
            size = sizes.standard_size_like(image.width, image.height, self.chooser.model_of(image))
        chosen = self.chooser.like(image, n=self.settings.imagebot_default_n, size=size)
        request = Request(op, image.prompt, chosen, sources=(image.id,), origin=origin)
        return await self.submitter.submit(actor, where, request)

    async def _finish(
        self,
        actor: UserRef,
        where: SessionKey,
        image: StoredImage,
        op: Operation,
        origin: str,
        *,
        zoom: float | None = None,
        aspect: str | None = None,
    ) -> Outcome:
        chosen = self.chooser.like(image, n=1)
        info = model_info(chosen.model)
        if info is None:  # the options were resolved against the model table, so this is a bug
            raise BotError(ErrorKind.INTERNAL, f"Unknown model {chosen.model}.")
        # Plan now, so an impossible request ("already square") is refused before it is queued
        # and the queued message names the size that will really be made.
        if op is Operation.UPSCALE:
            target = sizes.upscale_target(image.width, image.height, info) or sizes.local_upscale_size(
                image.width, image.height
            )
            chosen = dataclasses.replace(chosen, size=f"{target[0]}x{target[1]}")
        if op in (Operation.ZOOM_OUT, Operation.ASPECT):
            if op is Operation.ZOOM_OUT:
                placement = sizes.zoom_placement(image.width, image.height, zoom or 2.0, info)
            else:
                placement = sizes.aspect_placement(image.width, image.height, aspect or "1:1", info)
            chosen = dataclasses.replace(chosen, size=f"{placement.canvas_width}x{placement.canvas_height}")
        if op is Operation.REMOVE_BG:
            chosen = dataclasses.replace(
                chosen, background="transparent", output_format="png", compression=None
            )
        request = Request(
            op, image.prompt, chosen, sources=(image.id,), origin=origin, zoom=zoom, aspect=aspect
        )
        return await self.submitter.submit(actor, where, request)

    async def _reroll(self, actor: UserRef, where: SessionKey, button: ButtonId) -> Outcome:
        target, origin = button.target, button.encode()
        image_set = await self.store.images.image_set(target, within=where)
        first = await image_here(self.store.images, image_set.image_ids[0] if image_set else target, where)
        self.policy.check_may_press(actor, first.requester)
        made_by = (
            await self.store.jobs.get(image_set.job_id, within=where)
            if image_set and image_set.job_id
            else None
        )
        if image_set is not None and made_by is not None and made_by.spec.parts:
            # A comparison (or a pack) again: every part once more, as one new set.
            parts = made_by.spec.parts
            again = Request(
                Operation.REROLL, image_set.prompt, set_options(parts), parts=parts, origin=origin
            )
            return await self.submitter.submit(actor, where, again)
        chosen = self.chooser.like(first, n=len(image_set.image_ids) if image_set else 1)
        # The same request again: a new prompt roll for generations, the same operation on the
        # same inputs for everything else (variations of variations, a fresh take on an edit).
        fresh = first.operation in (Operation.IMAGINE, Operation.REROLL)
        op = Operation.REROLL if fresh else first.operation
        request = Request(op, first.prompt, chosen, sources=first.parents, origin=origin)
        return await self.submitter.submit(actor, where, request)


Handler = Callable[[Buttons, UserRef, SessionKey, ButtonId], Awaitable[Outcome]]
HANDLERS: dict[Verb, Handler] = {
    Verb.U: Buttons._select,
    Verb.V: Buttons._vary_member,
    Verb.REROLL: Buttons._reroll,
    Verb.RETRY: Buttons._retry,
    Verb.CANCEL: Buttons._cancel,
    Verb.USE: Buttons._use,
    Verb.UNDO: Buttons._undo,
    Verb.VARY_SUBTLE: Buttons._vary_image,
    Verb.VARY_STRONG: Buttons._vary_image,
    Verb.UPSCALE: Buttons._finish_image,
    Verb.ZOOM: Buttons._finish_image,
    Verb.ASPECT: Buttons._finish_image,
    Verb.NOBG: Buttons._finish_image,
}


def _is_upscaled(image: StoredImage) -> bool:
    """An upscale, or an edit/zoom/reframe/cut-out of one (they keep its size)."""
    return image.operation is Operation.UPSCALE or image.params.upscaled
