"""Core replies → Discord messages: content within 2000 characters, files under the upload
limit, and button rows within Discord's 5 rows of 5."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field

import discord

from adapters.discord.components import ImagebotButton
from bot import imaging
from bot.domain import Button, ImageView, Reply

MAX_CONTENT = 2000
MAX_ROWS = 5
ROW_WIDTH = 5


@dataclass
class MessageParts:
    content: str
    files: list[discord.File] = field(default_factory=list)
    view: discord.ui.View | None = None

    def as_send_kwargs(self) -> dict:
        kwargs: dict = {"content": self.content}
        if self.files:
            kwargs["files"] = self.files
        if self.view is not None:
            kwargs["view"] = self.view
        return kwargs

    def as_edit_kwargs(self) -> dict:
        # An edit replaces attachments and components wholesale, so always pass both.
        return {"content": self.content, "attachments": self.files, "view": self.view}


def button_rows(buttons: tuple[Button, ...]) -> list[list[Button]]:
    """Group buttons into rows: each kind (U, V, the rest) starts a row, at most 5 to a row."""
    rows: list[list[Button]] = []
    family = None
    for button in buttons:
        kind = button.verb if button.verb in ("u", "v") else "other"
        if not rows or kind != family or len(rows[-1]) >= ROW_WIDTH:
            rows.append([])
            family = kind
        rows[-1].append(button)
    if len(rows) > MAX_ROWS:  # too many families: pack tightly instead
        flat = [b for row in rows for b in row]
        rows = [flat[i : i + ROW_WIDTH] for i in range(0, len(flat), ROW_WIDTH)][:MAX_ROWS]
    return rows


def build_view(buttons: tuple[Button, ...]) -> discord.ui.View | None:
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for index, row in enumerate(button_rows(buttons)):
        for button in row:
            view.add_item(ImagebotButton.from_button(button, row=index))
    return view


def trim(text: str, limit: int = MAX_CONTENT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def fitted_file(view: ImageView, limit: int) -> tuple[discord.File, str | None]:
    """The image as an upload under `limit` bytes; re-encoded (and said so) only when needed."""
    fitted = await asyncio.to_thread(imaging.fit_under, view.data, view.mime, limit)
    name = view.filename
    if fitted.reencoded:
        name = name.rsplit(".", 1)[0] + "." + fitted.extension
    return discord.File(io.BytesIO(fitted.data), filename=name), fitted.note if fitted.reencoded else None


async def render(reply: Reply, *, file_limit: int, with_images: bool = True) -> MessageParts:
    """A whole message for a reply: the grid for a set, else the single image(s)."""
    shown = [reply.grid] if reply.grid is not None else list(reply.images)
    files: list[discord.File] = []
    notes = list(reply.notes)
    if with_images:
        for view in shown[:10]:
            file, note = await fitted_file(view, file_limit)
            files.append(file)
            if note:
                notes.append(note)
    text = reply.text
    if reply.caption is not None:
        # The caption quotes the prompt: as plain text here, never markdown (no masked links).
        text = text.replace(
            reply.caption.render(), reply.caption.render(escape=discord.utils.escape_markdown)
        )
    if notes:
        text += "\n" + "\n".join(f"-# {note}" for note in notes)
    return MessageParts(trim(text), files, build_view(reply.buttons))
