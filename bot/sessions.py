"""A thread as an editing session: reply routing, picking from a set, undo, show and history."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.answers import Notice, Outcome, Problem
from bot.buttons import Verb
from bot.domain import Attachment, Session, SessionKey, StoredImage, UserRef
from bot.errors import BotError, ErrorKind, invalid
from bot.generating import Generating
from bot.lookup import image_here, members_of, requester_label, set_here
from bot.ports import Storage
from bot.replies import set_buttons, set_reply, single_reply
from bot.submission import OpenSession
from bot.text import display_text

_PICK = re.compile(r"^\s*#(\d+)\b\s*(.*)$", re.DOTALL)


class Sessions:
    def __init__(self, store: Storage, generating: Generating) -> None:
        self.store = store
        self.generating = generating

    async def reply(
        self, actor: UserRef, where: SessionKey, text: str, attachments: Sequence[Attachment] = ()
    ) -> Outcome:
        """A reply in a session thread: edit the current image (README: "Refine in the thread")."""
        session = await self.store.images.find_session(where)
        if session is None or (session.current_image_id is None and session.last_set_id is None):
            raise invalid("There is no image in this thread yet: start with /imagine <prompt>.")
        if text.strip().lower() == "undo":
            return await self.undo(session)
        picked = _PICK.match(text)
        if picked:
            target = await self._pick(session, int(picked.group(1)))
            text = picked.group(2)
            if not text.strip() and not attachments:
                return await self.make_current(session, target, "👉 Selected")
        elif session.awaiting_pick:
            return await self._ask_which(session)
        else:
            current = await self.store.images.image(session.current_image_id or "", within=where)
            if current is None:
                raise invalid("There is no current image in this thread: pick one or /imagine anew.")
            target = current
        return await self.generating.edit_image(actor, where, target, text, attachments)

    async def edit_image(self, actor: UserRef, where: SessionKey, image_id: str, instruction: str) -> Outcome:
        """The Edit… form: an instruction applied to a given image of this place."""
        image = await image_here(self.store.images, image_id, where)
        return await self.generating.edit_image(actor, where, image, instruction)

    async def make_current(self, session: Session, image: StoredImage, headline: str) -> Outcome:
        await self.store.images.set_current(session.id, image.id, awaiting_pick=False)
        return await single_reply(image, self.store.blobs, requester_label(image), headline)

    async def undo(self, session: Session, image: StoredImage | None = None) -> Outcome:
        current = image or await self.store.images.image(session.current_image_id or "", within=session.key)
        if current is None:
            raise invalid("Nothing to undo: there is no current image in this thread.")
        if not current.parents:
            raise invalid(f"Nothing to undo: `{current.id}` is where this thread's history starts.")
        parent = await image_here(self.store.images, current.parents[0], session.key)
        return await self.make_current(session, parent, f"↩️ Back to `{parent.id}`")

    async def _pick(self, session: Session, number: int) -> StoredImage:
        if session.last_set_id is None:
            raise invalid("There is no multi-image result in this thread to pick from.")
        image_set = await set_here(self.store.images, session.last_set_id, session.key)
        index = index_in_set(str(number), len(image_set.image_ids))
        return await image_here(self.store.images, image_set.image_ids[index - 1], session.key)

    async def _ask_which(self, session: Session) -> Outcome:
        image_set = await set_here(self.store.images, session.last_set_id or "", session.key)
        count = len(image_set.image_ids)
        picks = tuple(b for b in set_buttons(image_set) if b.verb is Verb.U)
        # Not a failure of the bot, but the line did not do what it asked until a pick is made.
        return Problem(
            ErrorKind.INVALID_INPUT,
            f"Which image should I change? Pick one (U1–U{count}), or start your reply with #N, e.g. `#2 {''}make it warmer`.",
            buttons=picks,
        )

    async def show(
        self, actor: UserRef, where: SessionKey, ident: str, open_session: OpenSession | None = None
    ) -> Outcome:
        """/show <id>: re-post an image (and make it current here) or a whole set, with buttons.

        `open_session` (as for imagine) is called only once the id is known to exist."""
        ident = ident.strip().lstrip("`#")
        images = self.store.images
        image = await images.image(ident, within=where)
        image_set = None if image is not None else await images.image_set(ident, within=where)
        if (image is not None or image_set is not None) and open_session is not None:
            where = await open_session()
        if image is not None:
            session = await images.session_for(where)
            return await self.make_current(session, image, f"🖼️ `{image.id}`")
        if image_set is not None:
            members = await members_of(images, image_set, where)
            label = requester_label(members[0])
            return await set_reply(image_set, members, self.store.blobs, label, "🖼️ Set")
        raise BotError(ErrorKind.NOT_FOUND, f"No image or set with id `{ident}`; /history lists them.")

    async def history(
        self, actor: UserRef, where: SessionKey, *, mine: bool = False, limit: int = 10
    ) -> Outcome:
        """/history: this thread's images (or mine), newest first, with ids for /show."""
        session = await self.store.images.find_session(where)
        if mine or session is None:
            images = await self.store.images.requester_history(actor.key, within=where, limit=limit)
            title = "Your recent images"
        else:
            images = await self.store.images.session_history(session.id, limit=limit)
            title = "This thread's images"
        if not images:
            return Notice(f"{title}: none yet. Start with /imagine <prompt>.")
        current = session.current_image_id if session else None
        lines = [f"{title} (newest first):"]
        for image in images:
            marker = " ← current" if image.id == current else ""
            where_in_set = f" #{image.set_index} of set `{image.set_id}`" if image.set_id else ""
            lines.append(
                f"`{image.id}` {image.operation.value} {image.size}{where_in_set} “{display_text(image.prompt, 60)}”{marker}"
            )
        return Notice("\n".join(lines))


def index_in_set(arg: str | None, count: int) -> int:
    """The 1-based image number a button or #N names, checked against the set's size."""
    try:
        index = int(arg or "")
    except ValueError:
        raise invalid("Which image? Use a number like U2.") from None
    if not 1 <= index <= count:
        raise invalid(f"There is no image {index} here: this set has {count} images (1–{count}).")
    return index
