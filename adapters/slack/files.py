"""Fetching the files people share in a session thread, as core `Attachment`s.

The bot token goes only to Slack's own file hosts (or the configured SLACK_API_URL host, for
tests and proxies), never to a host a redirect points at. Files that are not PNG, JPEG or WebP
images, or that say they are too big, are refused from their metadata before anything is
downloaded; a download is read in chunks and abandoned as soon as it passes the limit, whatever
the metadata or the Content-Length said.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import slack_error
from bot.domain import Attachment
from bot.errors import BotError, ErrorKind, invalid
from bot.imaging import DEFAULT_MAX_BYTES
from bot.text import display_text

log = logging.getLogger(f"imagebot.{__name__}")

SLACK_FILE_DOMAINS = ("slack.com", "slack-edge.com", "slack-gov.com")
MAX_REDIRECTS = 3
_IMAGE_HINT = "attach PNG, JPEG or WebP images, or reply with text only"
# What the core can use (bot/imaging/ decodes the bytes again; this only saves the download).
IMAGE_MIMETYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/pjpeg", "image/webp"})
IMAGE_FILETYPES = frozenset({"png", "jpg", "jpeg", "webp"})
CHUNK_BYTES = 64 * 1024


def _human(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def _name(file: Mapping[str, Any], default: str) -> str:
    """The file's name as the person gave it, safe to show (one line, no control characters)."""
    return display_text(str(file.get("name") or file.get("title") or ""), 120) or default


def _declared_size(file: Mapping[str, Any]) -> int | None:
    size = file.get("size")
    if isinstance(size, bool):
        return None
    if isinstance(size, int):
        return size
    if isinstance(size, str) and size.isascii() and size.isdigit():
        return int(size)
    return None


class FileFetcher:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        api_url: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = 60.0,
    ) -> None:
        self.client = client
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._extra_host = urllib.parse.urlsplit(api_url).netloc.lower() if api_url else None

    def token_allowed(self, url: str) -> bool:
        """Whether the bot token may be sent to `url`: Slack's file hosts over HTTPS, or the host
        of SLACK_API_URL when one is configured."""
        parts = urllib.parse.urlsplit(url)
        host = parts.netloc.lower()
        if self._extra_host and host == self._extra_host and parts.scheme in ("http", "https"):
            return True
        hostname = (parts.hostname or "").lower()
        return parts.scheme == "https" and any(
            hostname == d or hostname.endswith("." + d) for d in SLACK_FILE_DOMAINS
        )

    async def fetch_all(self, files: Iterable[Mapping[str, Any]]) -> list[Attachment]:
        """Every file as an Attachment; BotError (with a message for the person) on the first
        that is not an image or cannot be fetched. Metadata is checked for all files first, so a
        PDF next to a photo is refused before the photo is downloaded."""
        complete = [await self._complete(f) for f in files]
        for file in complete:
            self._check_metadata(file)
        if not complete:
            return []
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            return [await self._download(http, file) for file in complete]

    async def _complete(self, file: Mapping[str, Any]) -> Mapping[str, Any]:
        # Some events carry a stub ("file_access": "check_file_info") instead of the file object.
        if file.get("url_private_download") or file.get("url_private") or not file.get("id"):
            return file
        try:
            response = await self.client.files_info(file=str(file["id"]))
        except SlackApiError as error:
            raise BotError(
                ErrorKind.INVALID_INPUT,
                f"I could not read the file you shared ({slack_error(error)}).",
            ) from None
        return response.get("file") or file

    def _check_metadata(self, file: Mapping[str, Any]) -> None:
        name = _name(file, "the file")
        if file.get("mode") == "tombstone" or file.get("file_access") == "file_not_found":
            raise invalid(f"{name} was deleted before I could read it.")
        mimetype = str(file.get("mimetype") or "").lower()
        filetype = str(file.get("filetype") or "").lower()
        kind = display_text(str(file.get("pretty_type") or filetype or mimetype or "unknown type"), 40)
        if not mimetype.startswith("image/") and filetype not in IMAGE_FILETYPES:
            raise invalid(f"{name} is not an image ({kind}); {_IMAGE_HINT}.")
        if mimetype not in IMAGE_MIMETYPES and filetype not in IMAGE_FILETYPES:
            raise invalid(f"{name} is an image I can't use ({kind}); {_IMAGE_HINT}.")
        size = _declared_size(file)
        if size is not None and size > self.max_bytes:
            raise invalid(f"{name} is {_human(size)}; images must be under {_human(self.max_bytes)}.")
        if not (file.get("url_private_download") or file.get("url_private")):
            raise invalid(f"Slack did not give me a download link for {name}.")

    async def _download(self, http: aiohttp.ClientSession, file: Mapping[str, Any]) -> Attachment:
        name = _name(file, "upload")
        too_big = f"{name} is over {_human(self.max_bytes)}; images must be smaller."
        url = str(file.get("url_private_download") or file.get("url_private"))
        cannot = f"I could not download {name} from Slack"
        if not self.token_allowed(url):
            raise BotError(ErrorKind.INVALID_INPUT, f"{cannot}: its link is not on a Slack file host.")
        for _ in range(MAX_REDIRECTS + 1):
            # The token rides only on requests to Slack's own hosts, never along a redirect elsewhere.
            headers = {"Authorization": f"Bearer {self.client.token}"} if self.token_allowed(url) else {}
            if not headers and urllib.parse.urlsplit(url).scheme != "https":
                raise BotError(ErrorKind.UNAVAILABLE, f"{cannot}: it redirected to an insecure link.")
            try:
                async with http.get(url, headers=headers, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                        url = urllib.parse.urljoin(url, response.headers["Location"])
                        continue
                    if response.status != 200:
                        raise BotError(
                            ErrorKind.UNAVAILABLE, f"{cannot} (HTTP {response.status}); try again."
                        )
                    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                    if content_type == "text/html":
                        # What Slack sends instead of the bytes when the token lacks files:read.
                        raise BotError(
                            ErrorKind.INTERNAL,
                            f"{cannot}: Slack answered with a sign-in page. The app needs the files:read"
                            " scope; an admin can add it and reinstall the app.",
                        )
                    if response.content_length is not None and response.content_length > self.max_bytes:
                        raise invalid(too_big)  # said up front: not a byte of the body is read
                    data = await self._read_capped(response.content)
                    if data is None:
                        # Leaving the block closes the connection: the rest is never received.
                        raise invalid(too_big)
            except aiohttp.ClientError as error:
                log.warning("download of a shared file failed: %s", type(error).__name__)
                raise BotError(ErrorKind.UNAVAILABLE, f"{cannot}; try again.") from None
            return Attachment(name, data, content_type or None)
        raise BotError(ErrorKind.UNAVAILABLE, f"{cannot}: too many redirects.")

    async def _read_capped(self, stream: aiohttp.StreamReader) -> bytes | None:
        """The whole body, or None as soon as it passes `max_bytes` (at most one byte more is
        ever held). One `read(n)` returns whatever has arrived so far, hence the loop."""
        data = bytearray()
        while True:
            chunk = await stream.read(min(CHUNK_BYTES, self.max_bytes + 1 - len(data)))
            if not chunk:
                return bytes(data)
            data += chunk
            if len(data) > self.max_bytes:
                return None
