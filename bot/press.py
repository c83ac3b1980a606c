"""What each button does: U/V on a set, reroll, the finishing buttons on one image, retry, cancel."""

from __future__ import annotations

import dataclasses

from bot import sizes
from bot.choosing import OptionChooser
from bot.config import Settings
from bot.domain import Operation, Reply, SessionKey, StoredImage, UserRef
from bot.errors import BotError, ErrorKind, invalid
from bot.jobs import JobRunner
from bot.lookup import image_here, set_here
from bot.model_catalog import model_info
from bot.policy import Policy
from bot.ports import Storage
from bot.reports import Reports
from bot.sessions import Sessions, index_in_set
from bot.submission import Request, Submitter


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

    async def press(self, actor: UserRef, where: SessionKey, custom_id: str) -> Reply:
        """A button click (or its console word), identified by the button's custom_id."""
        parts = custom_id.split(":")
        if len(parts) < 3 or parts[0] != "ib":
            raise invalid("That button is not one of mine.")
        # The argument may itself hold colons (an aspect such as 1:1), so it is the rest.
        verb, target, arg = parts[1], parts[2], (":".join(parts[3:]) if len(parts) > 3 else None)
        active = self.runner.active_job_for_origin(custom_id)
        if active is not None:
            return Reply(
                text=f"Already on it: job `{active}` is working on that.", ephemeral=True, job_id=active
            )
        return await self._press(actor, where, verb, target, arg, custom_id)

    async def _press(
        self, actor: UserRef, where: SessionKey, verb: str, target: str, arg: str | None, origin: str
    ) -> Reply:
        if verb in ("u", "v"):
            image_set = await set_here(self.store.images, target, where)
            self.policy.check_may_press(actor, image_set.requester)
            index = index_in_set(arg, len(image_set.image_ids))
            image = await image_here(self.store.images, image_set.image_ids[index - 1], where)
            if verb == "u":
                session = await self.store.images.session_for(where)
                return await self.sessions.make_current(session, image, f"👉 Image {index}")
            return await self._vary(actor, where, image, Operation.VARY_STRONG, origin)
        if verb == "retry":
            return await self.submitter.retry(actor, where, target)
        if verb == "cancel":
            return await self.reports.cancel(actor, where, target)
        if verb == "reroll":
            return await self._reroll(actor, where, target, origin)
        image = await image_here(self.store.images, target, where)
        self.policy.check_may_press(actor, image.requester)
        if verb == "use":
            session = await self.store.images.session_for(where)
            return await self.sessions.make_current(session, image, "👉 Current image")
        if verb == "undo":
            session = await self.store.images.session_for(where)
            return await self.sessions.undo(session, image)
        if verb in ("vary-subtle", "vary-strong"):
            op = Operation.VARY_SUBTLE if verb == "vary-subtle" else Operation.VARY_STRONG
            return await self._vary(actor, where, image, op, origin)
        if verb == "upscale":
            return await self._finish(actor, where, image, Operation.UPSCALE, origin)
        if verb == "zoom":
            factor = {"1.5": 1.5, "2": 2.0}.get(arg or "2")
            if factor is None:
                raise invalid("Zoom out works at 1.5× or 2×.")
            return await self._finish(actor, where, image, Operation.ZOOM_OUT, origin, zoom=factor)
        if verb == "aspect":
            return await self._finish(actor, where, image, Operation.ASPECT, origin, aspect=arg or "1:1")
        if verb == "nobg":
            return await self._finish(actor, where, image, Operation.REMOVE_BG, origin)
        if verb == "edit":
            return Reply(
                text="Reply in the thread with what to change, or use the Edit… form.", ephemeral=True
            )
        raise invalid(f"Unknown button action {verb!r}.")

    async def _vary(
        self, actor: UserRef, where: SessionKey, image: StoredImage, op: Operation, origin: str
    ) -> Reply:
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
    ) -> Reply:
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

    async def _reroll(self, actor: UserRef, where: SessionKey, target: str, origin: str) -> Reply:
        image_set = await self.store.images.image_set(target, within=where)
        first = await image_here(self.store.images, image_set.image_ids[0] if image_set else target, where)
        self.policy.check_may_press(actor, first.requester)
        chosen = self.chooser.like(first, n=len(image_set.image_ids) if image_set else 1)
        # The same request again: a new prompt roll for generations, the same operation on the
        # same inputs for everything else (variations of variations, a fresh take on an edit).
        fresh = first.operation in (Operation.IMAGINE, Operation.REROLL)
        op = Operation.REROLL if fresh else first.operation
        request = Request(op, first.prompt, chosen, sources=first.parents, origin=origin)
        return await self.submitter.submit(actor, where, request)


def _is_upscaled(image: StoredImage) -> bool:
    """An upscale, or an edit/zoom/reframe/cut-out of one (they keep its size)."""
    return image.operation is Operation.UPSCALE or image.params.upscaled
