"""Finding what an id names, in the workspace the request came from and nowhere else."""

from __future__ import annotations

from bot.domain import ImageSet, SessionKey, StoredImage
from bot.errors import BotError, ErrorKind
from bot.ports import ImageRepository


async def image_here(images: ImageRepository, image_id: str, where: SessionKey) -> StoredImage:
    """An image of the workspace of `where`; any other id is 'not found'."""
    image = await images.image(image_id, within=where)
    if image is None:
        raise BotError(ErrorKind.NOT_FOUND, f"No image with id `{image_id}`.")
    return image


async def set_here(images: ImageRepository, set_id: str, where: SessionKey) -> ImageSet:
    """A set of the workspace of `where`; any other id is 'not found'."""
    image_set = await images.image_set(set_id, within=where)
    if image_set is None:
        raise BotError(ErrorKind.NOT_FOUND, f"Set `{set_id}` is not stored here.")
    return image_set


async def members_of(images: ImageRepository, image_set: ImageSet, where: SessionKey) -> list[StoredImage]:
    return [await image_here(images, image_id, where) for image_id in image_set.image_ids]


def requester_label(image: StoredImage) -> str:
    """Who made an image, as captions name them (their display name at the time)."""
    return image.params.requester_name or image.requester.split(":", 1)[-1]
