"""House styles: a look a person or the whole team keeps, by name (issue 11, item 1).

A style is a name, a text fragment and up to four reference images, kept by one person or by the
workspace (admins make and change the workspace's). It is saved from a thread (its current image
and that image's prompt's style words), from uploads, from stored images (`--from ID`) or from
words alone; listed, shown, renamed and deleted here. How a style changes a request is one rule,
in bot/style_apply.py; which style a request gets (a typed `--style`, else a saved default) is
decided here.

Names are unique per scope whatever their case; a person's own style shadows the workspace's of
the same name for them. Reference images are stored images (blobs, by id): deleting a style
never deletes an image.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot import exact_text, imaging
from bot.answers import Caption, Images, ImageView, Notice, Outcome
from bot.directives import check_name, take_workspace_flag
from bot.domain import Attachment, Operation, SessionKey, StoredImage, UserRef
from bot.errors import BotError, ErrorKind, invalid
from bot.lookup import image_here
from bot.ports import Storage
from bot.preferences import SCOPES, layered, scope_key
from bot.replies import view_of
from bot.style_apply import OFF, style_words, unknown_style
from bot.style_records import MAX_STYLE_IMAGES, STYLE_TEXT_MAX_CHARS, Style, StyleScope
from bot.submission import decode_all, upload_record
from bot.text import display_text

ACTIONS = ("list", "save", "show", "words", "rename", "delete")
# Phones and some desktops turn -- into an em dash, as bot.directives also accepts.
_FROM_FLAG = re.compile(r"(?<!\S)(?:--|\u2014)from(?:=|\s+)(\S+)", re.IGNORECASE)
_TEXT_FILL = re.compile(r"^text=\s*([\"\u201c'])(.*)([\"\u201d'])$", re.DOTALL)


@dataclass(frozen=True)
class StyleChoice:
    """The style a request uses (None: none), and what to say about it under the queued line."""

    style: Style | None
    note: str | None = None


@dataclass(frozen=True)
class SaveAsk:
    """What `style save NAME ...` asked for, read from the rest of its line."""

    text: str | None  # None: take the image's style words
    from_ids: tuple[str, ...]
    workspace: bool


def read_save(words: str) -> SaveAsk:
    """`[--workspace] [--from ID ...] [text="..." | words]`: the words, quoted or not, are the text."""
    rest, workspace = take_workspace_flag(words)
    from_ids = tuple(m.group(1).strip("`#") for m in _FROM_FLAG.finditer(rest))
    rest = " ".join(_FROM_FLAG.sub(" ", rest).split())
    quoted = _TEXT_FILL.match(rest)
    if quoted:
        rest = quoted.group(2)
    return SaveAsk(rest.strip() if rest.strip() or quoted else None, from_ids, workspace)


class Styles:
    def __init__(self, store: Storage, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock

    # --- which style a request uses ---------------------------------------------------------------
    async def visible(self, actor: UserRef, where: SessionKey) -> list[Style]:
        return await self.store.styles.visible(where.platform, where.workspace, actor.key)

    async def find(self, actor: UserRef, where: SessionKey, name: str) -> Style:
        """The person's own style of that name, else the workspace's; or 'no style named …'."""
        styles = await self.visible(actor, where)
        named = [s for s in styles if s.name.lower() == name.lower()]
        named.sort(key=lambda s: s.scope.is_workspace)  # their own first
        if not named:
            raise unknown_style(name, styles)
        return named[0]

    async def for_request(
        self, actor: UserRef, where: SessionKey, asked: str | None, *, use_default: bool
    ) -> StyleChoice:
        """A typed `--style NAME` (`none`: no style), else the saved default (/imagine only)."""
        if asked is not None:
            return StyleChoice(None if asked.lower() == OFF else await self.find(actor, where, asked))
        if not use_default:
            return StyleChoice(None)
        layers = await self.store.preferences.get_many([scope_key(s, actor, where) for s in SCOPES])
        default = layered(*layers).style
        if default is None or default.lower() == OFF:
            return StyleChoice(None)
        try:
            return StyleChoice(await self.find(actor, where, default))
        except BotError:
            # A default whose style was deleted or renamed must not block every /imagine here.
            return StyleChoice(
                None, f"The default style `{default}` no longer exists, so no style was applied."
            )

    async def check_default(self, actor: UserRef, where: SessionKey, layer: str, name: str) -> str:
        """/settings LAYER --style NAME: the name a layer may hold (a channel's or workspace's
        default must be a workspace style, which everyone there can use)."""
        if name.lower() == OFF:
            return OFF
        style = await self.find(actor, where, name)
        if layer != "me" and not style.scope.is_workspace:
            raise invalid(
                f"style `{style.name}` is yours alone; a {layer} default must be a workspace style"
                " (admins: `style save NAME --workspace`)"
            )
        return style.name

    # --- the style command ----------------------------------------------------------------------
    async def command(
        self,
        actor: UserRef,
        where: SessionKey,
        action: str,
        name: str,
        words: str,
        uploads: Sequence[Attachment] = (),
    ) -> Outcome:
        """`style list|save|show|words|rename|delete ...`: one sub-word, then its arguments."""
        action = (action or "list").lower()
        if action not in ACTIONS:
            raise invalid(f"style {action!r}: use one of {', '.join(ACTIONS)}")
        if action == "list":
            return await self.list(actor, where)
        if not name:
            example = {
                "rename": "style rename OLD NEW",
                "save": "style save NAME soft light, film grain",
                "words": "style words NAME soft light, film grain",
            }
            raise invalid(
                f"style {action} needs a name, e.g. `{example.get(action, f'style {action} NAME')}`"
            )
        if action == "save":
            return await self.save(actor, where, name, read_save(words), uploads)
        if uploads:
            raise invalid(f"style {action} takes no images; attach them to `style save`")
        if action == "show":
            return await self.show(actor, where, name)
        if action == "rename":
            return await self.rename(actor, where, name, words)
        if action == "words":
            return await self.reword(actor, where, name, words)
        return await self.delete(actor, where, name)

    async def save(
        self, actor: UserRef, where: SessionKey, name: str, ask: SaveAsk, uploads: Sequence[Attachment]
    ) -> Notice:
        """Everything checked before anything is stored; the style and its uploads in one write."""
        check_name(name, "style")
        if name.lower() == OFF:
            raise invalid(f"{OFF!r} turns styles off (`--style {OFF}`); pick another name")
        if ask.workspace and not actor.is_admin:
            raise BotError(ErrorKind.FORBIDDEN, "Only admins can save workspace styles.")
        scope = StyleScope.of(where, None if ask.workspace else actor)
        given = len(uploads) + len(ask.from_ids)
        if given > MAX_STYLE_IMAGES:
            raise invalid(f"a style holds at most {MAX_STYLE_IMAGES} reference images; {given} were given")
        if any(s.scope == scope and s.name.lower() == name.lower() for s in await self.visible(actor, where)):
            raise invalid(_taken(name, scope))
        stored = [await image_here(self.store.images, image_id, where) for image_id in ask.from_ids]
        if not stored and not uploads:
            stored = await self._current_image(where)
        text = ask.text if ask.text is not None else _words_of(stored)
        text = display_text(text)
        if len(text) > STYLE_TEXT_MAX_CHARS:
            raise invalid(f"the style's text is {len(text)} characters; at most {STYLE_TEXT_MAX_CHARS}")
        decoded = await decode_all(uploads)
        if not text and not stored and not decoded:
            raise invalid(
                "a style needs words or images: `style save NAME soft light, film grain`, attach"
                " images, or save it in a thread that has an image"
            )
        added = []
        if decoded:
            session = await self.store.images.session_for(where)
            for attachment, image in decoded:
                blob = await self.store.blobs.put(image.data)  # bytes first; rows name them after
                added.append(upload_record(session.id, actor, attachment, image, blob, self.clock()))
        ids = [i.id for i in stored] + [i.id for i in added]
        if not await self.store.styles.add(scope, name, text, added, ids, actor.key, self.clock()):
            raise invalid(_taken(name, scope))  # saved by someone else in the meantime
        whose = "the workspace's style" if scope.is_workspace else "your style"
        words = f"“{display_text(text, 120)}”" if text else "no words"
        return Notice(f"Saved {whose} `{name}`: {words}, {_count(len(ids))}. Use it with `--style {name}`.")

    async def _current_image(self, where: SessionKey) -> list[StoredImage]:
        session = await self.store.images.find_session(where)
        if session is None:
            return []
        if session.awaiting_pick:
            raise invalid("pick one image first (U1, U2, …), or name one with `--from ID`")
        if session.current_image_id is None:
            return []
        return [await image_here(self.store.images, session.current_image_id, where)]

    async def list(self, actor: UserRef, where: SessionKey) -> Notice:
        styles = await self.visible(actor, where)
        if not styles:
            return Notice("No styles here yet. Save one with `style save NAME soft light, film grain`.")
        lines = ["Styles you can use here (`--style NAME`):"]
        for style in styles:
            whose = " (workspace)" if style.scope.is_workspace else ""
            words = f"“{display_text(style.text, 80)}”" if style.text else "no words"
            lines.append(f"• `{style.name}`{whose}: {words}, {_count(len(style.image_ids))}")
        return Notice("\n".join(lines))

    async def show(self, actor: UserRef, where: SessionKey, name: str) -> Outcome:
        """The style's words, and its reference images as a small grid."""
        style = await self.find(actor, where, name)
        whose = "workspace style" if style.scope.is_workspace else "style"
        ids = ", ".join(f"`{i}`" for i in style.image_ids) or "none"
        text = (
            f"🎨 {whose} `{style.name}`: “{display_text(style.text, 300)}”\n"
            f"Reference images: {ids}. Use it with `--style {style.name}`."
        )
        if not style.image_ids:
            return Notice(text)
        images = [await image_here(self.store.images, i, where) for i in style.image_ids]
        views = [await view_of(image, self.store.blobs) for image in images]
        grid, width, height = await imaging.offload(_grid_of, [v.data for v in views])
        caption = Caption(f"style {style.name}", style.text, "", f"{len(views)} references", actor.label)
        name_of = f"imagebot-style-{style.name}.{imaging.GRID_EXTENSION}"
        view = ImageView(f"style-{style.name}", name_of, grid, imaging.GRID_MIME, width, height)
        return Images(text=text, caption=caption, images=(view,))

    async def rename(self, actor: UserRef, where: SessionKey, old: str, new: str) -> Notice:
        new = new.strip()
        if not new or " " in new:
            raise invalid("style rename takes the old name and one new name, e.g. `style rename brnd brand`")
        check_name(new, "style")
        if new.lower() == OFF:
            raise invalid(f"{OFF!r} turns styles off; pick another name")
        style = self._may_change(actor, await self.find(actor, where, old))
        if new.lower() != style.name.lower() and any(
            s.scope == style.scope and s.name.lower() == new.lower() for s in await self.visible(actor, where)
        ):
            raise invalid(_taken(new, style.scope))
        if not await self.store.styles.rename(style.id, new, self.clock()):
            raise invalid(_taken(new, style.scope))
        return Notice(f"Renamed style `{style.name}` to `{new}`.")

    async def reword(self, actor: UserRef, where: SessionKey, name: str, words: str) -> Notice:
        """New words for a style; its reference images stay (images made with it keep theirs)."""
        text = display_text(words)
        if len(text) > STYLE_TEXT_MAX_CHARS:
            raise invalid(f"the style's text is {len(text)} characters; at most {STYLE_TEXT_MAX_CHARS}")
        style = self._may_change(actor, await self.find(actor, where, name))
        if not text and not style.image_ids:
            raise invalid(
                f"style {style.name} has no reference images, so it needs words:"
                f" `style words {style.name} soft light, film grain`"
            )
        await self.store.styles.set_text(style.id, text, self.clock())
        said = f"“{text}”" if text else "no words (its reference images only)"
        return Notice(f"Style `{style.name}` now adds {said}.")

    async def delete(self, actor: UserRef, where: SessionKey, name: str) -> Notice:
        style = self._may_change(actor, await self.find(actor, where, name))
        await self.store.styles.delete(style.id)
        return Notice(f"Deleted style `{style.name}`; images made with it stay.")

    @staticmethod
    def _may_change(actor: UserRef, style: Style) -> Style:
        if style.scope.is_workspace and not actor.is_admin:
            raise BotError(ErrorKind.FORBIDDEN, f"Only admins can change the workspace style `{style.name}`.")
        return style


def _taken(name: str, scope: StyleScope) -> str:
    whose = "the workspace already has" if scope.is_workspace else "you already have"
    return f"{whose} a style named `{name}` (names ignore case): pick another name, or delete that one first"


def _words_of(images: Sequence[StoredImage]) -> str:
    """The style words of the first image made from a prompt (an upload's "prompt" is its file
    name); the --text sentence is the image's words, not its look."""
    made = next((i for i in images if i.operation is not Operation.UPLOAD), None)
    return style_words(exact_text.without_texts(made.prompt)) if made is not None else ""


def _grid_of(images: list[bytes]) -> tuple[bytes, int, int]:
    grid = imaging.make_grid(images)
    _, width, height = imaging.probe(grid)
    return grid, width, height


def _count(n: int) -> str:
    return f"{n} reference image{'s' * (n != 1)}"
