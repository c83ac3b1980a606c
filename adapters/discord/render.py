"""Core replies → Discord messages: the core's plan for the files, notes and text
(bot/outbound.py, given Discord's limits) as `discord.File`s and content, and button rows
within Discord's 5 rows of 5."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import discord

from adapters.discord.components import ImagebotButton
from bot import outbound
from bot.answers import Button, Images, ImageView, Outcome

MAX_CONTENT = 2000
MAX_FILES = 10
MAX_ROWS = 5
ROW_WIDTH = 5


@dataclass
class MessageParts:
    content: str
    files: list[discord.File] = field(default_factory=list)
    view: discord.ui.View | None = None

    def as_send_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"content": self.content}
        if self.files:
            kwargs["files"] = self.files
        if self.view is not None:
            kwargs["view"] = self.view
        return kwargs

    def as_edit_kwargs(self) -> dict[str, Any]:
        # An edit replaces attachments and components wholesale, so always pass both.
        return {"content": self.content, "attachments": self.files, "view": self.view}


def button_rows(buttons: tuple[Button, ...]) -> list[tuple[Button, ...]]:
    """Discord's rows: at most 5 buttons to a row and 5 rows to a message."""
    return outbound.button_rows(buttons, width=ROW_WIDTH, max_rows=MAX_ROWS)


def build_view(buttons: tuple[Button, ...]) -> discord.ui.View | None:
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for index, row in enumerate(button_rows(buttons)):
        for button in row:
            view.add_item(ImagebotButton.from_button(button, row=index))
    return view


def trim(text: str, limit: int = MAX_CONTENT) -> str:
    return outbound.trim(text, limit)


def limits(file_limit: int) -> outbound.Limits:
    """Discord's limits for one message: `file_limit` bytes a file (the interaction says how
    many), 10 files, 2000 characters."""
    return outbound.Limits(upload_bytes=file_limit, files=MAX_FILES, text=MAX_CONTENT)


def note_line(note: str) -> str:
    return f"-# {note}"  # Discord's small grey subtext


async def render(reply: Outcome, *, file_limit: int) -> MessageParts:
    """A whole message for an outcome: for images, the grid for a set, else the single image(s)."""
    text = reply.text
    grid: ImageView | None = None
    images: tuple[ImageView, ...] = ()
    notes: tuple[str, ...] = ()
    if isinstance(reply, Images):
        # The caption quotes the prompt: as plain text here, never markdown (no masked links).
        caption = reply.caption
        text = text.replace(caption.render(), caption.render(escape=discord.utils.escape_markdown))
        grid, images, notes = reply.grid, reply.images, reply.notes
    plan = await outbound.plan_message(
        text, limits=limits(file_limit), grid=grid, images=images, notes=notes, note=note_line
    )
    files = [discord.File(io.BytesIO(upload.data), filename=upload.filename) for upload in plan.files]
    return MessageParts(plan.text, files, build_view(reply.buttons))
