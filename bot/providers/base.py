"""The provider seam: one interface for the OpenAI Images API and the offline renderer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.domain import ImageOptions, Usage

OnPartial = Callable[[bytes], Awaitable[None]]


@dataclass(frozen=True)
class InputImage:
    """An image sent to the provider; always with a filename and MIME type, as the API needs."""

    filename: str
    data: bytes
    mime: str

    def __repr__(self) -> str:  # never print image bytes
        return f"InputImage({self.filename!r}, {len(self.data)} bytes, {self.mime!r})"


@dataclass(frozen=True)
class ProviderRequest:
    kind: Literal["generate", "edit"]
    prompt: str
    options: ImageOptions
    images: tuple[InputImage, ...] = ()  # edit only: the primary image first, then references
    mask: InputImage | None = None  # edit only: PNG, alpha 0 where the image may change
    safety_identifier: str | None = None
    # The API has no seed; the offline renderer mixes this into its seed so a reroll differs.
    variation_key: str = ""


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    mime: str
    width: int
    height: int
    revised_prompt: str | None = None

    def __repr__(self) -> str:  # never print image bytes
        return f"GeneratedImage({self.width}x{self.height}, {self.mime}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class ProviderResult:
    images: tuple[GeneratedImage, ...]
    usage: Usage | None = None
    label: str | None = None  # shown with every result, e.g. "offline preview"


class Provider(Protocol):
    """Makes images. Raises `bot.errors.BotError` with a user-facing kind on failure."""

    name: str
    label: str | None  # e.g. "offline preview"; None for the real API
    charges: bool  # whether its images cost money (so jobs reserve their estimate against budgets)
    partial_images: int  # partial previews streamed per image (each one is billed)

    async def run(self, request: ProviderRequest, on_partial: OnPartial | None = None) -> ProviderResult:
        """Generate or edit; call `on_partial` with partial previews when the provider streams."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Descriptions:
    """Prompt suggestions for an image, from a vision-capable text model (or the offline one)."""

    suggestions: tuple[str, ...]
    model: str  # the text model that wrote them ("offline" for the local describer)
    usage: Usage | None = None  # the call's tokens (None: nothing billed)
    label: str | None = None  # shown with the suggestions, e.g. "offline preview"


class Describer(Protocol):
    """Turns an image into `n` prompt suggestions (/describe). A separate seam from `Provider`:
    describing calls a text model, not the Images API. Raises `bot.errors.BotError` on failure."""

    charges: bool  # whether a description costs money (so it is checked against the budgets)

    async def describe(
        self, image: InputImage, n: int, *, safety_identifier: str | None = None
    ) -> Descriptions: ...
