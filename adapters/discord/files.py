"""Fetching the files people attach on Discord, as core `Attachment`s.

Discord states each file's name, type and size before anything is downloaded, so a file that
is not an image, or is over the limit, is refused from that alone, and the person is told why.
The stated size can be wrong, so the download is capped as well: it stops one byte past the
limit, and no more than that is ever held in memory.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Sequence

import aiohttp
import discord

from bot.domain import Attachment
from bot.errors import BotError, ErrorKind, invalid
from bot.imaging import DEFAULT_MAX_BYTES
from bot.text import display_text

log = logging.getLogger(f"imagebot.{__name__}")

IMAGE_HINT = "I can use PNG, JPEG or WebP"
CHUNK = 64 * 1024


def human_bytes(n: int) -> str:
    """ "61.2 MB", "50 MB", "12 KB" (binary units, as Discord counts them)."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def shown_name(attachment: discord.Attachment) -> str:
    return display_text(attachment.filename, 80) or "the file"


def is_image(attachment: discord.Attachment) -> bool:
    """By the type Discord declares, or by the file name when it declares none. Which image
    format it really is the core decides from the bytes (and explains GIFs, HEICs…)."""
    declared = (attachment.content_type or "").split(";")[0].strip().lower()
    kind = declared or mimetypes.guess_type(attachment.filename)[0] or ""
    return kind.startswith("image/")


class AttachmentReader:
    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = 60.0) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout

    def check(self, attachment: discord.Attachment) -> None:
        """Refuse from the metadata alone: not an image, or declared over the limit."""
        name = shown_name(attachment)
        if not is_image(attachment):
            raise invalid(f"{name} is not an image; {IMAGE_HINT}.")
        if attachment.size > self.max_bytes:
            raise invalid(
                f"{name} is {human_bytes(attachment.size)}; images must be under "
                f"{human_bytes(self.max_bytes)}."
            )

    async def read_all(self, attachments: Sequence[discord.Attachment]) -> list[Attachment]:
        """Every attachment's bytes; BotError (meant for the person) on the first that cannot be
        used. All are checked before any is downloaded, so a PDF next to a photo costs nothing."""
        for attachment in attachments:
            self.check(attachment)
        if not attachments:
            return []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:
            return [await self._download(http, attachment) for attachment in attachments]

    async def _download(self, http: aiohttp.ClientSession, attachment: discord.Attachment) -> Attachment:
        name = shown_name(attachment)
        too_big = invalid(f"{name} is over {human_bytes(self.max_bytes)}; images must be smaller.")
        cannot = f"I could not download {name} from Discord"
        try:
            async with http.get(attachment.url) as response:
                if response.status != 200:
                    raise BotError(ErrorKind.UNAVAILABLE, f"{cannot} (HTTP {response.status}); try again.")
                if response.content_length is not None and response.content_length > self.max_bytes:
                    raise too_big
                data = bytearray()
                # Ask for at most one byte past the limit: that byte proves the file too big.
                while chunk := await response.content.read(min(CHUNK, self.max_bytes + 1 - len(data))):
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise too_big
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("download of a Discord attachment failed: %s", type(error).__name__)
            raise BotError(ErrorKind.UNAVAILABLE, f"{cannot}; try again.") from None
        return Attachment(attachment.filename, bytes(data), attachment.content_type)
