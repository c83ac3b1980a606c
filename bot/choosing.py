"""Choosing a request's options: what was typed, over saved defaults, over what an image keeps."""

from __future__ import annotations

from bot import options
from bot.config import Settings
from bot.domain import ImageOptions, OptionOverrides, SessionKey, StoredImage, UserRef
from bot.model_catalog import MODELS, ModelInfo, model_info
from bot.ports import PreferenceRepository
from bot.preferences import SCOPES, combine, layered, scope_key


class OptionChooser:
    def __init__(self, settings: Settings, preferences: PreferenceRepository) -> None:
        self.settings = settings
        self.preferences = preferences

    async def for_new_request(
        self, actor: UserRef, where: SessionKey, request: OptionOverrides
    ) -> ImageOptions:
        """The options a new /imagine gets: what the request typed, over the saved defaults
        (me > channel > workspace), over the bot's. A typed flag or option always wins."""
        layers = await self.preferences.get_many([scope_key(scope, actor, where) for scope in SCOPES])
        combined = combine(request, layered(*layers), _qualities_of)
        return self.resolve(combined.overrides, default_format=combined.default_format)

    def resolve(
        self,
        overrides: OptionOverrides,
        *,
        default_n: int | None = None,
        keep_size: tuple[int, int] | None = None,
        default_format: str | None = None,
    ) -> ImageOptions:
        base_size = None
        if keep_size is not None and overrides.size is None and overrides.aspect is None:
            base_size = f"{keep_size[0]}x{keep_size[1]}"
        return options.resolve_options(
            overrides,
            default_model=self.settings.imagebot_model,
            default_n=default_n or self.settings.imagebot_default_n,
            allowed_models=self.settings.imagebot_allowed_models or None,
            base_size=base_size,
            default_quality=self.settings.imagebot_default_quality,
            default_format=default_format or "png",
        )

    def inherited(self, image: StoredImage) -> OptionOverrides:
        """What a new render from `image` keeps unless asked otherwise: its model, quality, format
        and background (an upload has none of these, so the defaults apply)."""
        made = image.params
        return OptionOverrides(
            model=made.model or self.settings.imagebot_model,
            quality=made.quality or None,
            output_format=made.output_format or None,
            background=made.background or None,
        )

    def model_of(self, image: StoredImage) -> ModelInfo:
        info = model_info(image.params.model or self.settings.imagebot_model)
        return info or model_info(self.settings.imagebot_model) or MODELS["gpt-image-2"]

    def like(self, image: StoredImage, *, n: int, size: tuple[int, int] | None = None) -> ImageOptions:
        """Options for a button on `image`: what it inherits, at its own size unless given one."""
        return self.resolve(self.inherited(image), default_n=n, keep_size=size or (image.width, image.height))


def _qualities_of(model: str) -> frozenset[str] | None:
    info = model_info(model)
    return info.qualities if info else None
